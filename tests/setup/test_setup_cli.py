"""`fangxun setup ...` on a second, synthetic district in UTM zone 50N (EPSG:32650), from files
written here: units with boundaries, people and stations with their own headers and a mapping,
a DEM (projected, geographic, ASCII, or without a CRS), and the readiness check."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyogrio.raw
import pyproj
import pytest
import rasterio
import shapely
from pyproj import Transformer
from rasterio.transform import from_origin
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from fangxun.cli.main import app as cli_app
from fangxun.config import get_settings
from fangxun.datums import wgs84_to_gcj02
from fangxun.db import session_scope
from fangxun.forecast.service import terrain_path
from fangxun.monitoring.models import Datastream, Station
from fangxun.notify.models import ContactChannel
from fangxun.org.models import Person, Unit, UnitKind
from fangxun.setup.mapping import to_xlsx
from fangxun.setup.terrain import projected_crs_for

#: South-west corner of the synthetic district, EPSG:32650 (near 117.28°E 31.86°N), m.
X0, Y0 = 526_000.0, 3_525_000.0
TO_WGS = Transformer.from_crs(32650, 4326, always_xy=True)
runner = CliRunner()


@pytest.fixture
def env(sqlite_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    monkeypatch.setenv("FANGXUN_DATABASE_URL", sqlite_engine.url.render_as_string(False))
    monkeypatch.setenv("FANGXUN_ENVIRONMENT", "test")
    monkeypatch.setenv("FANGXUN_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("FANGXUN_FORECAST_TERRAIN_PATH", raising=False)
    get_settings.cache_clear()
    yield sqlite_engine
    get_settings.cache_clear()


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(cli_app, ["setup", *args])
    return result.exit_code, result.output


def _box(x: float, y: float, w: float, h: float) -> shapely.Polygon:
    return shapely.box(x, y, x + w, y + h)


def write_units_gpkg(path: Path) -> None:
    """The district (2 km × 1 km) and two street offices, in EPSG:32650, own headers."""
    geoms = [_box(X0, Y0, 2000, 1000), _box(X0, Y0, 1000, 1000), _box(X0 + 1000, Y0, 1000, 1000)]
    pyogrio.raw.write(
        path, geometry=shapely.to_wkb(geoms), driver="GPKG", geometry_type="Polygon",
        crs="EPSG:32650", fields=["编码", "名称", "上级"],
        field_data=[np.array(["HX", "HX-DH", "HX-XH"], dtype=object),
                    np.array(["合溪区", "东湖街道办事处", "西湖街道办事处"], dtype=object),
                    np.array([None, "HX", "合溪区"], dtype=object)],
    )  # fmt: skip


UNIT_MAPPING = {"columns": {"编码": "code", "名称": "name", "上级": "parent"}}


def write_dem(path: Path, *, crs: str | None = "EPSG:32650", cell: float = 10.0) -> None:
    """A 200 × 100 cell bowl with a nodata corner."""
    yy, xx = np.mgrid[0:100, 0:200]
    z = (20.0 + 0.0005 * ((xx - 100) ** 2 + (yy - 50) ** 2)).astype(np.float32)
    z[:5, :5] = -32768.0
    with rasterio.open(
        path, "w", driver="GTiff", width=200, height=100, count=1, dtype="float32", crs=crs,
        transform=from_origin(X0, Y0 + 100 * cell, cell, cell), nodata=-32768.0,
    ) as dst:  # fmt: skip
        dst.write(z, 1)


def _mapping(tmp: Path, name: str, data: dict[str, object]) -> Path:
    path = tmp / name
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_units_with_boundaries_from_geopackage(env: Engine, tmp_path: Path) -> None:
    gpkg = tmp_path / "辖区.gpkg"
    write_units_gpkg(gpkg)
    code, out = _run(
        "units", str(gpkg), "--mapping", str(_mapping(tmp_path, "u.json", UNIT_MAPPING))
    )
    assert code == 0, out
    assert "3 created" in out
    with session_scope(env) as session:
        units = {u.code: u for u in session.scalars(select(Unit))}
        assert units["HX"].kind is UnitKind.district and units["HX"].parent_id is None
        assert units["HX-XH"].kind is UnitKind.street_office
        assert units["HX-XH"].parent_id == units["HX"].id  # parent named by its name
        geom = units["HX"].geometry
        assert geom is not None and geom["type"] == "Polygon"
        # Reprojected to WGS 84 degrees, not left in metres: the SW corner is a vertex.
        w, south = TO_WGS.transform(X0, Y0)
        assert any(abs(p[0] - w) < 1e-7 and abs(p[1] - south) < 1e-7
                   for p in geom["coordinates"][0])  # fmt: skip
    # Again: the same file updates, never duplicates.
    code, out = _run("units", str(gpkg), "--mapping", str(tmp_path / "u.json"))
    assert code == 0 and "0 created, 3 updated" in out


def test_units_from_shapefile_and_one_without_crs(env: Engine, tmp_path: Path) -> None:
    shp = tmp_path / "units.shp"
    geoms = [_box(X0, Y0, 2000, 1000), _box(X0, Y0, 1000, 1000)]
    fields = {"fields": ["code", "name", "parent"],
              "field_data": [np.array(["S1", "S1-A"], dtype=object),
                             np.array(["区", "甲街道"], dtype=object),
                             np.array(["", "S1"], dtype=object)]}  # fmt: skip
    pyogrio.raw.write(shp, geometry=shapely.to_wkb(geoms), driver="ESRI Shapefile",
                      geometry_type="Polygon", crs="EPSG:32650", **fields)  # fmt: skip
    code, out = _run("units", str(shp))
    assert code == 0, out
    with session_scope(env) as session:
        unit = session.scalar(select(Unit).where(Unit.code == "S1-A"))
        assert unit is not None and unit.kind is UnitKind.street_office
        assert unit.geometry is not None
        assert 117 < unit.geometry["coordinates"][0][0][0] < 118
    bare = tmp_path / "bare.shp"
    with pytest.warns(UserWarning, match="crs"):  # pyogrio warns of exactly what we test
        pyogrio.raw.write(bare, geometry=shapely.to_wkb(geoms), driver="ESRI Shapefile",
                          geometry_type="Polygon", crs=None, **fields)  # fmt: skip
    code, out = _run("units", str(bare))
    assert code == 65 and "no CRS" in out


def test_units_geojson_without_mapping_and_bad_rows(env: Engine, tmp_path: Path) -> None:
    gj = tmp_path / "units.geojson"
    ring = [[117.28, 31.86], [117.30, 31.86], [117.30, 31.87], [117.28, 31.86]]
    features = [
        {"type": "Feature", "properties": {"code": "D2", "name": "区", "kind": "区"},
         "geometry": {"type": "Polygon", "coordinates": [ring]}},
        {"type": "Feature", "properties": {"code": "D2-1", "name": "一办", "parent": "NOPE"},
         "geometry": {"type": "Polygon", "coordinates": [ring]}},
    ]  # fmt: skip
    gj.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    code, out = _run("units", str(gj))
    assert code == 65 and "NOPE" in out
    with session_scope(env) as session:
        assert session.scalar(select(Unit).where(Unit.code == "D2")) is None  # atomic
    features[1]["properties"]["parent"] = "D2"  # type: ignore[index]
    gj.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    code, out = _run("units", str(gj))
    assert code == 0, out


def test_terrain_projected_geotiff_is_the_forecast_terrain(env: Engine, tmp_path: Path) -> None:
    dem = tmp_path / "dem.tif"
    write_dem(dem)
    code, out = _run("terrain", str(dem))
    assert code == 0, out
    assert "EPSG:32650" in out and "200×100" in out
    stored = terrain_path(get_settings())
    assert stored == tmp_path / "var" / "district" / "terrain.tif"
    with rasterio.open(stored) as src:
        assert src.crs.to_epsg() == 32650 and src.res == (10.0, 10.0)
        band = src.read(1, masked=True)
        assert band.mask[:5, :5].all() and not band.mask[50, 100]
        assert float(band.min()) == pytest.approx(20.0)


def test_terrain_geographic_is_reprojected_to_the_utm_zone(env: Engine, tmp_path: Path) -> None:
    dem = tmp_path / "geo.tif"
    lon0, lat0 = TO_WGS.transform(X0, Y0)
    yy, xx = np.mgrid[0:50, 0:80]
    z = (30.0 + 0.01 * xx + 0.02 * yy).astype(np.float32)
    with rasterio.open(
        dem, "w", driver="GTiff", width=80, height=50, count=1, dtype="float32", crs="EPSG:4326",
        transform=from_origin(lon0, lat0 + 50 * 1e-4, 1e-4, 1e-4), nodata=-9999.0,
    ) as dst:  # fmt: skip
        dst.write(z, 1)
    code, out = _run("terrain", str(dem))
    assert code == 0, out
    assert "reprojected from EPSG:4326" in out
    with rasterio.open(terrain_path(get_settings())) as src:
        assert src.crs.to_epsg() == 32650
        # 1e-4° is about 9.5 m east-west and 11 m north-south here: metres, never 0.0001.
        assert 8.0 < src.res[0] < 12.0 and src.res[0] == src.res[1]
        band = src.read(1, masked=True)
        assert float(band.min()) > 29.9 and float(band.max()) < 32.0


def test_terrain_ascii_with_prj_and_refusals(env: Engine, tmp_path: Path) -> None:
    asc = tmp_path / "dem.asc"
    rows = "\n".join(" ".join("-9999" if (r, c) == (0, 0) else f"{25 + c * 0.1:.1f}"
                              for c in range(30)) for r in range(20))  # fmt: skip
    asc.write_text(f"ncols 30\nnrows 20\nxllcorner {X0}\nyllcorner {Y0}\ncellsize 5\n"
                   f"NODATA_value -9999\n{rows}\n")  # fmt: skip
    asc.with_suffix(".prj").write_text(rasterio.crs.CRS.from_epsg(32650).to_wkt())
    code, out = _run("terrain", str(asc))
    assert code == 0, out
    assert "30×20 cells of 5 m" in out
    bare = tmp_path / "bare.tif"
    write_dem(bare, crs=None)
    code, out = _run("terrain", str(bare))
    assert code == 65 and "no CRS" in out and "gdalwarp" in out
    feet = tmp_path / "feet.tif"
    write_dem(feet, crs="EPSG:2236")  # NAD83 / Florida East (ftUS)
    code, out = _run("terrain", str(feet))
    assert code == 65 and "not metres" in out


def test_projected_crs_choice() -> None:
    assert projected_crs_for(117.28, 31.86) == "EPSG:32650"
    assert projected_crs_for(113.6, 34.75) == "EPSG:32649"
    # CGCS2000 / 3-degree Gauss-Kruger CM 117E and CM 120E, checked against PROJ's names.
    for lon, epsg, cm in ((117.28, 4548, "117E"), (121.4, 4549, "120E"), (75.2, 4534, "75E")):
        assert projected_crs_for(lon, 31.0, cgcs2000=True) == f"EPSG:{epsg}"
        assert pyproj.CRS.from_epsg(epsg).name.endswith(f"CM {cm}")
    with pytest.raises(ValueError):
        projected_crs_for(10.0, 50.0, cgcs2000=True)


def _setup_units(tmp_path: Path) -> None:
    gpkg = tmp_path / "units.gpkg"
    write_units_gpkg(gpkg)
    assert (
        _run("units", str(gpkg), "--mapping", str(_mapping(tmp_path, "u.json", UNIT_MAPPING)))[0]
        == 0
    )


def test_people_from_excel_with_mapping(env: Engine, tmp_path: Path) -> None:
    _setup_units(tmp_path)
    sheet = tmp_path / "人员.xlsx"
    sheet.write_bytes(to_xlsx([
        ["序号", "姓名", "所在单位", "职务", "手机", "电子邮箱"],
        [1, "王东", "东湖街道办事处", "主任", 13800000001, "wd@example.cn"],
        [2, "李西", "HX-XH", "值班员", "13800000002", None],
        [None, None, None, None, None, None],
    ]))  # fmt: skip
    mapping = _mapping(tmp_path, "p.json", {"columns": {
        "序号": None, "姓名": "name", "所在单位": "unit", "职务": "post", "手机": "phone",
        "电子邮箱": "email"}})  # fmt: skip
    code, out = _run("people", str(sheet), "--mapping", str(mapping))
    assert code == 0, out
    assert "2 created" in out
    with session_scope(env) as session:
        people = {p.name: p for p in session.scalars(select(Person))}
        assert people["王东"].phone == "13800000001"  # not 13800000001.0
        assert people["王东"].unit.code == "HX-DH" and people["李西"].post == "值班员"
        contacts = list(session.scalars(select(ContactChannel)))
        assert [c.address for c in contacts] == ["wd@example.cn"]
    code, out = _run("people", str(sheet), "--mapping", str(mapping))
    assert code == 0 and "0 created, 2 updated" in out
    bad = tmp_path / "bad.csv"
    bad.write_text("姓名,所在单位\n张三,不存在的办事处\n", encoding="utf-8")
    code, out = _run("people", str(bad), "--mapping", str(mapping))
    assert code == 65 and "row.2.unit" in out and "不存在的办事处" in out
    assert "did you mean" not in out  # nothing near it
    bad.write_text("姓名,所在单位\n张三,东湖街道\n", encoding="utf-8")
    code, out = _run("people", str(bad), "--mapping", str(mapping))
    assert code == 65 and "did you mean '东湖街道办事处'?" in out


def test_stations_from_csv_with_mapping_and_gcj02(env: Engine, tmp_path: Path) -> None:
    _setup_units(tmp_path)
    lon, lat = TO_WGS.transform(X0 + 500, Y0 + 500)
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    csv = tmp_path / "测站.csv"
    csv.write_text(
        "站码,站名,类型,经度,纬度,所属单位,时段(秒)\n"
        f"HXRG01,东湖雨量站,雨量站,{g_lon},{g_lat},东湖街道办事处,300\n"
        f"HXPD01,东湖积水点,积水监测点,{g_lon},{g_lat},HX-DH,\n",
        encoding="gb18030",  # as Excel on Chinese Windows saves it
    )  # fmt: skip
    mapping = _mapping(tmp_path, "s.json", {"columns": {
        "站码": "code", "站名": "name", "类型": "kind", "经度": "lon", "纬度": "lat",
        "所属单位": "unit", "时段(秒)": "interval_s"}})  # fmt: skip
    code, out = _run("stations", str(csv), "--mapping", str(mapping), "--datum", "gcj02")
    assert code == 0, out
    with session_scope(env) as session:
        st = session.scalar(select(Station).where(Station.code == "HXRG01"))
        assert st is not None
        assert abs(st.lon - lon) < 1e-5 and abs(st.lat - lat) < 1e-5  # ~1 m
        streams = {d.code: d for d in session.scalars(select(Datastream))}
        assert streams["HXRG01-rain"].observed_property.code == "rainfall"
        assert streams["HXRG01-rain"].interval_s == 300
        assert streams["HXPD01-depth"].unit == "cm"
    code, out = _run("stations", str(csv), "--mapping", str(mapping), "--datum", "gcj02")
    assert code == 0 and "0 created, 2 updated" in out


def test_check_lists_what_is_missing_then_passes(env: Engine, tmp_path: Path) -> None:
    code, out = _run("check")
    assert code == 1
    for missing in ("the district unit", "terrain", "rain gauge", "hazard points", "people"):
        assert missing in out
    assert "Not ready" in out
    _setup_units(tmp_path)
    dem = tmp_path / "dem.tif"
    write_dem(dem)
    assert _run("terrain", str(dem))[0] == 0
    people = tmp_path / "people.csv"
    people.write_text("name,unit,email\n王东,HX-DH,wd@example.cn\n", encoding="utf-8")
    assert _run("people", str(people))[0] == 0
    code, out = _run("check")
    assert code == 1 and "rain gauge" in out
    lon, lat = TO_WGS.transform(X0 + 500, Y0 + 500)
    stations = tmp_path / "stations.csv"
    stations.write_text(f"code,name,kind,lon,lat,unit\nRG1,雨量站,rain_gauge,{lon},{lat},HX\n")
    assert _run("stations", str(stations))[0] == 0
    points = tmp_path / "points.xlsx"
    points.write_bytes(to_xlsx([["编号", "名称", "类型", "经度", "纬度", "责任单位"],
                                ["HX-P1", "低洼路", "低洼路段", lon, lat, "HX-DH"]]))  # fmt: skip
    result = runner.invoke(cli_app, ["hazards", "import", str(points)])
    assert result.exit_code == 0, result.output
    code, out = _run("check")
    assert code == 0, out
    assert "Ready" in out
