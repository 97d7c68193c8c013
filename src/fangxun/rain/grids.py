"""Rain frames: one 2-D rain-rate field (mm/h) at one valid time, with its grid and CRS.

A :class:`Frame` is what every importer returns and what the nowcast, the frame store and the
reprojection onto the district grid take. Rows run north to south (row 0 is the upper edge), so
``transform`` maps (col, row) of a pixel's upper-left corner to projected x/y in metres.

>>> import numpy as np
>>> from affine import Affine
>>> from datetime import datetime, timezone
>>> f = Frame(
...     time=datetime(2026, 7, 20, 8, tzinfo=timezone.utc),
...     rate_mm_h=np.zeros((2, 3), np.float32),
...     crs=CRS.from_epsg(4547),
...     transform=Affine(1000.0, 0.0, 500000.0, 0.0, -1000.0, 3800000.0),
...     source="demo",
... )
>>> f.shape, f.x_centres()[0], f.y_centres()[0]
((2, 3), 500500.0, 3799500.0)
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

import numpy as np
import numpy.typing as npt
from affine import Affine
from pyproj import CRS

from fangxun.errors import ConflictError, ValidationFailed

FloatGrid = npt.NDArray[np.float32]
Kind = Literal["QPE", "QPF", "nowcast"]


class RainFileError(ValidationFailed):
    """A rain file that cannot be used (truncated, no CRS, wrong units, no time); the message
    names the file."""

    code = "rain_file_invalid"
    title = "Rain file refused"

    def __init__(self, path: object, reason: str) -> None:
        super().__init__(f"{path}: {reason}", loc=("file", str(path)))
        self.path = str(path)
        self.reason = reason


class RainConflictError(ConflictError):
    """A frame whose valid time is already held with different values."""

    code = "rain_frame_conflict"


@dataclass(frozen=True)
class Frame:
    """Rain rate (mm/h, float32, NaN where the radar sees nothing) on a regular projected grid.

    ``time`` is the valid time (end of the accumulation interval for accumulations), UTC.
    ``interval_s`` is the accumulation interval the file stated (None for instantaneous rates).
    ``issue_time`` is set for QPF (the model run) and nowcasts (the last observed frame).
    """

    time: datetime
    rate_mm_h: FloatGrid
    crs: CRS
    transform: Affine
    source: str
    kind: Kind = "QPE"
    issue_time: datetime | None = None
    interval_s: float | None = None
    member: int | None = None
    attrs: dict[str, object] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if self.time.tzinfo is None:
            raise ValueError(f"{self.source}: frame time must be timezone-aware")
        if self.rate_mm_h.ndim != 2:
            raise ValueError(f"{self.source}: a frame is 2-D, got shape {self.rate_mm_h.shape}")
        if self.transform.b != 0.0 or self.transform.d != 0.0:
            raise ValueError(f"{self.source}: rotated grids are not supported")

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.rate_mm_h.shape[0]), int(self.rate_mm_h.shape[1]))

    @property
    def pixel_size_m(self) -> tuple[float, float]:
        """(dx, dy) in CRS units (metres for a projected CRS), both positive."""
        return (abs(float(self.transform.a)), abs(float(self.transform.e)))

    def x_centres(self) -> npt.NDArray[np.float64]:
        """Projected x of the column centres."""
        n = self.shape[1]
        return np.asarray(self.transform.c + (np.arange(n) + 0.5) * self.transform.a, np.float64)

    def y_centres(self) -> npt.NDArray[np.float64]:
        """Projected y of the row centres (decreasing for a north-up grid)."""
        n = self.shape[0]
        return np.asarray(self.transform.f + (np.arange(n) + 0.5) * self.transform.e, np.float64)

    def same_grid(self, other: Frame) -> bool:
        """True when ``other`` lies on exactly this grid (shape, transform within 1 mm, CRS)."""
        return (
            self.shape == other.shape
            and all(abs(a - b) < 1e-3 for a, b in zip(self.transform, other.transform, strict=True))
            and self.crs == other.crs
        )


def utc(t: datetime) -> datetime:
    """``t`` in UTC; a naive time is taken as UTC (radar files state UTC)."""
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def check_sequence(frames: list[Frame]) -> tuple[list[Frame], timedelta]:
    """Sort frames by time, drop exact duplicates, and check they share one grid and interval.

    Returns ``(frames, interval)``. A time held twice with different values raises
    :class:`RainConflictError` naming both files; a frame on another grid or off the regular
    interval raises :class:`RainFileError` naming the file.
    """
    if not frames:
        raise ValidationFailed("no rain frames given", loc=("input",))
    by_time: dict[datetime, Frame] = {}
    for f in frames:
        held = by_time.get(f.time)
        if held is None:
            by_time[f.time] = f
            continue
        if not np.array_equal(held.rate_mm_h, f.rate_mm_h, equal_nan=True):
            raise RainConflictError(
                f"{f.source}: time {f.time.isoformat()} is already held from {held.source} "
                "with different values"
            )
    ordered = [by_time[t] for t in sorted(by_time)]
    first = ordered[0]
    for f in ordered[1:]:
        if not f.same_grid(first):
            raise RainFileError(f.source, f"grid differs from {first.source}")
    if len(ordered) == 1:
        return ordered, timedelta(0)
    steps = {b.time - a.time for a, b in itertools.pairwise(ordered)}
    step = min(steps)
    for a, b in itertools.pairwise(ordered):
        if (b.time - a.time) % step != timedelta(0):
            raise RainFileError(
                b.source, f"time {b.time.isoformat()} is off the {step} interval of the sequence"
            )
    return ordered, step
