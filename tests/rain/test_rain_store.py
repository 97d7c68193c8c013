"""Frame store: frames stored once as COGs with an index row, repeats recognised, conflicts and
bad files refused by name with the others kept; the watched folder; reprojection on demand;
gauge adjustment beside the raw frame."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from pyproj import CRS, Transformer
from sqlalchemy.orm import Session

from fangxun.rain import service
from fangxun.rain.adjust import GaugeRain, adjust_frame
from fangxun.rain.grids import RainConflictError
from fangxun.rain.importers import read_frames
from fangxun.rain.models import RainFrame
from fangxun.rain.watch import FolderWatcher

DATA = Path(__file__).resolve().parents[1] / "data" / "radar"


def test_ingest_stores_once_refuses_bad_files_and_keeps_the_rest(
    db_session: Session, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for p in sorted(DATA.glob("bom/*.nc"))[:3]:
        shutil.copy(p, folder / p.name)
    broken = folder / "2_20180616_121900.prcp-cscn.nc"
    broken.write_bytes((folder / "2_20180616_121200.prcp-cscn.nc").read_bytes()[:500])
    data_dir = tmp_path / "data"
    results = service.ingest_files(
        session=db_session,
        data_dir=data_dir,
        paths=folder.iterdir(),
        importer="bom_rf3",
        feed="bom2",
    )
    assert [r.stored for r in results] == [1, 1, 1, 0]
    assert results[-1].error is not None and str(broken) in results[-1].error
    rows = service.list_frames(session=db_session, feed="bom2", kind="QPE")
    assert len(rows) == 3 and rows[1].valid_time - rows[0].valid_time == timedelta(minutes=6)
    assert all((data_dir / r.path).is_file() for r in rows)
    # round trip: the stored COG is the frame that was read
    back = service.load_frame(rows[0], data_dir)
    first = read_frames(sorted(folder.glob("*.nc"))[0], "bom_rf3")[0]
    np.testing.assert_allclose(back.rate_mm_h, first.rate_mm_h, equal_nan=True)
    assert back.same_grid(first) or back.transform == first.transform
    # the same files again: repeats, nothing new
    again = service.ingest_files(
        session=db_session,
        data_dir=data_dir,
        paths=sorted(folder.glob("*.nc"))[:3],
        importer="bom_rf3",
        feed="bom2",
    )
    assert [(r.stored, r.repeated) for r in again] == [(0, 1)] * 3
    assert db_session.query(RainFrame).count() == 3


def test_conflicting_frame_is_refused(db_session: Session, tmp_path: Path) -> None:
    f = read_frames(sorted(DATA.glob("rmi/*.hdf"))[0], "odim_hdf5")[0]
    service.store_frame(
        session=db_session, data_dir=tmp_path, feed="rmi", frame=f, importer="odim_hdf5"
    )
    other = replace(f, rate_mm_h=f.rate_mm_h * 1.5, source="other.hdf")
    with pytest.raises(RainConflictError, match="already held") as err:
        service.store_frame(
            session=db_session, data_dir=tmp_path, feed="rmi", frame=other, importer="odim_hdf5"
        )
    assert "other.hdf" in err.value.detail


def test_reprojection_onto_the_district_grid(db_session: Session, tmp_path: Path) -> None:
    f = read_frames(sorted(DATA.glob("rmi/*.hdf"))[0], "odim_hdf5")[0]
    row, _ = service.store_frame(
        session=db_session, data_dir=tmp_path, feed="rmi", frame=f, importer="odim_hdf5"
    )
    # a 20 × 20 km "district" in UTM 31N around the wettest radar cell, 250 m cells
    r, c = np.unravel_index(np.nanargmax(f.rate_mm_h), f.shape)
    x, y = f.x_centres()[c], f.y_centres()[r]
    tr = Transformer.from_crs(f.crs, "EPSG:32631", always_xy=True)
    ux, uy = tr.transform(x, y)
    transform = Affine(250.0, 0.0, ux - 10_000.0, 0.0, -250.0, uy + 10_000.0)
    grid = service.frame_on_grid(
        row, tmp_path, crs=CRS.from_epsg(32631), transform=transform, shape=(80, 80)
    )
    assert grid.shape == (80, 80) and np.isfinite(grid).all()
    # the peak is at the middle of the district grid and of the right size (bilinear ≤ peak)
    assert float(grid[38:42, 38:42].max()) == pytest.approx(float(np.nanmax(f.rate_mm_h)), rel=0.35)
    assert float(grid.max()) <= float(np.nanmax(f.rate_mm_h)) + 1e-3


def test_watched_folder_reads_complete_files_once(tmp_path: Path) -> None:
    w = FolderWatcher(tmp_path, "*.hdf")
    src = sorted(DATA.glob("rmi/*.hdf"))
    data = src[0].read_bytes()
    growing = tmp_path / src[0].name
    growing.write_bytes(data[:1000])  # being written
    assert w.scan() == []
    growing.write_bytes(data)  # finished, but changed since the last scan: wait one more scan
    assert w.scan() == []
    assert w.scan() == [growing]  # stable for two scans: ready
    assert w.scan() == []  # never twice
    (tmp_path / "x.hdf.part").write_bytes(b"partial")
    second = tmp_path / src[1].name
    second.write_bytes(src[1].read_bytes())
    assert w.scan() == []
    assert w.scan() == [second]


def test_mean_field_bias_and_raw_kept(tmp_path: Path) -> None:
    f = read_frames(sorted(DATA.glob("rmi/*.hdf"))[2], "odim_hdf5")[0]
    to_ll = Transformer.from_crs(f.crs, "EPSG:4326", always_xy=True)
    wet = np.argwhere(np.nan_to_num(f.rate_mm_h) > 2.0)[::500][:3]
    gauges = []
    for k, (r, c) in enumerate(wet):
        lon, lat = to_ll.transform(f.x_centres()[c], f.y_centres()[r])
        gauges.append(GaugeRain(f"g{k}", lon, lat, 1.6 * float(f.rate_mm_h[r, c])))
    adj = adjust_frame(f, gauges)
    assert adj.method == "mean_field_bias" and adj.gauges_used == 3
    assert adj.factor == pytest.approx(1.6, rel=1e-4)
    np.testing.assert_allclose(adj.frame.rate_mm_h, f.rate_mm_h * 1.6, rtol=1e-5, equal_nan=True)
    assert float(np.nanmax(f.rate_mm_h)) < float(np.nanmax(adj.frame.rate_mm_h))  # raw untouched
    # no gauge on rain: no adjustment
    dry = adjust_frame(f, [GaugeRain("far", 100.0, 10.0, 5.0)])
    assert dry.method == "none" and dry.factor == 1.0


def test_spatial_adjustment_with_enough_gauges() -> None:
    f = read_frames(sorted(DATA.glob("rmi/*.hdf"))[2], "odim_hdf5")[0]
    to_ll = Transformer.from_crs(f.crs, "EPSG:4326", always_xy=True)
    wet = np.argwhere(np.nan_to_num(f.rate_mm_h) > 1.0)[::300][:8]
    gauges = []
    for k, (r, c) in enumerate(wet):
        lon, lat = to_ll.transform(f.x_centres()[c], f.y_centres()[r])
        gauges.append(
            GaugeRain(
                f"g{k}",
                lon,
                lat,
                2.0 * float(np.nanmedian(f.rate_mm_h[r - 1 : r + 2, c - 1 : c + 2])),
            )
        )
    adj = adjust_frame(f, gauges)
    assert adj.method == "wradlib_multiplicative" and adj.gauges_used == 8
    r, c = wet[0]
    assert float(adj.frame.rate_mm_h[r, c]) == pytest.approx(
        2.0 * float(f.rate_mm_h[r, c]), rel=0.3
    )


def test_ingest_adjusts_to_the_district_gauges_and_keeps_raw(
    db_session: Session, tmp_path: Path
) -> None:
    from fangxun.audit.service import SystemActor
    from fangxun.monitoring import service as mon
    from fangxun.monitoring.models import Observation, StationKind
    from fangxun.monitoring.schemas import DatastreamCreate, StationCreate

    src = sorted(DATA.glob("rmi/*.hdf"))[2]
    f = read_frames(src, "odim_hdf5")[0]
    to_ll = Transformer.from_crs(f.crs, "EPSG:4326", always_xy=True)
    wet = np.argwhere(np.nan_to_num(f.rate_mm_h) > 2.0)[::700][:2]
    actor = SystemActor(username="rain-tests")
    mon.ensure_observed_properties(session=db_session)
    for k, (r, c) in enumerate(wet):
        lon, lat = to_ll.transform(f.x_centres()[c], f.y_centres()[r])
        mon.create_station(
            session=db_session,
            station_in=StationCreate(
                code=f"G{k}", name_zh="雨量站", kind=StationKind.rain_gauge, lon=lon, lat=lat
            ),
            actor=actor,
        )
        ds = mon.create_datastream(
            session=db_session,
            datastream_in=DatastreamCreate(
                code=f"G{k}-rain", name="rain", station_code=f"G{k}",
                observed_property="rainfall", unit="mm", interval_s=300,
            ),
            actor=actor,
        )  # fmt: skip
        # twice the radar's rate over the frame's 5 minutes, as a depth in metres
        depth_m = 2.0 * float(f.rate_mm_h[r, c]) * (300.0 / 3600.0) / 1000.0
        db_session.add(
            Observation(datastream_id=ds.id, phenomenon_time=f.time, value=depth_m, flags=0)
        )
    db_session.flush()
    (res,) = service.ingest_files(
        session=db_session, data_dir=tmp_path, paths=[src], importer="odim_hdf5", feed="rmi",
        adjust=True,
    )  # fmt: skip
    assert res.error is None and res.stored == 1
    (raw,) = service.list_frames(session=db_session, feed="rmi")
    (adj,) = service.list_frames(session=db_session, feed="rmi", variant="adjusted")
    assert adj.bias_factor == pytest.approx(2.0, rel=1e-3) and adj.gauges_used == 2
    assert adj.max_mm_h == pytest.approx(2.0 * raw.max_mm_h, rel=1e-3)
    assert raw.path != adj.path and (tmp_path / raw.path).is_file()
