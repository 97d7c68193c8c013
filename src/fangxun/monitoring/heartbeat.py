"""Heartbeats of the long-running services (ingest, warning evaluator), as file times.

Each service touches ``<data_dir>/heartbeats/<name>`` while it works (at most every
:data:`MIN_INTERVAL_S`); the web UI reads the files' modification times to tell the duty officer
when a service has gone quiet. A file, not a table: a beat costs one ``utime`` call, needs no
migration, and the services and the web server of one installation share the data folder (a
multi-host installation would point ``FANGXUN_DATA_DIR`` at shared storage).

>>> import tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> last_beat(folder, "ingest") is None
True
>>> beat(folder, "ingest", force=True)
>>> last_beat(folder, "ingest") is not None
True
"""

from __future__ import annotations

import logging
import os
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

logger = logging.getLogger(__name__)

#: The services that beat: ``fangxun ingest`` and ``fangxun warnings evaluate --every``.
INGEST: Final = "ingest"
WARNINGS: Final = "warnings"
SERVICES: Final = (INGEST, WARNINGS)
#: Shortest time between two writes of one heartbeat, s (the loops that beat run much faster).
MIN_INTERVAL_S: Final = 5.0
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,40}$")
_last_write: dict[Path, float] = {}


def heartbeat_path(data_dir: Path | str, name: str) -> Path:
    """The file of heartbeat ``name`` under ``data_dir``."""
    if not _NAME.match(name):
        raise ValueError(f"heartbeat name {name!r}: use lower-case letters, digits, - and _")
    return Path(data_dir) / "heartbeats" / name


def beat(data_dir: Path | str, name: str, *, force: bool = False) -> None:
    """Record that service ``name`` is alive now (throttled to one write per
    :data:`MIN_INTERVAL_S` unless ``force``). A folder that cannot be written is logged, never
    raised: a heartbeat must not stop the service it reports on."""
    path = heartbeat_path(data_dir, name)
    now = time.monotonic()
    if not force and now - _last_write.get(path, -MIN_INTERVAL_S) < MIN_INTERVAL_S:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
        os.utime(path)
    except OSError:
        logger.warning("cannot write heartbeat %s", path, exc_info=True)
        return
    _last_write[path] = now


def last_beat(data_dir: Path | str, name: str) -> datetime | None:
    """When service ``name`` last beat (UTC), or None when it never did in this data folder."""
    try:
        mtime = heartbeat_path(data_dir, name).stat().st_mtime
    except OSError:
        return None
    return datetime.fromtimestamp(mtime, UTC)
