"""Rain frame index rows and ingest results on the wire."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class RainFrameRead(BaseModel):
    """One stored frame (rates in mm/h)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    feed: str
    kind: str
    variant: str
    valid_time: datetime
    issue_time: datetime
    units: str
    interval_s: float | None
    source_file: str
    importer: str
    width: int
    height: int
    max_mm_h: float
    bias_factor: float | None
    gauges_used: int | None


class IngestRead(BaseModel):
    """What became of an uploaded file."""

    file: str
    stored: int
    repeated: int
    error: str | None
