"""The event report renders: the PDF has the expected pages, none blank (pdftoppm → PNG), and the
workbook opens with openpyxl with the expected sheets and figures."""

from __future__ import annotations

import io
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from openpyxl import load_workbook
from PIL import Image
from report_helpers import SYSTEM, T0, Crafted
from sqlalchemy.orm import Session

from fangxun.config import Settings
from fangxun.reports import export, service


def pdf_pages(pdf: bytes, tmp_path: Path) -> list[Path]:
    """Render every page to PNG with poppler's pdftoppm (at 40 dpi)."""
    assert shutil.which("pdftoppm"), "pdftoppm (poppler-utils) is needed"
    src = tmp_path / "report.pdf"
    src.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(src), str(tmp_path / "page")], check=True)
    return sorted(tmp_path.glob("page*.png"))


def non_blank(path: Path) -> bool:
    """True when the page holds something other than white paper."""
    img = np.asarray(Image.open(path).convert("L"))
    return bool((img < 200).mean() > 0.002)


def _report(session: Session, settings: Settings) -> service.EventReport:
    (event,) = service.detect_events(
        session=session, settings=settings, actor=SYSTEM, now=T0 + timedelta(days=1)
    )
    return service.build_report(session=session, settings=settings, event_id=event.id, actor=None)


def test_event_pdf_pages_and_excel_sheets(
    db_session: Session, crafted: Crafted, settings: Settings, tmp_path: Path
) -> None:
    report = _report(db_session, settings)
    html = export.render_html(report)
    assert "积涝情况统计与复盘报告" in html and "HP-PD1" in html and "大暴雨" in html
    assert ("预警数据缺失" in html) != crafted.warnings_table
    pdf = export.event_pdf(report)
    assert pdf.startswith(b"%PDF-")
    pages = pdf_pages(pdf, tmp_path)
    # Four sections, each starting a page, each short enough for one page on the crafted data.
    assert len(pages) == 4
    assert all(non_blank(p) for p in pages)
    for png in export.chart_images(report).values():
        assert non_blank_png(png)

    wb = load_workbook(io.BytesIO(export.event_xlsx(report)))
    assert tuple(wb.sheetnames) == export.EVENT_SHEETS
    summary = {r[0]: r[1] for r in wb["事件概况"].iter_rows(min_row=2, values_only=True)}
    assert summary["过程雨量（最大站）mm"] == pytest.approx(84.0)
    assert summary["降雨等级"] == "大暴雨"
    rows = list(wb["点位统计"].iter_rows(values_only=True))
    header, first = rows[0], rows[1]
    assert first[header.index("点位编号")] == "HP-PD1"
    assert first[header.index("最大积水 cm")] == pytest.approx(50.0)
    assert first[header.index("≥15 cm 历时 min")] == pytest.approx(168.0)  # 2.8 h
    assert first[header.index("险情数")] == 1
    causes = list(wb["原因分析"].iter_rows(min_row=2, values_only=True))
    assert [c[0] for c in causes] == ["HP-PD1", "HP-PD2"]
    assert "泵站故障" in causes[0][2]


def non_blank_png(png: bytes) -> bool:
    img = np.asarray(Image.open(io.BytesIO(png)).convert("L"))
    return bool((img < 200).mean() > 0.002)


def test_season_workbook(db_session: Session, crafted: Crafted, settings: Settings) -> None:
    _report(db_session, settings)
    summary = service.season_summary(
        session=db_session,
        settings=settings,
        actor=None,
        start=T0 - timedelta(days=30),
        end=T0 + timedelta(days=60),
    )
    wb = load_workbook(io.BytesIO(export.season_xlsx(summary)))
    assert tuple(wb.sheetnames) == export.SEASON_SHEETS
    events = list(wb["降雨过程"].iter_rows(min_row=2, values_only=True))
    assert len(events) == 1 and events[0][3] == pytest.approx(84.0)


def test_map_from_the_forecast_max_depth_raster(
    db_session: Session, crafted: Crafted, settings: Settings
) -> None:
    """A forecast run with a max-depth raster during the event: the map draws it."""
    import rasterio
    from pyproj import Transformer
    from rasterio import Affine
    from sqlalchemy import select

    from fangxun.forecast.models import ForecastRun

    run = db_session.scalars(select(ForecastRun)).one()
    run.output_dir = f"forecast/run_{run.id}"
    folder = settings.data_dir / run.output_dir
    folder.mkdir(parents=True)
    x, y = Transformer.from_crs("EPSG:4326", "EPSG:4547", always_xy=True).transform(113.51, 34.80)
    depth = np.zeros((40, 40), dtype="float32")
    depth[10:30, 10:30] = 0.4
    with rasterio.open(
        folder / "max_depth.tif",
        "w",
        driver="GTiff",
        height=40,
        width=40,
        count=1,
        dtype="float32",
        crs="EPSG:4547",
        transform=Affine(50.0, 0, x - 1000, 0, -50.0, y + 1000),
    ) as dst:
        dst.write(depth, 1)
    db_session.flush()
    report = _report(db_session, settings)
    assert report.forecast_raster == folder / "max_depth.tif"
    png = export.chart_images(report)["map"]
    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    # The raster's 40 cm square is drawn in blue: many pixels where blue clearly dominates red.
    blue = (img[..., 2] - img[..., 0] > 60).sum()
    assert blue > 2000
