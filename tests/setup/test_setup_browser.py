"""Part of the second district's setup done through the 系统管理 pages in headless Chromium: an
administrator sees what is missing, imports people and GCJ-02 hazard points through the
column-mapping step (saving the mapping by name), and the map opens on the district with its
own hillshade and its street offices' boundaries. Screenshots at 1600×1000 go to tests/artifacts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
import shapely
from pyproj import Transformer
from rasterio.transform import from_origin
from sqlalchemy import select

import factories
from fangxun.config import Settings
from fangxun.datums import wgs84_to_gcj02
from fangxun.db import make_engine, session_scope
from fangxun.forecast.service import district_dir, district_terrain_path
from fangxun.hazards.models import HazardPoint
from fangxun.org import service as org_service
from fangxun.org.models import Person, Role, UnitKind
from fangxun.org.schemas import UserCreate
from fangxun.setup.mapping import to_xlsx
from fangxun.setup.models import ColumnMapping
from fangxun.setup.service import refresh_basemap
from fangxun.setup.terrain import store_terrain
from web_harness import SETUP_ACTOR

pytestmark = pytest.mark.browser

X0, Y0 = 526_000.0, 3_525_000.0
TO_WGS = Transformer.from_crs(32650, 4326, always_xy=True)
ADMIN, PASSWORD = "fxadmin", "correct-horse-battery"


def _ring(x: float, y: float, w: float, h: float) -> dict[str, object]:
    pts = [
        list(TO_WGS.transform(px, py)) for px, py in shapely.box(x, y, x + w, y + h).exterior.coords
    ]
    return {"type": "Polygon", "coordinates": [pts]}


@pytest.fixture
def hexi(web_settings: Settings, web_db: str, tmp_path: Path) -> None:
    """合溪区 (boundaries, terrain, hillshade) and an administrator; no people, no points."""
    engine = make_engine(web_db)
    try:
        with session_scope(engine) as session:
            org_service.create_user(
                session=session,
                user_in=UserCreate(username=ADMIN, password=PASSWORD, role=Role.admin),
                actor=SETUP_ACTOR,
            )
            d = factories.make_unit(
                session, "HX", name_zh="合溪区", geometry=_ring(X0, Y0, 2000, 1000)
            )
            for code, name, dx in (
                ("HX-DH", "东湖街道办事处", 0),
                ("HX-XH", "西湖街道办事处", 1000),
            ):
                factories.make_unit(session, code, UnitKind.street_office, d.id, name_zh=name,
                                    geometry=_ring(X0 + dx, Y0, 1000, 1000))  # fmt: skip
        dem = tmp_path / "dem.tif"
        yy, xx = np.mgrid[0:100, 0:200]
        z = (20.0 + 0.0005 * ((xx - 100) ** 2 + (yy - 50) ** 2) + 0.8 * np.sin(xx / 9.0)).astype(
            np.float32
        )
        with rasterio.open(
            dem, "w", driver="GTiff", width=200, height=100, count=1, dtype="float32",
            crs="EPSG:32650", transform=from_origin(X0, Y0 + 1000, 10, 10), nodata=-9999.0,
        ) as dst:  # fmt: skip
            dst.write(z, 1)
        store_terrain(dem, district_terrain_path(web_settings))
        with session_scope(engine) as session:
            refresh_basemap(session=session, terrain=district_terrain_path(web_settings),
                            folder=district_dir(web_settings))  # fmt: skip
    finally:
        engine.dispose()


def _login(page: Any, url: str) -> None:
    page.goto(url + "/login")
    page.get_by_label("用户名").fill(ADMIN)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/map")


def test_setup_through_the_pages(
    live_server: Any, page: Any, hexi: None, web_db: str, tmp_path: Path, artifacts_dir: Path
) -> None:
    page.set_viewport_size({"width": 1600, "height": 1000})
    _login(page, live_server.url)
    page.get_by_role("link", name="系统管理").first.click()
    page.wait_for_url("**/admin")
    assert page.get_by_test_id("not-ready").is_visible()
    missing = page.locator("[data-testid='readiness-item'][data-ok='false']").all_inner_texts()
    assert any("单位人员" in m for m in missing)
    page.screenshot(path=str(artifacts_dir / "setup-readiness.png"), full_page=True)

    # People: the office's own sheet, mapped by the suggested fields, the mapping saved by name.
    sheet = tmp_path / "防汛责任人.xlsx"
    sheet.write_bytes(to_xlsx([
        ["序号", "姓名", "工作单位", "职务", "联系电话", "邮箱"],
        [1, "王东", "东湖街道办事处", "主任", 13900000001, "wangdong@hexi.example.cn"],
        [2, "李西", "西湖街道办事处", "值班员", 13900000002, None],
    ]))  # fmt: skip
    page.goto(live_server.url + "/admin/people")
    page.get_by_test_id("import-link").click()
    page.get_by_test_id("file").set_input_files(str(sheet))
    page.get_by_test_id("preview-button").click()
    page.wait_for_selector("[data-testid='preview']")
    assert page.get_by_test_id("field-姓名").input_value() == "name"
    assert page.get_by_test_id("field-序号").input_value() == ""
    page.get_by_test_id("field-联系电话").select_option("phone")
    page.get_by_test_id("save-as").fill("街道责任人名单")
    page.screenshot(path=str(artifacts_dir / "setup-mapping.png"), full_page=True)
    page.get_by_test_id("apply-button").click()
    summary = page.get_by_test_id("summary").inner_text()
    assert "新建 2 条" in summary and page.get_by_test_id("saved").is_visible()

    # Hazard points read off a web map (GCJ-02), with the office's headers.
    hollow = TO_WGS.transform(X0 + 1005, Y0 + 495)
    g = wgs84_to_gcj02(*hollow)
    ledger = tmp_path / "积水点台账.xlsx"
    ledger.write_bytes(to_xlsx([
        ["序号", "点位编号", "积水点位置", "类别", "经度(高德)", "纬度(高德)", "所属办事处",
         "责任人"],
        [1, "HX-01", "合溪路下穿", "下穿通道", g[0], g[1], "东湖街道办事处", "王东"],
    ]))  # fmt: skip
    page.goto(live_server.url + "/admin/import/hazards")
    page.get_by_test_id("file").set_input_files(str(ledger))
    page.get_by_test_id("datum").select_option("gcj02")
    page.get_by_test_id("preview-button").click()
    page.wait_for_selector("[data-testid='preview']")
    assert page.get_by_test_id("field-责任人").input_value() == "responsible"
    page.get_by_test_id("apply-button").click()
    assert "新建 1 条" in page.get_by_test_id("summary").inner_text()

    engine = make_engine(web_db)
    try:
        with session_scope(engine) as session:
            assert {p.name for p in session.scalars(select(Person))} == {"王东", "李西"}
            saved = session.scalars(select(ColumnMapping)).one()
            assert saved.name == "街道责任人名单" and saved.columns["联系电话"] == "phone"
            point = session.scalars(select(HazardPoint)).one()
            assert abs(point.lon - hollow[0]) < 1e-5 and abs(point.lat - hollow[1]) < 1e-5
    finally:
        engine.dispose()

    page.goto(live_server.url + "/admin")
    ok = page.locator("[data-testid='readiness-item'][data-ok='true']").all_inner_texts()
    assert any("隐患点" in t for t in ok) and any("单位人员" in t for t in ok)

    # The map: on the district, its own hillshade, the street offices' boundaries as a layer.
    page.goto(live_server.url + "/map")
    page.wait_for_selector("#map[data-ready='true']")
    page.wait_for_function(
        "() => { const i = document.querySelector('img.fangxun-hillshade');"
        " return i && i.complete && i.naturalWidth > 0; }"
    )
    count = page.evaluate(
        "() => { let n = 0; window.fangxun.overlays.jurisdictions.eachLayer("
        "g => g.eachLayer(() => n++)); return n; }"
    )
    assert count == 3
    # Hazard points keep their own markers (filled red), not the boundaries' outline style.
    fills = page.evaluate(
        "() => { const out = []; window.fangxun.overlays.hazards.eachLayer("
        "g => g.eachLayer(m => out.push([m.options.fill, m.options.fillColor]))); return out; }"
    )
    assert len(fills) == 1 and fills[0][0] is True and fills[0][1]
    centre = page.evaluate(
        "() => { const c = window.fangxun.map.getCenter(); return [c.lat, c.lng]; }"
    )
    mid = TO_WGS.transform(X0 + 1000, Y0 + 500)
    assert abs(centre[0] - mid[1]) < 0.003 and abs(centre[1] - mid[0]) < 0.003
    assert page.get_by_test_id("terrain-label").count() == 0  # not the synthetic demo terrain
    layers = page.locator(".leaflet-control-layers").inner_text()
    assert (
        "本区地形" in layers
        and "办事处辖区" in layers
        and "建设中" not in layers.split("办事处辖区")[1][:8]
    )
    page.screenshot(path=str(artifacts_dir / "setup-map.png"))
