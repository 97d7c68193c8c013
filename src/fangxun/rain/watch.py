"""A watched folder of rain files: new files are ingested once they have stopped growing.

:class:`FolderWatcher` polls (``scan()``; the CLI calls it every ``poll_s``, well inside one
radar interval): a file is taken when its size and modification time are the same at two
consecutive scans (a file still being written is left for the next scan, so a half-written
file is never read, and never read twice), then remembered by (name, size, mtime) so it is
not read again unless it changes. A refused file is remembered too: it is retried only when
it changes.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

Signature = tuple[int, int]


@dataclass
class FolderWatcher:
    """Finds the files of ``folder`` (matching ``pattern``) that are complete and new."""

    folder: Path
    pattern: str = "*"
    seen: dict[str, Signature] = field(default_factory=dict)
    _pending: dict[str, Signature] = field(default_factory=dict)

    def _signature(self, p: Path) -> Signature | None:
        try:
            st = p.stat()
        except FileNotFoundError:
            return None
        return (st.st_size, st.st_mtime_ns)

    def scan(self) -> list[Path]:
        """The files that became ready since the last scan (name order)."""
        ready: list[Path] = []
        current: dict[str, Signature] = {}
        for p in sorted(self.folder.iterdir()):
            if not p.is_file() or p.name.startswith(".") or p.name.endswith((".part", ".tmp")):
                continue
            if not fnmatch.fnmatch(p.name, self.pattern):
                continue
            sig = self._signature(p)
            if sig is None or sig[0] == 0:
                continue
            current[p.name] = sig
            if self.seen.get(p.name) == sig:
                continue
            if self._pending.get(p.name) == sig:
                ready.append(p)
                self.seen[p.name] = sig
        self._pending = {k: v for k, v in current.items() if self.seen.get(k) != v}
        return ready

    def run_once(self, handle: Callable[[Path], object]) -> list[object]:
        """Scan and hand each ready file to ``handle``."""
        return [handle(p) for p in self.scan()]
