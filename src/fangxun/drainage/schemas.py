"""Request bodies of the drainage API."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class WhatIfCreate(BaseModel):
    """A drainage what-if, run as a scenario beside the operational forecast in force.

    ``pumps_off``: pump station codes (e.g. ``PS02``) or SWMM pump names held off;
    ``inlet_factor``: every inlet's capacity × this (0 = all blocked, 0.5 = half);
    ``river_at_guarantee``: every outfall linked to a river gauge at its guarantee level;
    ``base_run_id``: the run to repeat (default: the operational run in force).
    """

    model_config = ConfigDict(extra="forbid")
    pumps_off: list[str] = Field(default_factory=list, max_length=50)
    inlet_factor: float | None = Field(default=None, ge=0.0, le=1.0)
    river_at_guarantee: bool = False
    base_run_id: int | None = Field(default=None, ge=1)
