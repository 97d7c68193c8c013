"""Import and export: round trips through Excel and GeoJSON, atomic imports with a row, column and
reason for every bad cell, and the `fangxun hazards import/export` commands."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hazard_helpers import SYSTEM, Ledger
from openpyxl import Workbook, load_workbook
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from fangxun.cli.main import app as cli_app
from fangxun.config import get_settings
from fangxun.db import session_scope
from fangxun.hazards import io as hazard_io
from fangxun.hazards import service
from fangxun.hazards.models import HazardPoint
from fangxun.hazards.schemas import HazardPointUpdate
from fangxun.org import service as org_service
from fangxun.org.schemas import PersonCreate

API = "/api/v1"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADERS = [header for _, header in hazard_io.COLUMNS]


def _enrich(engine: Engine, ledger: Ledger) -> None:
    """Give the 梧桐 point every optional field, so the round trip covers them."""
    with session_scope(engine) as session:
        deputy = org_service.create_person(
            session=session,
            person_in=PersonCreate(name="李副", unit_id=ledger.wutong),
            actor=SYSTEM,
        ).id
        service.update_point(
            session=session,
            point_id=ledger.wutong_point,
            point_in=HazardPointUpdate(
                deputy_person_id=deputy,
                address="雪松路与梧桐街交叉口",
                description="铁路下穿，最低点积水",
                polygon={
                    "type": "Polygon",
                    "coordinates": [
                        [[113.559, 34.799], [113.561, 34.799], [113.561, 34.801], [113.559, 34.799]]
                    ],
                },
                risk_level="very_high",
            ),
            actor=SYSTEM,
        )


def _import(client: TestClient, h: dict[str, str], name: str, content: bytes) -> Any:
    return client.post(
        f"{API}/hazard-points/import", files={"file": (name, io.BytesIO(content), "x")}, headers=h
    )


def _sheet_rows(content: bytes) -> list[tuple[Any, ...]]:
    wb = load_workbook(io.BytesIO(content))
    return [tuple(r) for r in wb.worksheets[0].iter_rows(values_only=True)]


def _count(engine: Engine) -> int:
    with session_scope(engine) as session:
        return int(session.scalar(select(func.count()).select_from(HazardPoint)) or 0)


@pytest.mark.parametrize("fmt", ["xlsx", "geojson"])
def test_round_trip_unchanged(client: TestClient, ledger: Ledger, engine: Engine, fmt: str) -> None:
    _enrich(engine, ledger)
    h = ledger.h(client, "district")
    exported = client.get(f"{API}/hazard-points/export", params={"format": fmt}, headers=h)
    assert exported.status_code == 200
    name = f"ledger.{fmt}"
    before = client.get(f"{API}/hazard-points", headers=h).json()["items"]
    again = _import(client, h, name, exported.content)
    assert again.status_code == 200, again.text
    assert again.json() == {"created": 0, "updated": 0, "unchanged": 2}
    # Into a ledger without the points: created, and the export is the same as before.
    for point in (ledger.wutong_point, ledger.gouzhao_point):
        assert client.delete(f"{API}/hazard-points/{point}", headers=h).status_code == 204
    created = _import(client, h, name, exported.content)
    assert created.json() == {"created": 2, "updated": 0, "unchanged": 0}
    after = client.get(f"{API}/hazard-points", headers=h).json()["items"]
    ignore = {"id", "created_at", "updated_at", "version"}
    assert [{k: v for k, v in p.items() if k not in ignore} for p in after] == [
        {k: v for k, v in p.items() if k not in ignore} for p in before
    ]
    second = client.get(f"{API}/hazard-points/export", params={"format": fmt}, headers=h)
    if fmt == "xlsx":
        rows = _sheet_rows(second.content)
        assert rows == _sheet_rows(exported.content)
        assert list(rows[0]) == HEADERS
        assert rows[2][2] == "下穿通道" and rows[2][8] == "极高"
    else:
        assert second.json() == exported.json()


def test_excel_changes_are_updates(client: TestClient, ledger: Ledger) -> None:
    h = ledger.h(client, "district")
    exported = client.get(f"{API}/hazard-points/export", headers=h)
    wb = load_workbook(io.BytesIO(exported.content))
    ws = wb.worksheets[0]
    ws.cell(row=2, column=2, value="雅梅苑（改）")
    buf = io.BytesIO()
    wb.save(buf)
    result = _import(client, h, "x.xlsx", buf.getvalue())
    assert result.json() == {"created": 0, "updated": 1, "unchanged": 1}
    point = client.get(f"{API}/hazard-points/{ledger.gouzhao_point}", headers=h).json()
    assert point["name"] == "雅梅苑（改）"


def _workbook(rows: list[list[Any]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(HEADERS)
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _row(**over: Any) -> list[Any]:
    base = {
        "编号": "NEW-001",
        "名称": "枫香街低洼路段",
        "类型": "低洼路段",
        "经度": 113.55,
        "纬度": 34.8,
        "责任单位": "梧桐街道办事处",
        "责任人": "王梧桐",
    }
    base.update(over)
    return [base.get(h) for h in HEADERS]


def test_malformed_excel_lists_every_problem_and_writes_nothing(
    client: TestClient, ledger: Ledger, engine: Engine
) -> None:
    content = _workbook(
        [
            _row(),  # row 2: good, but must not be written either
            _row(编号="NEW-002", 经度="东经113度"),  # 3: wrong type
            _row(编号="NEW-003", 责任单位="不存在办事处"),  # 4: unknown unit
            _row(编号="NEW-004", 纬度=95.0),  # 5: out of range
            _row(编号="NEW-001"),  # 6: duplicate code
            _row(编号="NEW-006", 类型="火山"),  # 7: unknown kind
            _row(
                编号="NEW-007",
                **{"蓝色阈值(cm)": 30, "黄色阈值(cm)": 20, "橙色阈值(cm)": 40, "红色阈值(cm)": 50},
            ),
            _row(编号="NEW-008", 名称=None, 责任人="查无此人"),  # 9: two problems
        ]
    )
    before = _count(engine)
    response = _import(client, ledger.h(client, "district"), "台账.xlsx", content)
    assert response.status_code == 422, response.text
    problems = {(e["loc"][1], e["loc"][2]): e["msg"] for e in response.json()["errors"]}
    assert all(e["loc"][0] == "row" for e in response.json()["errors"])
    assert "expected a number" in problems[(3, "经度")]
    assert "unknown unit" in problems[(4, "责任单位")]
    assert "out of range" in problems[(5, "纬度")]
    assert "duplicate" in problems[(6, "编号")] and "row 2" in problems[(6, "编号")]
    assert "unknown kind" in problems[(7, "类型")]
    assert "rise" in problems[(8, "蓝色阈值(cm)")]
    assert problems[(9, "名称")] == "required"
    assert "unknown person" in problems[(9, "责任人")]
    assert len(problems) == 8
    assert _count(engine) == before


def test_not_an_excel_file_named_xlsx(client: TestClient, ledger: Ledger) -> None:
    response = _import(client, ledger.h(client, "district"), "台账.xlsx", b"PK\x03\x04 not really")
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["row", 0, "file"]
    text = _import(client, ledger.h(client, "district"), "x.xlsx", "编号,名称\n1,2\n".encode())
    assert text.status_code == 422 and "not an Excel" in text.json()["detail"]
    other = _import(client, ledger.h(client, "district"), "x.csv", b"a,b")
    assert other.status_code == 422


def test_missing_columns_are_named(client: TestClient, ledger: Ledger) -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["编号", "名称"])
    ws.append(["A", "B"])
    buf = io.BytesIO()
    wb.save(buf)
    response = _import(client, ledger.h(client, "district"), "x.xlsx", buf.getvalue())
    assert response.status_code == 422
    missing = {e["loc"][2] for e in response.json()["errors"]}
    assert missing == {"类型", "经度", "纬度", "责任单位"}


def _feature(code: str, lon: Any = 113.55, lat: Any = 34.8, **props: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {"code": code, "name": "n", "kind": "underpass", "unit": "WUTONG", **props},
    }


def test_malformed_geojson_lists_every_problem_and_writes_nothing(
    client: TestClient, ledger: Ledger, engine: Engine
) -> None:
    fc = {
        "type": "FeatureCollection",
        "features": [
            _feature("G-1"),
            _feature("G-2", lon="113.5E"),
            _feature("G-3", unit="NOWHERE"),
            _feature("G-4", lon=181.0),
            _feature("G-1"),
            _feature("G-6", thresholds_cm={"blue": 10, "yellow": 20}),
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": []},
                "properties": {},
            },
        ],
    }
    before = _count(engine)
    response = _import(client, ledger.h(client, "district"), "p.geojson", json.dumps(fc).encode())
    assert response.status_code == 422
    # Geometry problems are reported first, on their own (the file's shape is wrong).
    assert [(e["loc"][1], e["loc"][2]) for e in response.json()["errors"]] == [(7, "geometry")]
    fc["features"] = fc["features"][:6]
    response = _import(client, ledger.h(client, "district"), "p.geojson", json.dumps(fc).encode())
    problems = {(e["loc"][1], e["loc"][2]): e["msg"] for e in response.json()["errors"]}
    assert "expected a number" in problems[(2, "经度")]
    assert "unknown unit" in problems[(3, "责任单位")]
    assert "out of range" in problems[(4, "经度")]
    assert "duplicate" in problems[(5, "编号")]
    assert "all four" in problems[(6, "橙色阈值(cm)")]
    assert _count(engine) == before
    assert _import(client, ledger.h(client, "district"), "p.geojson", b"{nope").status_code == 422


def test_import_needs_a_managing_role(client: TestClient, ledger: Ledger) -> None:
    fc = {"type": "FeatureCollection", "features": [_feature("G-1")]}
    response = _import(client, ledger.h(client, "viewer"), "p.geojson", json.dumps(fc).encode())
    assert response.status_code == 403


def test_cli_import_and_export(
    ledger: Ledger,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    engine: Engine,
) -> None:
    monkeypatch.setenv("FANGXUN_DATABASE_URL", database_url)
    monkeypatch.setenv("FANGXUN_ENVIRONMENT", "test")
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        out = tmp_path / "ledger.xlsx"
        result = runner.invoke(cli_app, ["hazards", "export", str(out)])
        assert result.exit_code == 0, result.output
        assert _sheet_rows(out.read_bytes())[0] == tuple(HEADERS)
        gj = tmp_path / "ledger.geojson"
        assert (
            runner.invoke(cli_app, ["hazards", "export", str(gj), "--unit", "WUTONG"]).exit_code
            == 0
        )
        assert [f["properties"]["code"] for f in json.loads(gj.read_text())["features"]] == [
            "WT-001"
        ]
        result = runner.invoke(cli_app, ["hazards", "import", str(out)])
        assert result.exit_code == 0, result.output
        assert "0 created, 0 updated, 2 unchanged" in result.output
        bad = tmp_path / "bad.xlsx"
        bad.write_bytes(_workbook([_row(纬度=99)]))
        result = runner.invoke(cli_app, ["hazards", "import", str(bad)])
        assert result.exit_code == 65
        assert "row 2, column 纬度" in result.output
        assert _count(engine) == 2
    finally:
        get_settings.cache_clear()


def test_export_writes_a_formula_name_as_text(
    client: TestClient, ledger: Ledger, engine: Engine
) -> None:
    """Issue 20, item 7: a point named ``=HYPERLINK(...)`` is a text cell in the export, and the
    export imports back unchanged."""
    from excel_checks import EVIL, assert_no_formula

    with session_scope(engine) as session:
        service.update_point(
            session=session,
            point_id=ledger.wutong_point,
            point_in=HazardPointUpdate(name=EVIL, address="-1+2"),
            actor=SYSTEM,
        )
    h = ledger.h(client, "district")
    response = client.get(f"{API}/hazard-points/export", params={"format": "xlsx"}, headers=h)
    assert response.status_code == 200, response.text
    assert_no_formula(response.content, EVIL, "-1+2")
    again = _import(client, h, "x.xlsx", response.content)
    assert again.status_code == 200, again.text
    assert again.json()["updated"] == 0 and again.json()["unchanged"] >= 1
