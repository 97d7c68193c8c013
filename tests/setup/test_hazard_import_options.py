"""`fangxun hazards import FILE --mapping M --datum gcj02`: an office sheet with its own headers and
web-map (GCJ-02) coordinates lands in WGS 84 under the system's fields."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from fangxun.cli.main import app as cli_app
from fangxun.config import get_settings
from fangxun.datums import wgs84_to_gcj02
from fangxun.db import session_scope
from fangxun.hazards.models import HazardPoint
from fangxun.setup.mapping import to_xlsx

#: Two points in the synthetic district (Hefei area, UTM 50N), in WGS 84.
TRUE_WGS = {"HX-01": (117.2801, 31.8612), "HX-02": (117.2955, 31.8503)}
MAPPING = {
    "columns": {
        "序号": None,
        "积水点位置": "name",
        "所属办事处": "unit",
        "点位编号": "code",
        "类别": "kind",
        "经度(高德)": "lon",
        "纬度(高德)": "lat",
    }
}


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    dy = (a[1] - b[1]) * 111_320.0
    dx = (a[0] - b[0]) * 111_320.0 * math.cos(math.radians(a[1]))
    return math.hypot(dx, dy)


@pytest.fixture
def cli_env(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch, make_unit_sqlite: None
) -> Iterator[Engine]:
    monkeypatch.setenv("FANGXUN_DATABASE_URL", sqlite_engine.url.render_as_string(False))
    monkeypatch.setenv("FANGXUN_ENVIRONMENT", "test")
    get_settings.cache_clear()
    yield sqlite_engine
    get_settings.cache_clear()


@pytest.fixture
def make_unit_sqlite(sqlite_engine: Engine) -> None:
    import factories

    with session_scope(sqlite_engine) as session:
        district = factories.make_unit(session, "HX", name_zh="合溪区")
        factories.make_unit(
            session, "HX-JD1", "street_office", district.id, name_zh="东湖街道办事处"
        )


def _office_sheet(path: Path, coords: dict[str, tuple[float, float]]) -> None:
    rows: list[list[object]] = [["序号", "点位编号", "积水点位置", "类别", "所属办事处",
                                 "经度(高德)", "纬度(高德)"]]  # fmt: skip
    for i, (code, (lon, lat)) in enumerate(coords.items(), start=1):
        rows.append([i, code, f"积水点{i}", "低洼路段", "东湖街道办事处", lon, lat])
    path.write_bytes(to_xlsx(rows))


def test_office_sheet_with_mapping_and_gcj02(cli_env: Engine, tmp_path: Path) -> None:
    gcj = {code: wgs84_to_gcj02(*p) for code, p in TRUE_WGS.items()}
    sheet, mapping = tmp_path / "台账.xlsx", tmp_path / "mapping.json"
    _office_sheet(sheet, gcj)
    mapping.write_text(json.dumps(MAPPING, ensure_ascii=False), encoding="utf-8")
    runner = CliRunner()
    # Without the mapping the office headers are refused, naming the missing columns.
    refused = runner.invoke(cli_app, ["hazards", "import", str(sheet)])
    assert refused.exit_code == 65 and "编号" in refused.output
    result = runner.invoke(
        cli_app, ["hazards", "import", str(sheet), "--mapping", str(mapping), "--datum", "gcj02"]
    )
    assert result.exit_code == 0, result.output
    assert "2 created" in result.output
    with session_scope(cli_env) as session:
        points = {p.code: p for p in session.scalars(select(HazardPoint))}
        for code, truth in TRUE_WGS.items():
            assert _metres((points[code].lon, points[code].lat), truth) < 1.0
            # Taken as WGS 84 the same numbers would be hundreds of metres off.
            assert _metres(gcj[code], truth) > 100
        assert points["HX-01"].name == "积水点1"


def test_default_datum_is_wgs84_and_bad_mapping_is_named(cli_env: Engine, tmp_path: Path) -> None:
    sheet, mapping = tmp_path / "pts.xlsx", tmp_path / "m.json"
    _office_sheet(sheet, TRUE_WGS)
    mapping.write_text(json.dumps(MAPPING, ensure_ascii=False), encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(cli_app, ["hazards", "import", str(sheet), "--mapping", str(mapping)])
    assert result.exit_code == 0, result.output
    with session_scope(cli_env) as session:
        p = session.scalar(select(HazardPoint).where(HazardPoint.code == "HX-02"))
        assert p is not None and (p.lon, p.lat) == TRUE_WGS["HX-02"]
    mapping.write_text(json.dumps({"columns": {"积水点位置": "名字"}}), encoding="utf-8")
    bad = runner.invoke(cli_app, ["hazards", "import", str(sheet), "--mapping", str(mapping)])
    assert bad.exit_code != 0
    assert "名字" in bad.output
    not_json = tmp_path / "x.json"
    not_json.write_text("[1, 2]")
    bad = runner.invoke(cli_app, ["hazards", "import", str(sheet), "--mapping", str(not_json)])
    assert bad.exit_code != 0 and "columns" in bad.output


def test_one_colour_threshold_or_four(cli_env: Engine, tmp_path: Path) -> None:
    """An office that keeps one warning depth per point: the kind's defaults scaled to it."""
    sheet = tmp_path / "one.xlsx"
    lon, lat = TRUE_WGS["HX-01"]
    sheet.write_bytes(to_xlsx([
        ["编号", "名称", "类型", "经度", "纬度", "责任单位", "黄色阈值(cm)"],
        ["HX-01", "低洼路", "低洼路段", lon, lat, "东湖街道办事处", 54],
        ["HX-02", "小区", "居民小区", lon, lat, "东湖街道办事处", None],
    ]))  # fmt: skip
    runner = CliRunner()
    result = runner.invoke(cli_app, ["hazards", "import", str(sheet)])
    assert result.exit_code == 0, result.output
    with session_scope(cli_env) as session:
        points = {p.code: p for p in session.scalars(select(HazardPoint))}
        one = points["HX-01"]
        # Low-lying road defaults 15/27/40/50 cm, scaled ×2 so that yellow is 54 cm.
        got = [one.threshold_blue_m, one.threshold_yellow_m, one.threshold_orange_m,
               one.threshold_red_m]  # fmt: skip
        assert got == pytest.approx([0.30, 0.54, 0.80, 1.00])
        assert points["HX-02"].threshold_red_m == pytest.approx(0.50)  # none: the defaults
    two = tmp_path / "two.xlsx"
    two.write_bytes(to_xlsx([
        ["编号", "名称", "类型", "经度", "纬度", "责任单位", "黄色阈值(cm)", "红色阈值(cm)"],
        ["HX-03", "路", "低洼路段", lon, lat, "东湖街道办事处", 20, 60],
    ]))  # fmt: skip
    result = runner.invoke(cli_app, ["hazards", "import", str(two)])
    assert result.exit_code == 65 and "one, or none" in result.output


def test_export_states_its_datum(cli_env: Engine, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    sheet = tmp_path / "pts.xlsx"
    _office_sheet(sheet, TRUE_WGS)
    mapping = tmp_path / "m.json"
    mapping.write_text(json.dumps(MAPPING, ensure_ascii=False), encoding="utf-8")
    runner = CliRunner()
    assert (
        runner.invoke(
            cli_app, ["hazards", "import", str(sheet), "--mapping", str(mapping)]
        ).exit_code
        == 0
    )
    out = tmp_path / "export.xlsx"
    result = runner.invoke(cli_app, ["hazards", "export", str(out)])
    assert result.exit_code == 0 and "WGS 84" in result.output
    book = load_workbook(out)
    assert book.sheetnames == ["隐患台账", "说明"]
    assert book["说明"]["A1"].value == "坐标系" and "WGS 84" in book["说明"]["B1"].value
    # The export imports again unchanged: the notes sheet is not read.
    again = runner.invoke(cli_app, ["hazards", "import", str(out)])
    assert again.exit_code == 0 and "2 unchanged" in again.output, again.output
