"""The index of stored rain frames: one row per frame file (a COG under the data dir).

A frame is identified by (feed, kind, variant, valid time, issue time). ``issue_time`` is the
model run for QPF, the last radar frame for a nowcast, and the valid time itself for QPE (so the
key never holds NULL). ``variant`` is ``raw`` as read, or ``adjusted`` to the district's gauges
(the raw frame kept beside it). ``digest`` (SHA-256 of the float32 values) tells a repeat of the
same frame from a conflicting one.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fangxun.db.base import Base
from fangxun.db.types import UTCDateTime, utcnow

FRAME_KINDS = ("QPE", "QPF", "nowcast")
FRAME_VARIANTS = ("raw", "adjusted")


class RainFrame(Base):
    """One stored rain frame (rate in mm/h) and where its file lies."""

    __tablename__ = "rain_frame"
    __table_args__ = (
        UniqueConstraint("feed", "kind", "variant", "valid_time", "issue_time"),
        CheckConstraint(
            "kind IN ({})".format(", ".join(repr(k) for k in FRAME_KINDS)), name="kind"
        ),
        CheckConstraint(
            "variant IN ({})".format(", ".join(repr(v) for v in FRAME_VARIANTS)), name="variant"
        ),
        Index("ix_rain_frame_feed_kind_time", "feed", "kind", "valid_time"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The feed the frame came from (e.g. "mch", "cma-radar", "ecmwf-qpf").
    feed: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    variant: Mapped[str] = mapped_column(String(16), default="raw")
    valid_time: Mapped[datetime] = mapped_column(UTCDateTime())
    issue_time: Mapped[datetime] = mapped_column(UTCDateTime())
    units: Mapped[str] = mapped_column(String(16), default="mm/h")
    #: Accumulation interval of the source file, s (None: an instantaneous rate).
    interval_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: File path relative to the data dir (a cloud-optimised GeoTIFF).
    path: Mapped[str] = mapped_column(String(400))
    source_file: Mapped[str] = mapped_column(String(400))
    importer: Mapped[str] = mapped_column(String(32))
    digest: Mapped[str] = mapped_column(String(64))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    crs_wkt: Mapped[str] = mapped_column(Text)
    #: Mean-field bias factor applied (adjusted variant), and how many gauges gave it.
    bias_factor: Mapped[float | None] = mapped_column(Float, nullable=True)
    gauges_used: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_mm_h: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
