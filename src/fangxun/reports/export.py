"""The event report as PDF (WeasyPrint, Chinese, charts from :mod:`fangxun.reports.charts`) and
its tables as an Excel workbook (openpyxl, one sheet per table); the season summary as Excel.

Units at this edge: rain in mm, depth in cm, durations in minutes, times in Asia/Shanghai.
"""

from __future__ import annotations

import base64
import io
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from fangxun.reports import charts, stats
from fangxun.reports.service import (
    EventReport,
    SeasonSummary,
    cause_label,
    local,
)
from fangxun.times import local_zone

TEMPLATE_DIR: Final = Path(__file__).resolve().parent.parent / "web" / "templates" / "reports"
COLOURS: Final = ("blue", "yellow", "orange", "red")
COLOUR_ZH: Final = {"blue": "蓝色", "yellow": "黄色", "orange": "橙色", "red": "红色"}
CHANGE_ZH: Final = {
    "issue": "发布",
    "upgrade": "升级",
    "downgrade": "降级",
    "update": "更新",
    "lift": "解除",
}
INCIDENT_ZH: Final = {
    "reported": "已上报",
    "dispatched": "已派遣",
    "on_site": "已到场",
    "controlled": "已控制",
    "closed": "已关闭",
}
#: Sheet names of the event workbook, in order.
EVENT_SHEETS: Final = ("事件概况", "雨量站", "点位统计", "原因分析", "险情", "复盘整改")
#: Sheet names of the season workbook, in order.
SEASON_SHEETS: Final = ("降雨过程", "积水点位", "整改进度")


def _mm(value_m: float | None) -> str:
    return "—" if value_m is None else f"{value_m * 1000.0:.1f}"


def _cm(value_m: float | None, signed: bool = False) -> str:
    if value_m is None:
        return "—"
    return f"{value_m * 100.0:+.1f}" if signed else f"{value_m * 100.0:.1f}"


def _minutes(value_s: float | None, signed: bool = False) -> str:
    if value_s is None:
        return "—"
    return f"{value_s / 60.0:+.0f}" if signed else f"{value_s / 60.0:.0f}"


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def chart_images(report: EventReport) -> dict[str, bytes]:
    """The report's three charts as PNG bytes: ``hyetograph``, ``depth_curves``, ``map``."""
    return {
        "hyetograph": charts.hyetograph_png(
            report.hyetograph, f"雨量过程线（{report.hyetograph.code}）"
        ),
        "depth_curves": charts.depth_curves_png(
            report.worst(), report.settings.report_ponding_depth_m
        ),
        "map": charts.max_depth_map_png(report.points, report.forecast_raster),
    }


def render_html(report: EventReport) -> str:
    """The event report as a standalone HTML document (Chinese; the PDF's source)."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(loader=FileSystemLoader(TEMPLATE_DIR), autoescape=select_autoescape(["html"]))
    env.filters["local"] = lambda v, fmt="%Y-%m-%d %H:%M": local(v, fmt)
    env.filters["mm"] = _mm
    env.filters["cm"] = _cm
    env.filters["minutes"] = _minutes
    s = report.settings
    event = report.event
    units = {p.unit_id: p.unit_name for p in report.points}
    return env.get_template("pdf.html").render(
        event=event,
        generated=report.generated_at,
        grade=stats.GRADE_LABELS_ZH.get(event.grade, event.grade),
        return_period=stats.format_return_period(event.return_period_years),
        gauges=sorted((event.details or {}).get("gauges", {}).items()),
        charts={k: _data_uri(v) for k, v in chart_images(report).items()},
        points=report.points,
        ponded=[p for p in report.points if p.ponded(s.report_ponding_depth_m)],
        suggestions=report.suggestions,
        causes=report.causes,
        cause_label=cause_label,
        colours=COLOURS,
        ponding_cm=f"{s.report_ponding_depth_m * 100:.0f}",
        drained_cm=f"{s.report_drained_depth_m * 100:.0f}",
        warnings_available=report.warnings_available,
        incidents=report.incidents,
        review_items=report.review_items,
        unit_names=units | {u.unit_id: u.unit_name for u in report.progress},
        progress=report.progress,
        signals=report.signals,
        colour_zh=COLOUR_ZH,
        change_zh=CHANGE_ZH,
        incident_zh=INCIDENT_ZH,
    )


def event_pdf(report: EventReport) -> bytes:
    """The event report as PDF bytes (WeasyPrint; CJK text in Noto Sans CJK)."""
    from weasyprint import HTML

    pdf = HTML(string=render_html(report)).write_pdf()
    assert pdf is not None
    return bytes(pdf)


# --- Excel ---------------------------------------------------------------------------------------


def _naive_local(moment: datetime | None) -> datetime | None:
    # Excel has no time zones: write Beijing time without an offset (the header says so).
    return None if moment is None else moment.astimezone(local_zone()).replace(tzinfo=None)


def _sheet(wb: Any, title: str, header: list[str], rows: list[list[Any]], first: bool) -> None:
    from openpyxl.styles import Font

    from fangxun.excel import append_row

    ws = wb.active if first else wb.create_sheet()
    ws.title = title
    append_row(ws, header)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in rows:
        append_row(ws, row)
    for i, name in enumerate(header, start=1):
        ws.column_dimensions[ws.cell(row=1, column=i).column_letter].width = max(10, len(name) * 2)
    ws.freeze_panes = "A2"


def _save(wb: Any) -> bytes:
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _r(value: float | None, scale: float, digits: int = 1) -> float | None:
    return None if value is None else round(value * scale, digits)


def event_xlsx(report: EventReport) -> bytes:
    """The event report's tables as an Excel workbook (sheets :data:`EVENT_SHEETS`)."""
    from openpyxl import Workbook

    s = report.settings
    e = report.event
    wb = Workbook()
    _sheet(
        wb,
        EVENT_SHEETS[0],
        ["项目", "值"],
        [
            ["过程名称", e.name],
            ["开始（北京时间）", _naive_local(e.start)],
            ["结束（北京时间）", _naive_local(e.end)],
            ["过程雨量（最大站）mm", _r(e.total_m, 1000.0)],
            ["最大站", e.peak_gauge],
            ["各站平均 mm", _r(e.mean_total_m, 1000.0)],
            ["最大 1 h mm", _r(e.max_1h_m, 1000.0)],
            ["最大 3 h mm", _r(e.max_3h_m, 1000.0)],
            ["最大 12 h mm", _r(e.max_12h_m, 1000.0)],
            ["最大 24 h mm", _r(e.max_24h_m, 1000.0)],
            ["降雨等级", stats.GRADE_LABELS_ZH.get(e.grade, e.grade)],
            ["重现期估算（年）", e.return_period_years],
            ["重现期说明", stats.format_return_period(e.return_period_years)],
            ["预警数据", "有" if report.warnings_available else "缺失（无预警表）"],
        ],
        first=True,
    )
    gauges = sorted((e.details or {}).get("gauges", {}).items())
    _sheet(
        wb,
        EVENT_SHEETS[1],
        ["雨量站", "过程雨量 mm", "最大 1 h mm", "最大 3 h mm", "最大 12 h mm", "最大 24 h mm"],
        [
            [
                code,
                _r(g["total_m"], 1000.0),
                _r(g["max_1h_m"], 1000.0),
                _r(g["max_3h_m"], 1000.0),
                _r(g["max_12h_m"], 1000.0),
                _r(g["max_24h_m"], 1000.0),
            ]
            for code, g in gauges
        ],
        first=False,
    )
    header = [
        "排名",
        "点位编号",
        "点位名称",
        "单位",
        "最大积水 cm",
        "出现时间",
        f"≥{s.report_ponding_depth_m * 100:.0f} cm 历时 min",
    ]
    header += [f"≥{COLOUR_ZH[c]}阈值 历时 min" for c in COLOURS]
    header += [
        "退水 min",
        "预报峰值 cm",
        "预报误差 cm",
        "预警次数",
        "首次预警",
        "预警提前量 min",
        "险情数",
    ]
    rows = []
    for p in report.points:
        w = p.warnings
        rows.append(
            [
                p.rank,
                p.code,
                p.name,
                p.unit_name,
                _r(p.max_depth_m, 100.0),
                _naive_local(p.max_at),
                _r(p.above_ponding_s, 1 / 60, 0),
            ]
            + [_r(p.above_s[c], 1 / 60, 0) for c in COLOURS]
            + [
                _r(p.drain_s, 1 / 60, 0),
                _r(p.forecast.peak_m, 100.0) if p.forecast else None,
                _r(p.forecast.error_m, 100.0) if p.forecast else None,
                (w.count if w else None) if report.warnings_available else "缺失",
                _naive_local(w.first_issued_at) if w else None,
                _r(w.lead_s, 1 / 60, 0) if w else None,
                p.incidents,
            ]
        )
    _sheet(wb, EVENT_SHEETS[2], header, rows, first=False)
    causes = []
    for p in report.points:
        if not p.ponded(s.report_ponding_depth_m):
            continue
        c = report.causes.get(p.point_id)
        causes.append(
            [
                p.code,
                p.name,
                "；".join(
                    f"{cause_label(x.cause)}：{x.evidence}" for x in report.suggestions[p.point_id]
                ),
                cause_label(c.cause) if c else "待确认",
                c.evidence if c else None,
                c.confirmed_by if c else None,
                _naive_local(c.confirmed_at) if c else None,
            ]
        )
    _sheet(
        wb,
        EVENT_SHEETS[3],
        ["点位编号", "点位名称", "数据提示", "确认原因", "依据", "确认人", "确认时间"],
        causes,
        first=False,
    )
    _sheet(
        wb,
        EVENT_SHEETS[4],
        ["上报时间", "险情", "单位", "隐患点", "状态"],
        [
            [
                _naive_local(i.reported_at),
                i.title,
                i.unit.name_zh,
                i.hazard_point_id,
                INCIDENT_ZH.get(i.status.value, i.status.value),
            ]
            for i in report.incidents
        ],
        first=False,
    )
    units = {p.unit_id: p.unit_name for p in report.points}
    _sheet(
        wb,
        EVENT_SHEETS[5],
        ["单位", "点位", "原因", "暴露问题", "整改期限", "整改单"],
        [
            [
                units.get(r.unit_id, r.unit_id),
                r.point_id,
                cause_label(r.cause),
                r.problem,
                _naive_local(r.deadline),
                r.rectification_id,
            ]
            for r in report.review_items
        ],
        first=False,
    )
    return _save(wb)


def season_xlsx(summary: SeasonSummary) -> bytes:
    """The season summary as an Excel workbook (sheets :data:`SEASON_SHEETS`)."""
    from openpyxl import Workbook

    wb = Workbook()
    _sheet(
        wb,
        SEASON_SHEETS[0],
        ["过程", "开始", "结束", "过程雨量 mm", "最大 1 h mm", "最大 24 h mm", "等级", "重现期"],
        [
            [
                e.name,
                _naive_local(e.start),
                _naive_local(e.end),
                _r(e.total_m, 1000.0),
                _r(e.max_1h_m, 1000.0),
                _r(e.max_24h_m, 1000.0),
                stats.GRADE_LABELS_ZH.get(e.grade, e.grade),
                stats.format_return_period(e.return_period_years),
            ]
            for e in summary.events
        ],
        first=True,
    )
    _sheet(
        wb,
        SEASON_SHEETS[1],
        ["点位编号", "点位名称", "单位", "积水次数", "最大积水 cm", "≥积水标准 累计 h"],
        [
            [
                p.code,
                p.name,
                p.unit_name,
                p.events_ponded,
                _r(p.max_depth_m, 100.0),
                _r(p.above_ponding_s, 1 / 3600, 2),
            ]
            for p in summary.points
        ],
        first=False,
    )
    _sheet(
        wb,
        SEASON_SHEETS[2],
        ["单位", "整改总数", "已销号", "未销号", "逾期"],
        [[u.unit_name, u.total, u.closed, u.open, u.overdue] for u in summary.progress],
        first=False,
    )
    return _save(wb)
