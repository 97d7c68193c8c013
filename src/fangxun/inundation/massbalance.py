"""Mass balance bookkeeping in float64, whatever dtype the model runs in.

Every volume is in m³ and cumulative from the start of the run. The error is what the storage
holds minus what the sources and sinks say it should hold:

    error = storage − (initial_storage + rain + inflow − drainage − infiltration − outflow)

``inflow`` is the net volume of point inflows (withdrawals count negative) and ``outflow`` the net
volume that left through the boundary (water coming in through a fixed-stage edge counts
negative).
"""

from __future__ import annotations

from dataclasses import dataclass, field

KEYS = ("rain", "inflow", "drainage", "infiltration", "outflow", "storage", "error")
"""Keys of a mass-balance record besides ``time_s`` and ``initial_storage``."""


@dataclass
class MassBalance:
    """Running float64 totals (m³) and the series of records taken at output times."""

    initial_storage: float
    rain: float = 0.0
    inflow: float = 0.0
    drainage: float = 0.0
    infiltration: float = 0.0
    outflow: float = 0.0
    series: list[dict[str, float]] = field(default_factory=list)

    def expected_storage(self) -> float:
        """Storage (m³) the sources and sinks imply."""
        return (
            self.initial_storage
            + self.rain
            + self.inflow
            - self.drainage
            - self.infiltration
            - self.outflow
        )

    def snapshot(self, time_s: float, storage: float) -> dict[str, float]:
        """A record of the totals at ``time_s`` given the storage (m³) actually held."""
        return {
            "time_s": float(time_s),
            "rain": self.rain,
            "inflow": self.inflow,
            "drainage": self.drainage,
            "infiltration": self.infiltration,
            "outflow": self.outflow,
            "initial_storage": self.initial_storage,
            "storage": float(storage),
            "error": float(storage) - self.expected_storage(),
        }

    def record(self, time_s: float, storage: float) -> dict[str, float]:
        """Take a snapshot and append it to :attr:`series` (once per time)."""
        snap = self.snapshot(time_s, storage)
        if self.series and self.series[-1]["time_s"] == snap["time_s"]:
            self.series[-1] = snap
        else:
            self.series.append(snap)
        return snap
