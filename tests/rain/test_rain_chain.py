"""The fallback chain of rain for a forecast: each source used when it can be, the reasons
recorded when it cannot."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rain_synthetic import CRS4547, T0, blob_field, moving_frames
from sqlalchemy.orm import Session

from fangxun.config import Settings
from fangxun.forecast.rainsource import choose_rain, rain_from_chain
from fangxun.rain import service
from fangxun.rain.chain import DistrictGrid

# a 20 × 20 km district at 500 m inside the synthetic radar grid (x 500–596 km, y 3754–3850 km)
GRID = DistrictGrid(CRS4547, Affine(500.0, 0.0, 530_000.0, 0.0, -500.0, 3_830_000.0), (40, 40))
ISSUED = T0 + timedelta(minutes=15)


def store(session: Session, data_dir: Path, frames: list, feed: str) -> None:
    for f in frames:
        service.store_frame(session=session, data_dir=data_dir, feed=feed, frame=f, importer="test")


def choose(session: Session, data_dir: Path, issued=ISSUED, qpf_feed=None):  # type: ignore[no-untyped-def]
    return choose_rain(
        session=session,
        data_dir=data_dir,
        grid=GRID,
        issued_at=issued,
        horizon_s=3600.0,
        radar_feed="radar",
        qpf_feed=qpf_feed,
        gauge_window_s=1800.0,
        gauge_decay_s=3600.0,
    )


def test_radar_nowcast_when_radar_is_fresh(db_session: Session, tmp_path: Path) -> None:
    store(db_session, tmp_path, moving_frames(), "radar")
    c = choose(db_session, tmp_path)
    assert c.source == "radar_nowcast"
    assert c.gridded is not None and c.gridded.intensity_mm_h.shape == (13, 40, 40)
    assert float(c.gridded.intensity_mm_h[-1].max()) == 0.0  # dry after the last lead
    assert list(c.gridded.times_s[:2]) == [0.0, 300.0]
    assert float(c.gridded.intensity_mm_h.max()) > 5.0  # the cell crosses the district
    assert any("no QPF feed configured" in r for r in c.reasons)
    assert "radar_nowcast" in c.note()


def test_old_radar_and_no_gauges_give_none_with_reasons(
    db_session: Session, tmp_path: Path
) -> None:
    store(db_session, tmp_path, moving_frames(), "radar")
    c = choose(db_session, tmp_path, issued=ISSUED + timedelta(minutes=40))
    assert c.source == "none" and c.gridded is None
    assert any("old" in r for r in c.reasons)
    assert any("no gauge" in r for r in c.reasons)
    assert c.hyetograph.total_mm() == 0.0


def test_qpf_when_no_radar(db_session: Session, tmp_path: Path) -> None:
    qpf = [
        replace(f, kind="QPF", issue_time=T0, time=ISSUED + timedelta(minutes=30 * k))
        for k, f in enumerate(moving_frames(3))
    ]
    store(db_session, tmp_path, qpf, "model")
    c = choose(db_session, tmp_path, qpf_feed="model")
    assert c.source == "qpf"
    assert any("radar frame" in r for r in c.reasons)
    assert c.gridded is not None and c.gridded.intensity_mm_h.shape[1:] == (40, 40)


def test_blended_nowcast_first_when_radar_and_qpf_are_held(
    db_session: Session, tmp_path: Path
) -> None:
    store(db_session, tmp_path, moving_frames(), "radar")
    qpf = [
        replace(
            f,
            kind="QPF",
            issue_time=T0,
            time=ISSUED + timedelta(minutes=30 * k),
            rate_mm_h=blob_field(36 + 12 * k, 33 + 6 * k),
        )
        for k, f in enumerate(moving_frames(3))
    ]
    store(db_session, tmp_path, qpf, "model")
    c = choose(db_session, tmp_path, qpf_feed="model")
    assert c.source == "blended_nowcast", c.reasons
    assert c.reasons == []
    assert np.isfinite(c.gridded.intensity_mm_h).all()  # type: ignore[union-attr]


def test_forecast_run_rain_records_the_chain(
    db_session: Session, tmp_path: Path, settings: Settings
) -> None:
    terrain = tmp_path / "terrain.tif"
    with rasterio.open(
        terrain,
        "w",
        driver="GTiff",
        width=40,
        height=40,
        count=1,
        dtype="float32",
        crs="EPSG:4547",
        transform=GRID.transform,
    ) as dst:
        dst.write(np.zeros((1, 40, 40), np.float32))
    args = {"session": db_session, "issued_at": ISSUED, "horizon_s": 3600.0, "terrain": terrain}
    assert rain_from_chain(settings=settings, **args) is None  # no feed: the gauges as before
    s = settings.model_copy(update={"rain_radar_feed": "radar"})
    store(db_session, Path(s.data_dir), moving_frames(), "radar")
    c = rain_from_chain(settings=s, **args)
    assert c is not None and c.source == "radar_nowcast"
    assert c.hyetograph.total_mm() > 0.0
    assert c.note().startswith("rain: radar_nowcast")
