"""Reports people print in the command room, from live data: the daily flood-control report
(防汛日报, one calendar day in Beijing time) and the duty express report (值班快报, the situation at
one moment), each as Word (python-docx) and PDF (WeasyPrint).

Both are gathered from the domain services (warnings, response, monitoring, incidents, duty,
supplies — via :func:`fangxun.briefings.service.gather` where a briefing section exists) into one
neutral shape, :class:`DutyReport` (a summary and tables of Chinese text), which both writers
render. A section whose domain fails is kept with the reason, never silently left out.

Units at this edge: rain in mm, times in Beijing time.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Final, Literal

from sqlalchemy.orm import Session

from fangxun.db.types import utcnow
from fangxun.reports.export import COLOUR_ZH, INCIDENT_ZH
from fangxun.times import local_zone

logger = logging.getLogger(__name__)

Kind = Literal["daily", "express"]
KINDS: Final[tuple[Kind, ...]] = ("daily", "express")
TITLES: Final[dict[str, str]] = {"daily": "防汛日报", "express": "值班快报"}
LEVEL_ZH: Final = {"IV": "Ⅳ级", "III": "Ⅲ级", "II": "Ⅱ级", "I": "Ⅰ级"}
SEVERITY_ZH: Final = {"minor": "一般", "moderate": "较大", "major": "重大", "critical": "特别重大"}
WARNING_KIND_ZH: Final = {
    "rainstorm": "暴雨预警信号",
    "ponding": "积水预警",
    "predicted_ponding": "积水预报预警",
    "river_level": "河道水位预警",
    "pump_failure": "泵站故障",
    "stale_sensor": "监测设备离线",
}
CHANGE_TYPE_ZH: Final = {
    "activate": "启动",
    "upgrade": "提升",
    "downgrade": "降低",
    "end": "终止",
    "propose": "建议",
}
FORMATS: Final = ("docx", "pdf")
MEDIA_TYPES: Final = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pdf": "application/pdf",
}
NOT_AVAILABLE: Final = "暂无法获取"


@dataclass
class Table:
    """One section of a report: a heading, column headers and rows of text."""

    title: str
    headers: list[str]
    rows: list[list[str]]
    #: Shown when there are no rows (e.g. "无").
    empty: str = "无"
    note: str | None = None


@dataclass
class DutyReport:
    """A printable report: title, period, a summary of label/value pairs and tables."""

    kind: Kind
    title: str
    period: str
    generated_at: datetime
    summary: list[tuple[str, str]] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)


def _local(moment: datetime | str | None, fmt: str = "%m-%d %H:%M") -> str:
    if moment is None:
        return "—"
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(local_zone()).strftime(fmt)


def _guard(tables: list[Table], title: str, fn: Callable[[], Table]) -> None:
    """Add ``fn()``'s table, or the section marked not available with the reason."""
    try:
        tables.append(fn())
    except Exception as exc:  # one section never stops the report
        logger.warning("duty report section %s failed: %s", title, exc, exc_info=True)
        tables.append(Table(title, [], [], empty=f"{NOT_AVAILABLE}（{type(exc).__name__}）"))


def _section(gathered: dict[str, Any], key: str) -> dict[str, Any]:
    sec = gathered["sections"][key]
    if not sec.get("available"):
        raise LookupError(sec.get("reason") or key)
    data: dict[str, Any] = sec["data"]
    return data


# --- sections -------------------------------------------------------------------------------------


def _signal_and_level(*, session: Session) -> list[tuple[str, str]]:
    from fangxun.db.types import utcnow
    from fangxun.response import service as response
    from fangxun.warnings import official

    out: list[tuple[str, str]] = []
    try:
        # The official signal (or one relayed by hand); the gauge rule is only an indication.
        panel = official.signal_panel(session=session, now=utcnow())
        colour = panel["colour"]
        out.append(
            ("暴雨预警信号", f"{COLOUR_ZH.get(str(colour), str(colour))}预警" if colour else "无")
        )
        gauge = panel["gauge_indication"]
        if gauge is not None:
            out.append(
                ("雨量站指示（非正式信号）", COLOUR_ZH.get(gauge["colour"], gauge["colour"]))
            )
    except Exception as exc:
        logger.warning("rainstorm signal unavailable: %s", exc)
        out.append(("暴雨预警信号", NOT_AVAILABLE))
    try:
        act = response.current_level(session=session)
        if act is None:
            out.append(("应急响应", "未启动"))
        else:
            out.append(
                (
                    "应急响应",
                    f"{LEVEL_ZH.get(act.level.value, act.level.value)}"
                    f"（{_local(act.started_at)} 启动）",
                )
            )
    except Exception as exc:
        logger.warning("response level unavailable: %s", exc)
        out.append(("应急响应", NOT_AVAILABLE))
    return out


def _warning_place(session: Session, warning: Any) -> str:
    """Where a warning applies, in words: its place, else its hazard point's code and name, else
    the district (the subject key, e.g. ``ponding:1``, is internal and never printed)."""
    if warning.place:
        return str(warning.place)
    if warning.hazard_point_id is not None:
        from fangxun.hazards.models import HazardPoint

        point = session.get(HazardPoint, warning.hazard_point_id)
        if point is not None:
            return f"{point.code} {point.name}"
    return "全区" if warning.kind.value == "rainstorm" else "—"


def _warnings_table(*, session: Session, actor: Any) -> Table:
    from fangxun.warnings import service as warnings

    rows = [
        [
            WARNING_KIND_ZH.get(w.kind.value, w.kind.value),
            COLOUR_ZH.get(w.colour.value, w.colour.value),
            _warning_place(session, w),
            _local(w.issued_at),
        ]
        for w in sorted(
            warnings.active_warnings(session=session, actor=actor),
            key=lambda w: (w.kind.value != "rainstorm", w.issued_at),
        )
    ]
    return Table("生效中的预警", ["类别", "等级", "地点/对象", "发布时间"], rows)


def _level_changes_table(*, session: Session, start: datetime, end: datetime) -> Table:
    from fangxun.response import service as response

    rows = [
        [
            _local(c.at),
            CHANGE_TYPE_ZH.get(c.change_type.value, c.change_type.value),
            LEVEL_ZH.get(c.from_level.value, "—") if c.from_level else "—",
            LEVEL_ZH.get(c.to_level.value, "—") if c.to_level else "—",
        ]
        for c in reversed(response.list_changes(session=session, limit=200))
        if start <= c.at < end
    ]
    return Table("应急响应变更", ["时间", "变更", "原级别", "新级别"], rows)


def _rain_table(gathered: dict[str, Any], windows: list[tuple[str, str]]) -> Table:
    data = _section(gathered, "rain")
    rows = []
    gauges = data.get("gauges", [])
    key = windows[0][0]

    def total(g: dict[str, Any], w: str) -> float:
        return float(g["event_total_mm"] if w == "event" else g["totals_mm"].get(w, 0.0))

    for g in sorted(gauges, key=lambda g: -total(g, key)):
        rows.append([str(g["datastream"]), *[f"{total(g, w):.1f}" for w, _ in windows]])
    return Table(
        "雨情（按站排序）", ["雨量站", *[label for _, label in windows]], rows, empty="无雨量站"
    )


def _incidents_table(*, session: Session, actor: Any, start: datetime, end: datetime) -> Table:
    from fangxun.incidents import service as incidents

    items = [
        i
        for i in incidents.list_incidents(session=session, actor=actor, limit=500)
        if i.reported_at < end and (i.reported_at >= start or i.status.value != "closed")
    ]
    rows = [
        [
            _local(i.reported_at),
            i.title,
            i.location_text or "—",
            SEVERITY_ZH.get(i.severity.value, i.severity.value),
            INCIDENT_ZH.get(i.status.value, i.status.value),
        ]
        for i in sorted(items, key=lambda i: i.reported_at)
    ]
    return Table("险情", ["上报时间", "险情", "地点", "程度", "状态"], rows)


def _duty_table(gathered: dict[str, Any]) -> Table:
    data = _section(gathered, "duty")
    rows = [
        [
            t["unit"],
            t["leader"] or "—",
            t["leader_phone"] or "—",
            "、".join(t["members"]) or "—",
        ]
        for t in data.get("teams", [])
    ]
    return Table("值班人员", ["单位", "带班领导", "电话", "值班人员"], rows, empty="未排班")


def _shortages_table(gathered: dict[str, Any]) -> Table:
    data = _section(gathered, "shortages")
    rows = [
        [
            s["warehouse"],
            s["item"],
            f"{s['quota']:g} {s['unit_of_measure']}",
            f"{s['quantity']:g} {s['unit_of_measure']}",
            f"{s['shortfall']:g} {s['unit_of_measure']}",
        ]
        for s in data.get("items", [])
    ]
    return Table("物资缺口", ["仓库", "物资", "定额", "库存", "缺口"], rows)


def _points_table(gathered: dict[str, Any]) -> Table:
    data = _section(gathered, "points_at_risk")
    rows = []
    for p in data.get("observed", []):
        depth = p.get("depth_cm")
        if depth is None and p.get("depth_m") is not None:
            depth = float(p["depth_m"]) * 100.0
        rows.append(
            [
                str(p.get("code", "")),
                str(p.get("name", "")),
                "—" if depth is None else f"{float(depth):.0f} cm",
                COLOUR_ZH.get(str(p.get("colour")), "—"),
            ]
        )
    return Table("积水点位（实测）", ["编号", "名称", "积水深度", "预警等级"], rows)


# --- builders -------------------------------------------------------------------------------------


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The calendar day ``day`` in Beijing time as UTC-aware [start, end)."""
    start = datetime.combine(day, time(0, 0), tzinfo=local_zone())
    return start, start + timedelta(days=1)


def build_daily(
    *, session: Session, actor: Any, day: date, now: datetime | None = None
) -> DutyReport:
    """The 防汛日报 of ``day`` (Beijing time): read at the day's end, or ``now`` for today."""
    from fangxun.briefings.service import gather

    now = now or utcnow()
    start, end = day_bounds(day)
    as_of = min(end, now)
    gathered = gather(session=session, actor=actor, at=as_of)
    tables: list[Table] = []
    _guard(tables, "雨情", lambda: _rain_table(gathered, [("24h", "24 小时雨量 (mm)")]))
    _guard(tables, "预警", lambda: _warnings_table(session=session, actor=actor))
    _guard(tables, "响应", lambda: _level_changes_table(session=session, start=start, end=end))
    _guard(
        tables,
        "险情",
        lambda: _incidents_table(session=session, actor=actor, start=start, end=end),
    )
    _guard(tables, "值班", lambda: _duty_table(gathered))
    _guard(tables, "物资", lambda: _shortages_table(gathered))
    return DutyReport(
        kind="daily",
        title=f"防汛日报（{day.year}年{day.month}月{day.day}日）",
        period=(
            f"统计时段：{_local(start, '%Y-%m-%d %H:%M')} 至 "
            f"{_local(as_of, '%Y-%m-%d %H:%M')}（北京时间）"
        ),
        generated_at=now,
        summary=_signal_and_level(session=session),
        tables=tables,
    )


def build_express(*, session: Session, actor: Any, at: datetime | None = None) -> DutyReport:
    """The 值班快报 at ``at`` (default now): signal, response, rain, points, incidents, duty."""
    from fangxun.briefings.service import gather

    now = utcnow()
    at = at or now
    gathered = gather(session=session, actor=actor, at=at)
    tables: list[Table] = []
    _guard(
        tables,
        "雨情",
        lambda: _rain_table(
            gathered, [("1h", "1 小时 (mm)"), ("3h", "3 小时 (mm)"), ("event", "过程累计 (mm)")]
        ),
    )
    _guard(tables, "预警", lambda: _warnings_table(session=session, actor=actor))
    _guard(tables, "积水", lambda: _points_table(gathered))
    _guard(
        tables,
        "险情",
        lambda: _incidents_table(
            session=session, actor=actor, start=at - timedelta(hours=24), end=at
        ),
    )
    _guard(tables, "值班", lambda: _duty_table(gathered))
    _guard(tables, "物资", lambda: _shortages_table(gathered))
    return DutyReport(
        kind="express",
        title="值班快报",
        period=f"截至 {_local(at, '%Y-%m-%d %H:%M')}（北京时间）",
        generated_at=now,
        summary=_signal_and_level(session=session),
        tables=tables,
    )


# --- writers --------------------------------------------------------------------------------------


def to_docx(report: DutyReport) -> bytes:
    """The report as a Word document (python-docx; East Asian font set for the Chinese text)."""
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn
    from docx.shared import Pt

    doc = Document()
    normal = doc.styles["Normal"]
    normal.font.name = "Noto Sans CJK SC"
    normal.font.size = Pt(10.5)
    normal.element.rPr.rFonts.set(qn("w:eastAsia"), "Noto Sans CJK SC")
    heading = doc.add_heading(report.title, level=0)
    heading.alignment = WD_ALIGN_PARAGRAPH.CENTER
    meta = doc.add_paragraph(
        f"{report.period} · 生成于 {_local(report.generated_at, '%Y-%m-%d %H:%M')}"
    )
    meta.alignment = WD_ALIGN_PARAGRAPH.CENTER
    if report.summary:
        doc.add_heading("总体情况", level=1)
        grid = doc.add_table(rows=0, cols=2)
        grid.style = "Table Grid"
        for label, value in report.summary:
            cells = grid.add_row().cells
            cells[0].text, cells[1].text = label, value
    for n, table in enumerate(report.tables, start=1):
        doc.add_heading(f"{n}. {table.title}", level=1)
        if not table.rows:
            doc.add_paragraph(table.empty)
            continue
        grid = doc.add_table(rows=1, cols=len(table.headers))
        grid.style = "Table Grid"
        for cell, text in zip(grid.rows[0].cells, table.headers, strict=True):
            cell.text = text
            for run in cell.paragraphs[0].runs:
                run.bold = True
        for row in table.rows:
            for cell, text in zip(grid.add_row().cells, row, strict=True):
                cell.text = text
        if table.note:
            doc.add_paragraph(table.note)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


_CSS: Final = """
@page { size: A4; margin: 16mm 14mm;
  @bottom-center { content: "第 " counter(page) " 页 / 共 " counter(pages) " 页";
                   font-family: "Noto Sans CJK SC", sans-serif; font-size: 8.5pt; } }
body { font-family: "Noto Sans CJK SC", "Noto Serif CJK SC", sans-serif; font-size: 10pt;
       color: #111; }
h1 { font-size: 18pt; text-align: center; margin: 0 0 2mm; }
.meta { text-align: center; color: #555; margin-bottom: 4mm; }
h2 { font-size: 12.5pt; border-bottom: 1px solid #999; margin: 4mm 0 2mm; }
table { width: 100%; border-collapse: collapse; margin: 1mm 0 2mm; }
th, td { border: 1px solid #bbb; padding: 0.8mm 1.5mm; text-align: left; vertical-align: top; }
th { background: #eef2f7; }
.summary th { width: 30%; }
.empty { color: #555; }
"""


def render_html(report: DutyReport) -> str:
    """The report as a standalone HTML document (the PDF's source)."""
    from jinja2 import Environment, select_autoescape

    env = Environment(autoescape=select_autoescape(default_for_string=True, default=True))
    template = env.from_string(
        """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<title>{{ r.title }}</title><style>{{ css|safe }}</style></head><body>
<h1>{{ r.title }}</h1>
<div class="meta">{{ r.period }} · 生成于 {{ generated }}</div>
{% if r.summary %}<h2>总体情况</h2><table class="summary">
{% for label, value in r.summary %}<tr><th>{{ label }}</th><td>{{ value }}</td></tr>{% endfor %}
</table>{% endif %}
{% for t in r.tables %}<h2>{{ loop.index }}. {{ t.title }}</h2>
{% if t.rows %}<table><tr>{% for h in t.headers %}<th>{{ h }}</th>{% endfor %}</tr>
{% for row in t.rows %}<tr>{% for c in row %}<td>{{ c }}</td>{% endfor %}</tr>{% endfor %}
</table>{% else %}<p class="empty">{{ t.empty }}</p>{% endif %}
{% if t.note %}<p>{{ t.note }}</p>{% endif %}{% endfor %}
</body></html>"""
    )
    return template.render(
        r=report, css=_CSS, generated=_local(report.generated_at, "%Y-%m-%d %H:%M")
    )


def to_pdf(report: DutyReport) -> bytes:
    """The report as PDF bytes (WeasyPrint; CJK text in Noto Sans CJK)."""
    from weasyprint import HTML

    pdf = HTML(string=render_html(report)).write_pdf()
    assert pdf is not None
    return bytes(pdf)


def render(report: DutyReport, fmt: str) -> bytes:
    """``docx`` or ``pdf`` bytes of ``report``; ``ValueError`` naming the formats otherwise."""
    if fmt == "docx":
        return to_docx(report)
    if fmt == "pdf":
        return to_pdf(report)
    raise ValueError(f"unknown report format {fmt!r}: use one of {', '.join(FORMATS)}")
