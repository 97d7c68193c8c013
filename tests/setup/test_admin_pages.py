"""系统管理 pages: the setup walk-through with its readiness checklist, the administration lists
and forms, and the import column-mapping step (upload, preview, map, save by name, apply)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pyproj import Transformer
from sqlalchemy import select

import factories
from fangxun.config import Settings
from fangxun.datums import wgs84_to_gcj02
from fangxun.db import make_engine, session_scope
from fangxun.hazards.models import HazardPoint
from fangxun.notify.models import ContactChannel
from fangxun.org import service as org_service
from fangxun.org.models import Person, Role, UnitKind, User
from fangxun.org.schemas import UserCreate
from fangxun.setup.mapping import to_xlsx
from fangxun.setup.models import ColumnMapping
from web_harness import SETUP_ACTOR, LoginFn, csrf_of

ADMIN, PASSWORD = "fxadmin", "correct-horse-battery"
TO_WGS = Transformer.from_crs(32650, 4326, always_xy=True)


@pytest.fixture
def admin(web_db: str) -> dict[str, int]:
    """An administrator and 合溪区 with one street office."""
    engine = make_engine(web_db)
    try:
        with session_scope(engine) as session:
            org_service.create_user(
                session=session,
                user_in=UserCreate(username=ADMIN, password=PASSWORD, role=Role.admin),
                actor=SETUP_ACTOR,
            )
            d = factories.make_unit(session, "HX", name_zh="合溪区")
            o = factories.make_unit(session, "HX-DH", UnitKind.street_office, d.id,
                                    name_zh="东湖街道办事处")  # fmt: skip
            return {"district": d.id, "office": o.id}
    finally:
        engine.dispose()


def _upload(client: TestClient, kind: str, name: str, content: bytes, **data: str) -> str:
    page = client.get(f"/admin/import/{kind}")
    assert page.status_code == 200, page.text
    response = client.post(
        f"/admin/import/{kind}/preview",
        data={"csrf_token": csrf_of(page), **data},
        files={"file": (name, content)},
    )
    return (
        response.text if response.status_code == 200 else f"{response.status_code}:{response.text}"
    )


def _apply_form(html: str, **changes: str) -> dict[str, str]:
    """The mapping form's fields as the browser would send them (selected options)."""
    form: dict[str, str] = {}
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html):
        form[name] = value
    for select_name, body in re.findall(r'<select name="(field_\d+)"[^>]*>(.*?)</select>', html,
                                        re.S):  # fmt: skip
        chosen = re.search(r'<option value="([^"]*)" selected>', body)
        form[select_name] = chosen.group(1) if chosen else ""
    form.update(changes)
    return form


def test_only_administrators_see_the_pages(
    web_client: TestClient, admin: dict[str, int], login: LoginFn
) -> None:
    login(web_client)  # the district office, not an administrator
    assert web_client.get("/admin").status_code == 404
    assert web_client.get("/admin/import/people").status_code == 404
    web_client.cookies.clear()
    login(web_client, ADMIN, PASSWORD)
    home = web_client.get("/admin")
    assert home.status_code == 200
    assert 'data-testid="not-ready"' in home.text and "fangxun setup terrain" in home.text
    for path in ("/admin/units", "/admin/people", "/admin/users", "/admin/stations",
                 "/admin/thresholds", "/admin/channels"):  # fmt: skip
        assert web_client.get(path).status_code == 200, path
    assert "东湖街道办事处" in web_client.get("/admin/units").text


def test_people_import_with_mapping_saved_by_name(
    web_client: TestClient, web_settings: Settings, web_db: str, admin: dict[str, int],
    login: LoginFn,
) -> None:  # fmt: skip
    login(web_client, ADMIN, PASSWORD)
    sheet = to_xlsx([
        ["序号", "姓名", "所在单位", "职务", "手机号码", "电子邮箱"],
        [1, "王东", "东湖街道办事处", "主任", 13900000001, "wd@example.cn"],
        [2, "李西", "HX", "值班员", 13900000002, None],
    ])  # fmt: skip
    html = _upload(web_client, "people", "人员.xlsx", sheet)
    assert 'data-testid="preview"' in html, html[:500]
    form = _apply_form(html)
    # Suggested from the office's headers: 序号 ignored, the rest mapped.
    fields = {form[f"header_{i}"]: form[f"field_{i}"] for i in range(6)}
    assert fields == {"序号": "", "姓名": "name", "所在单位": "unit", "职务": "post",
                      "手机号码": "phone", "电子邮箱": "email"}  # fmt: skip
    done = web_client.post("/admin/import/people/apply", data={**form, "save_as": "街道花名册"})
    assert done.status_code == 200, done.text
    assert "2" in done.text and 'data-testid="saved"' in done.text
    engine = make_engine(web_db)
    try:
        with session_scope(engine) as session:
            people = {p.name: p for p in session.scalars(select(Person))}
            assert (
                people["王东"].phone == "13900000001"
                and people["李西"].unit_id == admin["district"]
            )
            saved = session.scalars(select(ColumnMapping)).one()
            assert (saved.kind, saved.name) == ("people", "街道花名册")
            assert saved.columns["序号"] is None and saved.columns["姓名"] == "name"
    finally:
        engine.dispose()
    assert not list((web_settings.data_dir / "setup_uploads").glob("*.xlsx"))  # applied: gone
    # Next season: other headers; the saved mapping is offered and applied where it fits.
    sheet = to_xlsx([["姓名", "所在单位", "邮箱地址"], ["赵合", "不存在的办事处", "zh@example.cn"]])
    html = _upload(web_client, "people", "人员2.xlsx", sheet, mapping="街道花名册")
    form = _apply_form(html)
    refused = web_client.post("/admin/import/people/apply", data=form)
    assert refused.status_code == 422
    assert "不存在的办事处" in refused.text and 'data-testid="problems"' in refused.text
    engine = make_engine(web_db)
    try:
        with session_scope(engine) as session:
            assert session.scalar(select(Person).where(Person.name == "赵合")) is None
    finally:
        engine.dispose()


def test_hazard_import_in_gcj02_through_the_pages(
    web_client: TestClient, web_db: str, admin: dict[str, int], login: LoginFn
) -> None:
    login(web_client, ADMIN, PASSWORD)
    lon, lat = TO_WGS.transform(527_000.0, 3_525_500.0)
    g = wgs84_to_gcj02(lon, lat)
    sheet = to_xlsx([
        ["序号", "点位编号", "积水点位置", "类别", "经度(高德)", "纬度(高德)", "所属办事处"],
        [1, "HX-01", "合溪路下穿", "下穿通道", g[0], g[1], "东湖街道办事处"],
    ])  # fmt: skip
    html = _upload(web_client, "hazards", "台账.xlsx", sheet, datum="gcj02")
    form = _apply_form(html)
    assert form["datum"] == "gcj02"
    fields = {form[f"header_{i}"]: form[f"field_{i}"] for i in range(7)}
    assert fields["积水点位置"] == "name" and fields["经度(高德)"] == "lon"
    done = web_client.post("/admin/import/hazards/apply", data=form)
    assert done.status_code == 200, done.text
    engine = make_engine(web_db)
    try:
        with session_scope(engine) as session:
            point = session.scalars(select(HazardPoint)).one()
            assert abs(point.lon - lon) < 1e-5 and abs(point.lat - lat) < 1e-5
    finally:
        engine.dispose()


def test_users_and_channels_forms(
    web_client: TestClient, web_db: str, admin: dict[str, int], login: LoginFn
) -> None:
    login(web_client, ADMIN, PASSWORD)
    page = web_client.get("/admin/users")
    token = csrf_of(page)
    bad = web_client.post("/admin/users", data={"csrf_token": token, "username": "donghu",
                                                "password": PASSWORD, "role": "unit"})  # fmt: skip
    assert bad.status_code == 422 and 'data-testid="error"' in bad.text  # a unit login needs a unit
    ok = web_client.post("/admin/users", data={"csrf_token": token, "username": "donghu",
                                               "password": PASSWORD, "role": "unit",
                                               "unit_id": str(admin["office"])})  # fmt: skip
    assert ok.status_code == 303
    robot = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc"
    added = web_client.post("/admin/channels", data={
        "csrf_token": token, "owner": f"unit:{admin['office']}", "channel": "wecom",
        "address": robot, "label": "东湖群"})  # fmt: skip
    assert added.status_code == 303, added.text
    engine = make_engine(web_db)
    try:
        with session_scope(engine) as session:
            user = session.scalar(select(User).where(User.username == "donghu"))
            assert user is not None and user.role is Role.unit and user.unit_id == admin["office"]
            contact = session.scalars(select(ContactChannel)).one()
            assert contact.unit_id == admin["office"] and contact.label == "东湖群"
    finally:
        engine.dispose()
    assert "东湖群" in web_client.get("/admin/channels").text


def test_stations_import_page_lists_streams(
    web_client: TestClient, admin: dict[str, int], login: LoginFn, tmp_path: Path
) -> None:
    login(web_client, ADMIN, PASSWORD)
    lon, lat = TO_WGS.transform(526_500.0, 3_525_700.0)
    csv = f"站码,站名,类型,经度,纬度,所属单位\nHXRG01,合溪雨量站,雨量站,{lon},{lat},HX\n"
    html = _upload(web_client, "stations", "测站.csv", csv.encode("gb18030"))
    done = web_client.post("/admin/import/stations/apply", data=_apply_form(html))
    assert done.status_code == 200, done.text
    listing = web_client.get("/admin/stations").text
    assert "HXRG01-rain" in listing and "rainfall" in listing
    home = web_client.get("/admin").text
    row = re.search(
        r'data-ok="(\w+)">\s*<td>[^<]*<span[^>]*>.</span></td>\s*<td>有降雨数据流的雨量站', home
    )
    assert row is not None and row.group(1) == "true"  # the checklist item passes now
