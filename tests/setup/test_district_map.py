"""The map of a district set up from its own data: the view from its boundary, its own hillshade,
the street offices' boundaries as a layer, an MBTiles basemap, and CAP areas from boundaries."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import rasterio
import shapely
from fastapi.testclient import TestClient
from matplotlib.image import imread
from pyproj import Transformer
from rasterio.transform import from_origin

import factories
from fangxun.config import Settings
from fangxun.db import make_engine, session_scope
from fangxun.forecast.service import district_dir, district_terrain_path
from fangxun.org import service as org_service
from fangxun.org.models import Role, UnitKind
from fangxun.org.schemas import UserCreate
from fangxun.setup.service import refresh_basemap
from fangxun.setup.terrain import store_terrain
from fangxun.warning_rules import WarningRules
from fangxun.warnings import cap
from fangxun.warnings.models import Warning as WarningRow
from fangxun.warnings.service import _area
from web_harness import SETUP_ACTOR, LoginFn

X0, Y0 = 526_000.0, 3_525_000.0
TO_WGS = Transformer.from_crs(32650, 4326, always_xy=True)


def _ring(x: float, y: float, w: float, h: float) -> dict[str, object]:
    box = shapely.box(x, y, x + w, y + h)
    pts = [list(TO_WGS.transform(px, py)) for px, py in box.exterior.coords]
    return {"type": "Polygon", "coordinates": [pts]}


def _map_config(html: str) -> dict[str, object]:
    found = re.search(r'<script type="application/json" id="map-config">(.*?)</script>', html, re.S)
    assert found, "no map config"
    return json.loads(found.group(1))  # type: ignore[no-any-return]


@pytest.fixture
def district(web_settings: Settings, web_db: str, tmp_path: Path) -> dict[str, int]:
    """合溪区 with two street offices (boundaries), its terrain and hillshade."""
    engine = make_engine(web_db)
    try:
        with session_scope(engine) as session:
            d = factories.make_unit(session, "HX", name_zh="合溪区",
                                    geometry=_ring(X0, Y0, 2000, 1000))  # fmt: skip
            east = factories.make_unit(
                session, "HX-DH", UnitKind.street_office, d.id, name_zh="东湖街道",
                geometry=_ring(X0, Y0, 1000, 1000),
            )  # fmt: skip
            west = factories.make_unit(session, "HX-XH", UnitKind.street_office, d.id,
                                       name_zh="西湖街道",
                                       geometry=_ring(X0 + 1000, Y0, 1000, 1000))  # fmt: skip
            org_service.create_user(
                session=session,
                user_in=UserCreate(
                    username="donghu",
                    password="correct-horse-battery",
                    role=Role.unit,
                    unit_id=east.id,
                ),
                actor=SETUP_ACTOR,
            )
            ids = {"district": d.id, "east": east.id, "west": west.id}
        dem = tmp_path / "dem.tif"
        z = np.full((100, 200), 25.0, dtype=np.float32)
        z[:10, :10] = -9999.0
        with rasterio.open(
            dem, "w", driver="GTiff", width=200, height=100, count=1, dtype="float32",
            crs="EPSG:32650", transform=from_origin(X0, Y0 + 1000, 10, 10), nodata=-9999.0,
        ) as dst:  # fmt: skip
            dst.write(z, 1)
        store_terrain(dem, district_terrain_path(web_settings))
        with session_scope(engine) as session:
            meta = refresh_basemap(session=session, terrain=district_terrain_path(web_settings),
                                   folder=district_dir(web_settings))  # fmt: skip
        assert meta is not None and meta["synthetic"] is False
    finally:
        engine.dispose()
    return ids


def test_district_hillshade_and_view(
    web_client: TestClient, web_settings: Settings, district: dict[str, int], login: LoginFn
) -> None:
    folder = district_dir(web_settings)
    meta = json.loads((folder / "hillshade.json").read_text(encoding="utf-8"))
    (_south, west), (north, _east) = meta["bounds"]
    lon0, _ = TO_WGS.transform(X0, Y0)
    _, lat1 = TO_WGS.transform(X0 + 2000, Y0 + 1000)
    assert west == pytest.approx(lon0, abs=2e-4) and north == pytest.approx(lat1, abs=2e-4)
    image = imread(folder / "hillshade.png")
    assert image.shape[2] == 4
    assert image[2, 2, 3] == 0 and image[image.shape[0] // 2, image.shape[1] // 2, 3] == 1.0
    login(web_client)
    config = _map_config(web_client.get("/map").text)
    hillshade = config["hillshade"]
    assert isinstance(hillshade, dict) and hillshade["synthetic"] is False
    assert config["labels"]["terrain"] == "本区地形"  # type: ignore[index]
    view = config["view"]
    assert isinstance(view, dict)
    ring = _ring(X0, Y0, 2000, 1000)["coordinates"][0]  # type: ignore[index]
    lons, lats = [p[0] for p in ring], [p[1] for p in ring]
    assert view["bounds"] == [[min(lats), min(lons)], [max(lats), max(lons)]]
    overlays = {o["key"]: o for o in config["overlays"]}  # type: ignore[union-attr,index]
    assert overlays["jurisdictions"]["source"] == "/units/boundaries.geojson"
    assert overlays["jurisdictions"]["pending"] is False
    png = web_client.get("/web/basemap/hillshade.png")
    assert png.status_code == 200 and png.content == (folder / "hillshade.png").read_bytes()


def test_boundaries_layer_follows_the_jurisdiction(
    web_client: TestClient, district: dict[str, int], login: LoginFn
) -> None:
    login(web_client)
    data = web_client.get("/units/boundaries.geojson").json()
    assert [f["properties"]["code"] for f in data["features"]] == ["HX", "HX-DH", "HX-XH"]
    assert data["features"][1]["geometry"]["type"] == "Polygon"
    web_client.cookies.clear()
    login(web_client, "donghu", "correct-horse-battery")
    data = web_client.get("/units/boundaries.geojson").json()
    assert [f["properties"]["code"] for f in data["features"]] == ["HX-DH"]
    web_client.cookies.clear()
    assert web_client.get("/units/boundaries.geojson").status_code in (303, 401)


def _mbtiles(path: Path, fmt: str = "png") -> bytes:
    tile = b"\x89PNG\r\n\x1a\n-one-tile"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
        db.execute("CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, "
                   "tile_row INTEGER, tile_data BLOB)")  # fmt: skip
        db.executemany("INSERT INTO metadata VALUES (?, ?)",
                       [("name", "合溪区影像"), ("format", fmt),
                        ("bounds", "117.26,31.84,117.30,31.87")])  # fmt: skip
        # XYZ 14/13528/6762 is TMS row 2^14 - 1 - 6762 = 9621.
        db.execute("INSERT INTO tiles VALUES (14, 13528, 9621, ?)", (tile,))
    return tile


def test_mbtiles_basemap(
    web_client: TestClient, web_settings: Settings, district: dict[str, int], login: LoginFn
) -> None:
    tile = _mbtiles(district_dir(web_settings) / "basemap.mbtiles")
    login(web_client)
    config = _map_config(web_client.get("/map").text)
    mbtiles = config["mbtiles"]
    assert isinstance(mbtiles, dict)
    assert mbtiles["min_zoom"] == 14 and mbtiles["max_zoom"] == 14
    assert mbtiles["attribution"] == "合溪区影像"
    got = web_client.get("/web/basemap/tiles/14/13528/6762")
    assert got.status_code == 200 and got.content == tile
    assert got.headers["content-type"] == "image/png"
    assert web_client.get("/web/basemap/tiles/14/13528/9621").status_code == 404  # not TMS
    assert web_client.get("/web/basemap/tiles/3/99/0").status_code == 404
    (district_dir(web_settings) / "basemap.mbtiles").unlink()
    _mbtiles(district_dir(web_settings) / "basemap.mbtiles", fmt="pbf")
    assert "pbf" in web_client.get("/web/basemap/tiles/14/13528/6762").json()["detail"]
    assert _map_config(web_client.get("/map").text)["mbtiles"] is None


def test_cap_area_is_the_unit_boundary(web_db: str, district: dict[str, int]) -> None:
    engine = make_engine(web_db)
    try:
        with session_scope(engine) as session:
            rules = WarningRules()
            warning = WarningRow(subject="x", unit_id=district["east"])
            area = _area(session, warning, rules)
            assert isinstance(area, cap.Area) and area.desc == "东湖街道"
            assert area.polygon is not None and len(area.polygon) == 5
            ring = _ring(X0, Y0, 1000, 1000)["coordinates"][0]  # type: ignore[index]
            assert list(area.polygon) == [(lat, lon) for lon, lat in ring]
            # District-wide: the district's boundary.
            area = _area(session, WarningRow(subject="y"), rules)
            assert area.polygon is not None
            assert max(p[1] for p in area.polygon) == pytest.approx(
                TO_WGS.transform(X0 + 2000, Y0)[0], abs=1e-4
            )
    finally:
        engine.dispose()
