"""The clock of a storm replay (``fangxun demo``), shared by the story and the web server.

A replay plays observations at ``speed`` × real time and its clock runs behind the wall clock. The
story writes the replay's state to ``<data_dir>/demo/replay.json`` when it starts and when it
ends; every page reads it, so that during a replay the screens show the replay's clock (with a
"回放" badge) instead of the wall clock, and after it hold at the replay's end. A file, like the
heartbeats: the story and the web server of one installation share the data folder, and a
server without a replay simply finds no file.

>>> from datetime import UTC, datetime, timedelta
>>> import tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> current(folder) is None
True
>>> t0 = datetime(2026, 7, 20, 0, 0, tzinfo=UTC)
>>> wall = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
>>> started(folder, wall=wall, t0=t0, speed=60.0, duration_s=36000.0)
>>> state = current(folder)
>>> state.time_at(wall + timedelta(minutes=1)).isoformat()
'2026-07-20T01:00:00+00:00'
>>> ended(folder, at=t0 + timedelta(hours=10))
>>> current(folder).state, current(folder).time_at(wall).isoformat()
('ended', '2026-07-20T10:00:00+00:00')
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final, Literal

logger = logging.getLogger(__name__)

FILE_NAME: Final = "replay.json"
State = Literal["playing", "ended"]


@dataclass(frozen=True)
class ReplayState:
    """A replay: at wall-clock ``wall`` its clock read ``time`` and ran at ``speed`` × real time,
    until ``end`` (its last frame); ``state`` says whether it still plays."""

    state: State
    wall: datetime
    time: datetime
    speed: float
    end: datetime

    def time_at(self, wall: datetime) -> datetime:
        """The replay's clock at wall-clock ``wall`` (held at the end once it ended)."""
        if self.state == "ended":
            return self.end
        played = self.time + timedelta(seconds=(wall - self.wall).total_seconds() * self.speed)
        return min(max(played, self.time), self.end)

    def as_json(self, wall: datetime) -> dict[str, Any]:
        """For the pages' clocks: the replay's time now, how fast it runs, where it ends."""
        return {
            "state": self.state,
            "wall": wall.isoformat(),
            "time": self.time_at(wall).isoformat(),
            "speed": self.speed if self.state == "playing" else 0.0,
            "end": self.end.isoformat(),
        }


def state_path(data_dir: Path | str) -> Path:
    """Where the replay's state is kept."""
    return Path(data_dir) / "demo" / FILE_NAME


def _write(data_dir: Path | str, state: ReplayState) -> None:
    path = state_path(data_dir)
    body = {
        "state": state.state,
        "wall": state.wall.isoformat(),
        "time": state.time.isoformat(),
        "speed": state.speed,
        "end": state.end.isoformat(),
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(body), encoding="utf-8")
        tmp.replace(path)  # whole or not at all: a page never reads half a file
    except OSError:
        logger.warning("cannot write the replay's state to %s", path, exc_info=True)


def started(
    data_dir: Path | str, *, wall: datetime, t0: datetime, speed: float, duration_s: float
) -> None:
    """A replay starts: at wall-clock ``wall`` its clock reads ``t0``; it lasts ``duration_s`` of
    replay time."""
    end = t0 + timedelta(seconds=duration_s)
    _write(data_dir, ReplayState("playing", wall, t0, speed, end))


def ended(data_dir: Path | str, *, at: datetime) -> None:
    """The replay ended with its clock at ``at``: the screens hold there."""
    _write(data_dir, ReplayState("ended", at, at, 0.0, at))


def clear(data_dir: Path | str) -> None:
    """No replay any more (a live installation, or a new demo starting)."""
    state_path(data_dir).unlink(missing_ok=True)


def current(data_dir: Path | str) -> ReplayState | None:
    """The replay's state, or None when there is none (or the file cannot be read)."""
    path = state_path(data_dir)
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        return ReplayState(
            state=body["state"],
            wall=datetime.fromisoformat(body["wall"]),
            time=datetime.fromisoformat(body["time"]),
            speed=float(body["speed"]),
            end=datetime.fromisoformat(body["end"]),
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        logger.warning("cannot read the replay's state at %s", path, exc_info=True)
        return None


__all__ = ["ReplayState", "clear", "current", "ended", "started", "state_path"]
