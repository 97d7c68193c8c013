"""District inputs of a forecast: Manning's n by land use, drainage capacity by catchment, and the
warm start from observed ponding."""

from __future__ import annotations

import json
import math
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from pyproj import Transformer
from rasterio import Affine
from sqlalchemy import Engine

from conftest import CELL, NORTH, SYSTEM, WEST, N, Points, bowl, cell_lonlat
from fangxun.config import Settings
from fangxun.db import session_scope
from fangxun.forecast import flows, inputs, service
from fangxun.forecast.models import RunPurpose, RunStatus, WarmStartKind
from fangxun.forecast.schemas import DesignRain, ForecastRunCreate, SeriesRain
from fangxun.monitoring import service as mon_service
from fangxun.monitoring.models import Datastream, Observation, StationKind
from fangxun.monitoring.schemas import DatastreamCreate, StationCreate

TABLE = {"default": 0.03, "road": 0.016, "green": 0.1, "building": 0.2, "water": 0.025}
CLASSES = {1: "road", 2: "building", 3: "green", 4: "water", 5: "default"}


# --- land use ------------------------------------------------------------------------------------


def test_manning_maps_every_class() -> None:
    codes = np.array([[1, 2, 3], [4, 5, 0]])
    valid = codes != 0
    n = inputs.manning_from_classes(codes, classes=CLASSES, table=TABLE, valid=valid)
    assert n.tolist() == [[0.016, 0.2, 0.1], [0.025, 0.03, 0.03]]


def test_unknown_class_code_is_a_clear_error() -> None:
    codes = np.ones((4, 5), dtype=np.int64)
    codes[2, 3] = 9
    codes[3, 4] = 9
    with pytest.raises(ValueError, match=r"lu\.tif: class code 9 at \(row=2, col=3\)"):
        inputs.manning_from_classes(codes, classes=CLASSES, table=TABLE, source="lu.tif")
    # A class without an n is an error too, naming the class.
    with pytest.raises(ValueError, match=r"'parking' .* has no Manning's n"):
        inputs.manning_from_classes(
            np.array([[7]]), classes={7: "parking"}, table=TABLE, source="lu.tif"
        )
    # Codes on nodata cells do not matter.
    valid = codes != 9
    n = inputs.manning_from_classes(codes, classes=CLASSES, table=TABLE, valid=valid)
    assert n[2, 3] == TABLE["default"] and n[0, 0] == TABLE["road"]


def _write_landuse(path: Path, codes: np.ndarray, *, west: float = WEST) -> None:
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=codes.shape[0],
        width=codes.shape[1],
        count=1,
        dtype="uint8",
        crs="EPSG:4547",
        transform=Affine(CELL, 0.0, west, 0.0, -CELL, NORTH),
        nodata=0,
    ) as dst:
        dst.write(codes.astype("uint8"), 1)


def _landuse_codes() -> np.ndarray:
    codes = np.full((N, N), 3, dtype=np.uint8)  # green
    codes[:, 10:20] = 1  # a north–south road through the bowl
    codes[0:5, 0:5] = 2  # a building block in the north-west
    codes[29, 29] = 0  # nodata
    return codes


def test_district_takes_n_from_the_land_use_raster(
    engine: Engine, fsettings: Settings, terrain_tif: Path
) -> None:
    codes = _landuse_codes()
    _write_landuse(terrain_tif.parent / "landuse.tif", codes)
    settings = fsettings.model_copy(update={"forecast_manning": TABLE})
    with session_scope(engine) as session:
        run = service.create_run(
            session=session,
            run_in=ForecastRunCreate(rain=SeriesRain(step_s=600.0, intensity_mm_h=[10.0])),
            actor=SYSTEM,
            settings=settings,
        )
        prepared = service.prepare_run(session=session, run=run, settings=settings)
    n = prepared.district.manning
    assert isinstance(n, np.ndarray) and n.shape == (N, N)
    expect = np.vectorize(lambda c: TABLE[CLASSES[int(c)]] if c else TABLE["default"])(codes)
    assert np.array_equal(n, expect)
    assert any("n by land use" in note for note in prepared.notes)

    # A 20 m model averages n over 2 × 2 blocks.
    coarse_settings = settings.model_copy(update={"forecast_resolution_m": 20.0})
    with session_scope(engine) as session:
        run = service.get_run(session=session, run_id=run.id)
        coarse = service.prepare_run(session=session, run=run, settings=coarse_settings)
    cn = coarse.district.manning
    assert isinstance(cn, np.ndarray) and cn.shape == (N // 2, N // 2)
    assert cn[2, 4] == pytest.approx(expect[4:6, 8:10].mean())  # half road, half green


def test_bad_land_use_fails_the_run_with_the_reason(
    engine: Engine, fsettings: Settings, terrain_tif: Path, points: Points
) -> None:
    codes = _landuse_codes()
    codes[7, 8] = 42
    _write_landuse(terrain_tif.parent / "landuse.tif", codes)
    with session_scope(engine) as session:
        run_id = service.create_run(
            session=session,
            run_in=ForecastRunCreate(rain=SeriesRain(step_s=600.0, intensity_mm_h=[10.0])),
            actor=SYSTEM,
            settings=fsettings,
        ).id
    assert flows.execute_run(engine, run_id, fsettings, executor="serial") == RunStatus.failed
    with session_scope(engine) as session:
        msg = service.get_run(session=session, run_id=run_id).message or ""
    assert "class code 42 at (row=7, col=8)" in msg and "landuse.tif" in msg

    # Float "codes" are refused.
    floats = terrain_tif.parent / "floats.tif"
    with rasterio.open(
        floats,
        "w",
        driver="GTiff",
        height=N,
        width=N,
        count=1,
        dtype="float32",
        crs="EPSG:4547",
        transform=Affine(CELL, 0.0, WEST, 0.0, -CELL, NORTH),
    ) as dst:
        dst.write(np.ones((N, N), dtype="float32"), 1)
    with pytest.raises(ValueError, match=r"floats\.tif: band 1 must hold integer class codes"):
        inputs.read_landuse(floats, shape=(N, N), transform=(CELL, 0.0, WEST, 0.0, -CELL, NORTH))

    # Another grid (shifted one cell) is refused, naming both grids.
    _write_landuse(terrain_tif.parent / "landuse.tif", _landuse_codes(), west=WEST + CELL)
    with pytest.raises(ValueError, match="must share the terrain's grid"):
        inputs.read_landuse(
            terrain_tif.parent / "landuse.tif",
            shape=(N, N),
            transform=(CELL, 0.0, WEST, 0.0, -CELL, NORTH),
        )


# --- catchments ----------------------------------------------------------------------------------


def _rect_lonlat(x0: float, x1: float, y0: float, y1: float) -> list[list[float]]:
    tr = Transformer.from_crs("EPSG:4547", "EPSG:4326", always_xy=True)
    ring = []
    for x, y in [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]:
        lon, lat = tr.transform(x, y)
        ring.append([lon, lat])
    return ring


def _catchments() -> dict[str, Any]:
    # West half (columns 0–14, cell edges at WEST + 150 m) on P = 3 a with t = 10 min; a pumped
    # box at rows 20–24, columns 20–24 with a given capacity. Edges lie 5 m from cell centres.
    west = _rect_lonlat(WEST - 50.0, WEST + 150.0, NORTH - 400.0, NORTH + 50.0)
    box = _rect_lonlat(WEST + 200.0, WEST + 250.0, NORTH - 250.0, NORTH - 200.0)
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [west]},
                "properties": {
                    "code": "W",
                    "return_period_years": 3,
                    "concentration_time_min": 10,
                },
            },
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [box]},
                "properties": {"code": "PUMP", "capacity_mm_h": 75.0},
            },
        ],
    }


def test_capacity_by_catchment_follows_the_storm_formula(
    engine: Engine, fsettings: Settings, terrain_tif: Path
) -> None:
    (terrain_tif.parent / "catchments.geojson").write_text(
        json.dumps(_catchments()), encoding="utf-8"
    )
    with session_scope(engine) as session:
        run = service.create_run(
            session=session,
            run_in=ForecastRunCreate(rain=SeriesRain(step_s=600.0, intensity_mm_h=[10.0])),
            actor=SYSTEM,
            settings=fsettings,
        )
        prepared = service.prepare_run(session=session, run=run, settings=fsettings)
    a, b, c, n = fsettings.forecast_storm_formula

    def capacity(p_years: float, t_min: float) -> float:  # i = A/(t+b)^n, A = a(1 + C lg P)
        return 60.0 * a * (1.0 + c * math.log10(p_years)) / (t_min + b) ** n

    west = capacity(3.0, 10.0)
    default = capacity(
        fsettings.forecast_drainage_return_period_years,
        fsettings.forecast_drainage_duration_s / 60.0,
    )
    cap = prepared.district.drainage_mm_h
    assert isinstance(cap, np.ndarray) and cap.shape == (N, N)
    assert np.allclose(cap[:, :15], west, rtol=1e-12)
    assert np.allclose(cap[20:25, 20:25], 75.0)
    outside = np.ones((N, N), dtype=bool)
    outside[:, :15] = False
    outside[20:25, 20:25] = False
    assert np.allclose(cap[outside], default, rtol=1e-12)
    info = {d["code"]: d for d in prepared.details["catchments"]}
    assert info["W"]["cells"] == N * 15 and info["PUMP"]["cells"] == 25
    assert info["W"]["capacity_mm_h"] == pytest.approx(west, abs=1e-3)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda f: f["properties"].update(capacity_mm_h=10.0), "exactly one of"),
        (lambda f: f["properties"].pop("code"), "feature 0: needs a 'code'"),
        (lambda f: f.update(geometry={"type": "Point", "coordinates": [0, 0]}), "Polygon"),
        (lambda f: f["properties"].update(return_period_years=-1), "must be > 0"),
        (
            lambda f: f["geometry"].update(
                coordinates=[
                    [[460000, 3850000], [460100, 3850000], [460100, 3850100], [460000, 3850000]]
                ]
            ),
            "WGS 84",
        ),
    ],
)
def test_bad_catchments_are_clear_errors(mutate: Any, message: str) -> None:
    payload = _catchments()
    mutate(payload["features"][0])
    with pytest.raises(ValueError, match=message):
        inputs.parse_catchments(payload, source="c.geojson")


# --- warm start from observations ----------------------------------------------------------------


def test_observed_ponding_fills_the_low_area_and_conserves_volume() -> None:
    z = bowl()
    mask = np.zeros_like(z, dtype=bool)
    depth, info = inputs.observed_ponding(
        z, mask, CELL, [inputs.PondingReading("S1", 15, 15, 0.1)], radius_m=1000.0
    )
    assert depth[15, 15] == pytest.approx(0.1, abs=1e-12)
    # Independently: every cell of the bowl below the level (a disc around the centre) holds
    # level − z, and nothing else is wet.
    level = z[15, 15] + 0.1
    expect = 0.0
    for r in range(N):
        for c in range(N):
            if z[r, c] < level:
                expect += (level - z[r, c]) * CELL * CELL
                assert depth[r, c] == pytest.approx(level - z[r, c], abs=1e-12)
            else:
                assert depth[r, c] == 0.0
    assert float(depth.sum()) * CELL * CELL == pytest.approx(expect, rel=1e-12)
    assert info[0]["volume_m3"] == pytest.approx(expect, abs=1e-3)
    assert info[0]["cells"] == int((z < level).sum())

    # A second, separate low area is not filled by the first sensor (connectivity), and the
    # radius bounds the spread.
    z2 = np.full((10, 10), 10.0)
    z2[2, 2] = z2[7, 7] = 9.9
    d2, _ = inputs.observed_ponding(
        z2, np.zeros_like(z2, dtype=bool), CELL, [inputs.PondingReading("S", 2, 2, 0.05)],
        radius_m=500.0,
    )  # fmt: skip
    assert d2[2, 2] == pytest.approx(0.05) and d2[7, 7] == 0.0 and d2.sum() == pytest.approx(0.05)
    z3 = np.zeros((20, 20))
    d3, _ = inputs.observed_ponding(
        z3, np.zeros_like(z3, dtype=bool), CELL,
        [inputs.PondingReading("S", 10, 10, 0.0)], radius_m=25.0,
    )  # fmt: skip
    assert d3.sum() == 0.0  # a dry sensor adds nothing
    with pytest.raises(ValueError, match="S9: cell"):
        inputs.observed_ponding(
            z3, np.zeros_like(z3, dtype=bool), CELL, [inputs.PondingReading("S9", 99, 0, 0.1)],
            radius_m=25.0,
        )  # fmt: skip


def _ponding_sensor(engine: Engine, row: int, col: int) -> int:
    lon, lat = cell_lonlat(row, col)
    with session_scope(engine) as session:
        mon_service.ensure_observed_properties(session=session)
        mon_service.create_station(
            session=session,
            station_in=StationCreate(
                code="PDX", name_zh="积水传感器", kind=StationKind.ponding, lon=lon, lat=lat
            ),
            actor=SYSTEM,
        )
        ds = mon_service.create_datastream(
            session=session,
            datastream_in=DatastreamCreate(
                code="PDX-depth",
                name="PDX-depth",
                station_code="PDX",
                observed_property="ponding_depth",
                unit="cm",
            ),
            actor=SYSTEM,
        )
        return int(ds.id)


def test_runs_warm_start_from_sensors_then_from_the_previous_run(
    engine: Engine, fsettings: Settings, points: Points
) -> None:
    ds_id = _ponding_sensor(engine, 15, 14)
    from fangxun.db.types import utcnow

    now = utcnow()
    with session_scope(engine) as session:
        session.add_all(
            [
                Observation(datastream_id=ds_id, phenomenon_time=now - timedelta(minutes=10),
                            value=0.02, flags=0),
                Observation(datastream_id=ds_id, phenomenon_time=now - timedelta(minutes=2),
                            value=0.08, flags=0),
                # A flagged reading (failed quality control) is ignored even though it is later.
                Observation(datastream_id=ds_id, phenomenon_time=now - timedelta(minutes=1),
                            value=0.5, flags=4),
            ]
        )  # fmt: skip
        assert session.get(Datastream, ds_id) is not None
    run_in = ForecastRunCreate(
        rain=SeriesRain(step_s=600.0, intensity_mm_h=[0.0]),
        horizon_s=1200,
        purpose=RunPurpose.operational,  # the forecast in force, which the next run warms from
    )
    with session_scope(engine) as session:
        run = service.create_run(session=session, run_in=run_in, actor=SYSTEM, settings=fsettings)
        prepared = service.prepare_run(session=session, run=run, settings=fsettings)
        run_id = run.id
    assert prepared.warm_start_kind == WarmStartKind.observations
    h0 = prepared.specs[0].initial_depth
    assert h0 is not None
    assert h0[15, 14] == pytest.approx(0.08, abs=1e-9)
    z = bowl().astype(np.float32).astype(np.float64)  # as the GeoTIFF stores it
    level = z[15, 14] + 0.08
    implied = float(np.where(z < level, level - z, 0.0).sum()) * CELL * CELL
    assert float(h0.sum()) * CELL * CELL == pytest.approx(implied, rel=1e-9)
    assert prepared.details["warm_start"]["sensors"][0]["volume_m3"] == pytest.approx(
        implied, abs=1e-3
    )

    # The run records it, and its point series start from the observed water.
    assert flows.execute_run(engine, run_id, fsettings, executor="serial") == RunStatus.done
    with session_scope(engine) as session:
        run = service.get_run(session=session, run_id=run_id)
        assert run.warm_start_kind == WarmStartKind.observations
        assert run.summary is not None and run.summary["warm_start"]["kind"] == "observations"
        assert "ponding sensor" in (run.message or "")
        centre = next(
            p
            for p in service.point_results(session=session, run_id=run_id, actor=SYSTEM)
            if p.point_id == points.centre
        )
        assert centre.depth_cm[0] == pytest.approx((level - z[15, 15]) * 100.0, abs=0.01)

    # The next run finds a recent forecast and starts from its state instead.
    with session_scope(engine) as session:
        nxt = service.create_run(session=session, run_in=run_in, actor=SYSTEM, settings=fsettings)
        prepared2 = service.prepare_run(session=session, run=nxt, settings=fsettings)
    assert prepared2.warm_start_kind == WarmStartKind.run
    assert prepared2.warm_start_run_id == run_id


def test_dry_start_without_recent_readings(
    engine: Engine, fsettings: Settings, points: Points
) -> None:
    ds_id = _ponding_sensor(engine, 15, 15)
    from fangxun.db.types import utcnow

    with session_scope(engine) as session:
        old = utcnow() - timedelta(seconds=fsettings.forecast_obs_warm_start_max_age_s + 60)
        session.add(Observation(datastream_id=ds_id, phenomenon_time=old, value=0.3, flags=0))
    with session_scope(engine) as session:
        run_id = service.create_run(
            session=session,
            run_in=ForecastRunCreate(
                rain=DesignRain(return_period_years=1, duration_s=600.0), horizon_s=600
            ),
            actor=SYSTEM,
            settings=fsettings,
        ).id
    assert flows.execute_run(engine, run_id, fsettings, executor="serial") == RunStatus.done
    with session_scope(engine) as session:
        run = service.get_run(session=session, run_id=run_id)
        assert run.warm_start_kind == WarmStartKind.dry
        assert "no ponding reading" in (run.message or "")
