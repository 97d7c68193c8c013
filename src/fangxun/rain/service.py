"""The rain frame store: frames written once as cloud-optimised GeoTIFFs under the data dir,
indexed in ``rain_frame``; ingest of files (upload, watched folder, replay), gauge adjustment
beside the raw frame, and frames reprojected onto the district grid on demand.

Services never commit (the CLI/request scope does). A bad file is refused with a message that
names it and the files around it are still stored (:func:`ingest_files`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
from affine import Affine
from pyproj import CRS
from sqlalchemy import select
from sqlalchemy.orm import Session

from fangxun.errors import FangxunError
from fangxun.rain.adjust import GaugeRain, adjust_frame
from fangxun.rain.grids import Frame, Kind, RainConflictError, RainFileError
from fangxun.rain.importers import read_frames
from fangxun.rain.models import RainFrame
from fangxun.rain.reproject import reproject_frame

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestResult:
    """What became of one file: ``stored`` frames, ``repeated`` (already held, same values), or
    ``error`` (the file refused, with the reason naming it)."""

    path: str
    stored: int = 0
    repeated: int = 0
    error: str | None = None


def digest(rate_mm_h: npt.NDArray[np.float32]) -> str:
    """SHA-256 of the float32 values (NaN canonical), to tell a repeat from a conflict."""
    a = np.asarray(rate_mm_h, np.float32).copy()
    a[~np.isfinite(a)] = np.nan
    return hashlib.sha256(a.tobytes()).hexdigest()


def _relpath(feed: str, frame: Frame, variant: str) -> Path:
    t = frame.time
    issue = frame.issue_time or frame.time
    name = f"{t:%Y%m%dT%H%M%SZ}_{issue:%Y%m%dT%H%M%SZ}_{variant}.tif"
    return Path("rain") / feed / frame.kind / f"{t:%Y}" / f"{t:%m}" / f"{t:%d}" / name


def write_cog(frame: Frame, path: Path) -> None:
    """One frame as a cloud-optimised GeoTIFF (float32 mm/h, NaN nodata, deflate)."""
    import rasterio
    from rasterio.crs import CRS as RioCRS

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    ny, nx = frame.shape
    with rasterio.open(
        tmp,
        "w",
        driver="COG",
        width=nx,
        height=ny,
        count=1,
        dtype="float32",
        crs=RioCRS.from_wkt(frame.crs.to_wkt()),
        transform=frame.transform,
        nodata=float("nan"),
        compress="DEFLATE",
    ) as dst:
        dst.write(np.asarray(frame.rate_mm_h, np.float32)[None])
        dst.update_tags(units="mm/h", time=frame.time.isoformat(), kind=frame.kind)
    tmp.replace(path)


def load_frame(row: RainFrame, data_dir: Path) -> Frame:
    """The stored frame of an index row."""
    import rasterio

    with rasterio.open(data_dir / row.path) as src:
        data = src.read(1).astype(np.float32)
        transform = Affine(*tuple(src.transform)[:6])
    return Frame(
        time=row.valid_time,
        rate_mm_h=data,
        crs=CRS.from_wkt(row.crs_wkt),
        transform=transform,
        source=row.source_file,
        kind=row.kind,  # type: ignore[arg-type]
        issue_time=row.issue_time,
        interval_s=row.interval_s,
    )


def store_frame(
    *,
    session: Session,
    data_dir: Path,
    feed: str,
    frame: Frame,
    importer: str,
    variant: str = "raw",
    bias_factor: float | None = None,
    gauges_used: int | None = None,
) -> tuple[RainFrame, bool]:
    """Store ``frame`` once. Returns (row, created). The same key with the same values is a
    repeat (nothing written); with different values a :class:`RainConflictError`."""
    issue = frame.issue_time or frame.time
    d = digest(frame.rate_mm_h)
    held = session.scalars(
        select(RainFrame).where(
            RainFrame.feed == feed,
            RainFrame.kind == frame.kind,
            RainFrame.variant == variant,
            RainFrame.valid_time == frame.time,
            RainFrame.issue_time == issue,
        )
    ).one_or_none()
    if held is not None:
        if held.digest == d:
            return held, False
        raise RainConflictError(
            f"{frame.source}: {feed} {frame.kind} at {frame.time.isoformat()} is already held "
            f"from {held.source_file} with different values"
        )
    rel = _relpath(feed, frame, variant)
    write_cog(frame, data_dir / rel)
    finite = frame.rate_mm_h[np.isfinite(frame.rate_mm_h)]
    row = RainFrame(
        feed=feed,
        kind=frame.kind,
        variant=variant,
        valid_time=frame.time,
        issue_time=issue,
        units="mm/h",
        interval_s=frame.interval_s,
        path=rel.as_posix(),
        source_file=Path(frame.source).name[:400],
        importer=importer,
        digest=d,
        width=frame.shape[1],
        height=frame.shape[0],
        crs_wkt=frame.crs.to_wkt(),
        bias_factor=bias_factor,
        gauges_used=gauges_used,
        max_mm_h=float(finite.max()) if finite.size else 0.0,
    )
    session.add(row)
    session.flush()
    return row, True


def gauge_rain(*, session: Session, end: datetime, interval_s: float) -> list[GaugeRain]:
    """Each rain gauge's mean rate (mm/h) over ``(end − interval, end]`` from its unflagged
    observations (interval depths in m), at its station's lon/lat. A gauge without observations
    in the window is left out (missing is not zero)."""
    from datetime import timedelta

    from sqlalchemy import func

    from fangxun.monitoring.models import Datastream, Observation, ObservedProperty, Station

    start = end - timedelta(seconds=interval_s)
    rows = session.execute(
        select(Datastream.code, Station.lon, Station.lat, func.sum(Observation.value))
        .join(Station, Station.id == Datastream.station_id)
        .join(Observation, Observation.datastream_id == Datastream.id)
        .join(ObservedProperty, ObservedProperty.id == Datastream.observed_property_id)
        .where(
            ObservedProperty.code == "rainfall",
            Observation.flags == 0,
            Observation.phenomenon_time > start,
            Observation.phenomenon_time <= end,
        )
        .group_by(Datastream.code, Station.lon, Station.lat)
    ).all()
    return [
        GaugeRain(code, float(lon), float(lat), float(depth_m) * 1000.0 * 3600.0 / interval_s)
        for code, lon, lat, depth_m in rows
    ]


def ingest_file(
    *,
    session: Session,
    data_dir: Path,
    path: Path,
    importer: str,
    feed: str,
    kind: Kind = "QPE",
    options: Mapping[str, object] | None = None,
    gauges: Sequence[GaugeRain] | None = None,
    adjust: bool = False,
) -> IngestResult:
    """Read one file and store its frames; with ``gauges``, or ``adjust`` (the district's rain
    gauges over each frame's interval, :func:`gauge_rain`), the adjusted frame beside each raw
    one. A refusal is returned (and logged), not raised, so a batch goes on."""
    try:
        frames = read_frames(path, importer, options, kind=kind)
        stored = repeated = 0
        for f in frames:
            _row, created = store_frame(
                session=session, data_dir=data_dir, feed=feed, frame=f, importer=importer
            )
            stored += created
            repeated += not created
            used = gauges
            if used is None and adjust and kind == "QPE":
                used = gauge_rain(session=session, end=f.time, interval_s=f.interval_s or 300.0)
            if used and kind == "QPE":
                adj = adjust_frame(f, used)
                store_frame(
                    session=session,
                    data_dir=data_dir,
                    feed=feed,
                    frame=adj.frame,
                    importer=importer,
                    variant="adjusted",
                    bias_factor=adj.factor,
                    gauges_used=adj.gauges_used,
                )
        return IngestResult(str(path), stored=stored, repeated=repeated)
    except (RainFileError, RainConflictError) as exc:
        log.warning("rain file refused: %s", exc.detail)
        return IngestResult(str(path), error=exc.detail)
    except FangxunError as exc:
        log.warning("rain file refused: %s: %s", path, exc.detail)
        return IngestResult(str(path), error=f"{path}: {exc.detail}")


def ingest_files(
    *,
    session: Session,
    data_dir: Path,
    paths: Iterable[Path],
    importer: str,
    feed: str,
    kind: Kind = "QPE",
    options: Mapping[str, object] | None = None,
    gauges: Sequence[GaugeRain] | None = None,
    adjust: bool = False,
) -> list[IngestResult]:
    """:func:`ingest_file` for each path, in name order (a replay of a folder)."""
    out = []
    for p in sorted(paths):
        out.append(
            ingest_file(
                session=session,
                data_dir=data_dir,
                path=p,
                importer=importer,
                feed=feed,
                kind=kind,
                options=options,
                gauges=gauges,
                adjust=adjust,
            )
        )
    return out


def list_frames(
    *,
    session: Session,
    feed: str | None = None,
    kind: str | None = None,
    variant: str = "raw",
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[RainFrame]:
    """Index rows in valid-time order, filtered."""
    q = select(RainFrame).where(RainFrame.variant == variant)
    if feed is not None:
        q = q.where(RainFrame.feed == feed)
    if kind is not None:
        q = q.where(RainFrame.kind == kind)
    if start is not None:
        q = q.where(RainFrame.valid_time >= start)
    if end is not None:
        q = q.where(RainFrame.valid_time <= end)
    return list(session.scalars(q.order_by(RainFrame.valid_time, RainFrame.issue_time)))


def frame_on_grid(
    row: RainFrame,
    data_dir: Path,
    *,
    crs: CRS,
    transform: Affine,
    shape: tuple[int, int],
) -> npt.NDArray[np.float32]:
    """A stored frame reprojected (bilinear) onto a grid, e.g. the district model's (mm/h)."""
    return reproject_frame(load_frame(row, data_dir), crs=crs, transform=transform, shape=shape)
