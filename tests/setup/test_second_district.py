"""A second district, set up end to end through the CLI from its own files (issue 21, "Done when").

合溪区 is synthetic and lies in UTM zone 50N (EPSG:32650, near Hefei), far from the demo's
Zhengzhou. From an empty database, only `fangxun` commands: `db upgrade`, then `setup units`
(boundaries GeoJSON in EPSG:32650), `setup people` (an Excel sheet with the office's own headers
and a mapping), `setup terrain` (a GeoTIFF in EPSG:32650), `setup buildings` (footprints GeoJSON),
`setup storm-formula` (q form, L/(s·ha)), `setup stations` (a CSV), `hazards import` (an Excel
sheet with GCJ-02 coordinates and a mapping), `setup check` (exit 0), then an operational
forecast run and `warnings evaluate`, whose predicted-ponding proposal at the hollow is approved
and goes out as a warning.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyogrio.raw
import pytest
import rasterio
import shapely
from pyproj import Transformer
from rasterio.transform import from_origin
from sqlalchemy import select
from typer.testing import CliRunner

from fangxun.cli.main import app as cli_app
from fangxun.config import get_settings
from fangxun.datums import wgs84_to_gcj02
from fangxun.db import make_engine, session_scope
from fangxun.forecast.models import ForecastPointResult, ForecastRun
from fangxun.hazards.models import HazardPoint
from fangxun.notify.models import Notification
from fangxun.warnings.models import Warning as WarningRow

#: South-west corner of 合溪区 (EPSG:32650), m; the district is 2 km × 1 km.
X0, Y0 = 526_000.0, 3_525_000.0
CELL = 10.0
TO_WGS = Transformer.from_crs(32650, 4326, always_xy=True)
#: The hollow: the lowest point of the DEM, where the hazard point lies (EPSG:32650), m.
HOLLOW = (X0 + 1005.0, Y0 + 495.0)
runner = CliRunner()


@pytest.fixture
def district_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty SQLite database file and data folder: nothing of the demo anywhere."""
    monkeypatch.setenv("FANGXUN_DATABASE_URL", f"sqlite:///{tmp_path / 'hexi.db'}")
    monkeypatch.setenv("FANGXUN_ENVIRONMENT", "test")
    monkeypatch.setenv("FANGXUN_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("FANGXUN_FORECAST_BACKEND", "numpy")
    for name in ("FORECAST_TERRAIN_PATH", "FORECAST_STORM_FORMULA", "FORECAST_LANDUSE_PATH"):
        monkeypatch.delenv(f"FANGXUN_{name}", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def fangxun(*args: str) -> tuple[int, str]:
    result = runner.invoke(cli_app, list(args))
    return result.exit_code, result.output


# --- the district's files, as an office would hand them over ------------------------------------


def write_boundaries(path: Path) -> None:
    """District and two street offices, EPSG:32650 GeoJSON with the office's attribute names."""
    geoms = [
        shapely.box(X0, Y0, X0 + 2000, Y0 + 1000),
        shapely.box(X0, Y0, X0 + 1000, Y0 + 1000),
        shapely.box(X0 + 1000, Y0, X0 + 2000, Y0 + 1000),
    ]
    pyogrio.raw.write(
        path, geometry=shapely.to_wkb(geoms), driver="GeoJSON", geometry_type="Polygon",
        crs="EPSG:32650", fields=["DM", "MC", "SJ"],
        field_data=[np.array(["HX", "HX-DH", "HX-XH"], dtype=object),
                    np.array(["合溪区", "东湖街道办事处", "西湖街道办事处"], dtype=object),
                    np.array([None, "HX", "合溪区"], dtype=object)],
    )  # fmt: skip


def write_dem(path: Path) -> None:
    """200 × 100 cells of 10 m: a bowl 6 m deep whose bottom is the hollow, a nodata corner."""
    yy, xx = np.mgrid[0:100, 0:200]
    z = (20.0 + 0.0005 * ((xx - 100) ** 2 + (yy - 50) ** 2)).astype(np.float32)
    z[:4, :4] = -32768.0
    with rasterio.open(
        path, "w", driver="GTiff", width=200, height=100, count=1, dtype="float32",
        crs="EPSG:32650", transform=from_origin(X0, Y0 + 100 * CELL, CELL, CELL),
        nodata=-32768.0,
    ) as dst:  # fmt: skip
        dst.write(z, 1)


def write_buildings(path: Path) -> None:
    """Two blocks of flats on the slope east of the hollow (EPSG:32650)."""
    geoms = [shapely.box(X0 + 1300, Y0 + 300, X0 + 1360, Y0 + 420),
             shapely.box(X0 + 1400, Y0 + 600, X0 + 1480, Y0 + 640)]  # fmt: skip
    pyogrio.raw.write(
        path,
        geometry=shapely.to_wkb(geoms),
        driver="GeoJSON",
        geometry_type="Polygon",
        crs="EPSG:32650",
        fields=["楼号"],
        field_data=[np.array(["1#", "2#"], dtype=object)],
    )


def write_xlsx(path: Path, rows: list[list[object]]) -> None:
    from fangxun.setup.mapping import to_xlsx

    path.write_bytes(to_xlsx(rows))


def write_json(path: Path, data: dict[str, object]) -> Path:
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_second_district_from_files_forecasts_and_warns(district_env: Path) -> None:
    d = district_env
    code, out = fangxun("db", "upgrade")
    assert code == 0, out
    code, out = fangxun("setup", "check")
    assert code == 1 and "Not ready" in out  # an empty database is not a district

    write_boundaries(d / "辖区.geojson")
    units_map = write_json(d / "units.json",
                           {"columns": {"DM": "code", "MC": "name", "SJ": "parent"}})  # fmt: skip
    code, out = fangxun("setup", "units", str(d / "辖区.geojson"), "--mapping", str(units_map))
    assert code == 0 and "3 created" in out, out

    write_xlsx(d / "防汛责任人.xlsx", [
        ["序号", "姓名", "工作单位", "职务", "联系电话", "邮箱"],
        [1, "王东", "东湖街道办事处", "主任", 13900000001, "wangdong@hexi.example.cn"],
        [2, "李西", "西湖街道办事处", "值班员", 13900000002, None],
        [3, "赵合", "合溪区", "防汛办主任", 13900000003, "zhaohe@hexi.example.cn"],
    ])  # fmt: skip
    people_map = write_json(d / "people.json", {"columns": {
        "序号": None, "姓名": "name", "工作单位": "unit", "职务": "post", "联系电话": "phone",
        "邮箱": "email"}})  # fmt: skip
    code, out = fangxun("setup", "people", str(d / "防汛责任人.xlsx"), "--mapping", str(people_map))
    assert code == 0 and "3 created" in out, out

    write_dem(d / "dem_utm50.tif")
    code, out = fangxun("setup", "terrain", str(d / "dem_utm50.tif"))
    assert code == 0 and "EPSG:32650" in out, out

    (d / "roads.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"名称": "合溪路"}, "geometry": {
            "type": "LineString", "coordinates": [list(TO_WGS.transform(X0, Y0 + 495)),
                                                  list(TO_WGS.transform(X0 + 2000, Y0 + 495))]}}
    ]}), encoding="utf-8")  # fmt: skip
    code, out = fangxun("setup", "roads", str(d / "roads.geojson"))
    assert code == 0 and "1 line(s)" in out and "Offline basemap: hillshade" in out, out
    hillshade = json.loads((d / "var" / "district" / "hillshade.json").read_text("utf-8"))
    assert hillshade["synthetic"] is False and hillshade["source_crs"] == "EPSG:32650"

    write_buildings(d / "buildings.geojson")
    code, out = fangxun("setup", "buildings", str(d / "buildings.geojson"), "--mode", "blocked")
    assert code == 0 and "2 footprint(s), blocked" in out, out

    # The q form as local design manuals publish it: q = 3073(1 + 0.892 lg P)/(t + 15.1)^0.824.
    code, out = fangxun("setup", "storm-formula", "--a", "3073", "--b", "15.1", "--c", "0.892",
                        "--n", "0.824", "--unit", "L/(s·ha)",
                        "--source", "合溪区暴雨强度公式 (test, 2026)")  # fmt: skip
    assert code == 0 and "18.44" in out, out  # a = 3073 / 166.67 mm/min·min^n

    gauge = TO_WGS.transform(X0 + 400, Y0 + 700)
    (d / "测站.csv").write_text(
        "站码,站名,类型,经度,纬度,所属单位\n"
        f"HXRG01,合溪雨量站,雨量站,{gauge[0]:.7f},{gauge[1]:.7f},合溪区\n",
        encoding="utf-8",
    )
    stations_map = write_json(d / "stations.json", {"columns": {
        "站码": "code", "站名": "name", "类型": "kind", "经度": "lon", "纬度": "lat",
        "所属单位": "unit"}})  # fmt: skip
    code, out = fangxun("setup", "stations", str(d / "测站.csv"), "--mapping", str(stations_map))
    assert code == 0 and "1 created" in out, out

    code, out = fangxun("setup", "check")
    assert code == 1 and "hazard points" in out and "Not ready" in out

    # The hazard ledger with the office's headers and points read off a web map (GCJ-02).
    hollow = TO_WGS.transform(*HOLLOW)
    slope = TO_WGS.transform(X0 + 150, Y0 + 850)
    rows: list[list[object]] = [["序号", "点位编号", "积水点位置", "类别", "经度(高德)",
                                 "纬度(高德)", "所属办事处", "包保责任人"]]  # fmt: skip
    for n, (code_, name, where, unit, person) in enumerate(
        [("HX-01", "合溪路下穿", hollow, "东湖街道办事处", "王东"),
         ("HX-02", "西山坡", slope, "HX-XH", "李西")],
        start=1,
    ):  # fmt: skip
        g = wgs84_to_gcj02(*where)
        rows.append([n, code_, name, "低洼路段", g[0], g[1], unit, person])
    write_xlsx(d / "积水点台账.xlsx", rows)
    hazard_map = write_json(d / "hazards.json", {"columns": {
        "序号": None, "点位编号": "code", "积水点位置": "name", "类别": "kind",
        "经度(高德)": "lon", "纬度(高德)": "lat", "所属办事处": "unit",
        "包保责任人": "responsible"}})  # fmt: skip
    code, out = fangxun("hazards", "import", str(d / "积水点台账.xlsx"), "--mapping",
                        str(hazard_map), "--datum", "gcj02")  # fmt: skip
    assert code == 0, out

    code, out = fangxun("setup", "check")
    assert code == 0 and "Ready" in out, out

    code, out = fangxun("forecast", "run", "--storm", "chicago", "--return-period", "50",
                        "--hours", "1", "--horizon", "2", "--purpose", "operational")  # fmt: skip
    assert code == 0, out
    assert "forecast #1: done" in out and "HX-01" in out
    code, out = fangxun("warnings", "evaluate")
    assert code == 0, out
    # Predicted ponding below red waits for the duty forecaster's approval (issue 19).
    code, out = fangxun("warnings", "proposals")
    assert code == 0 and "#1 pending" in out and "合溪路下穿" in out, out
    code, out = fangxun("warnings", "approve", "1", "--note", "合溪区试运行")
    assert code == 0 and "approved" in out, out
    code, out = fangxun("warnings", "list")
    assert code == 0 and "合溪路下穿" in out, out

    engine = make_engine(get_settings().database_url)
    try:
        with session_scope(engine) as session:
            run = session.scalars(select(ForecastRun)).one()
            assert "合溪区暴雨强度公式" in (run.message or "") + json.dumps(run.summary or {})
            assert run.summary is not None and run.summary["buildings"]["cells"] > 0
            point = session.scalars(select(HazardPoint).where(HazardPoint.code == "HX-01")).one()
            # GCJ-02 converted on the way in: the point is at the hollow to a metre, not 500 m off.
            assert abs(point.lon - hollow[0]) < 1e-5 and abs(point.lat - hollow[1]) < 1e-5
            warning = session.scalars(
                select(WarningRow).where(WarningRow.hazard_point_id == point.id)
            ).one()
            assert warning.kind.value == "predicted_ponding"
            assert warning.evidence["forecast_run_id"] == run.id
            # Decimetres of water at the bottom of the bowl (never centimetres from a point
            # misplaced ~500 m up the slope), more than on the slope itself.
            results = {
                r.point_id: r.peak_depth_m
                for r in session.scalars(
                    select(ForecastPointResult).where(ForecastPointResult.run_id == run.id)
                )
            }
            assert warning.evidence["peak_depth_m"] == pytest.approx(results[point.id], abs=1e-3)
            assert results[point.id] > 0.3 > max(v for k, v in results.items() if k != point.id)
            # The point's responsible person (from the ledger's own column) is told by email.
            told = session.scalars(select(Notification)).all()
            assert [(n.recipient_name, n.address) for n in told] == [
                ("王东", "wangdong@hexi.example.cn")
            ]
    finally:
        engine.dispose()
