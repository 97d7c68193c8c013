"""`fangxun report ...`: storm events and post-event reports from the command line.

* ``report detect`` finds storm events in the rain observations and stores them;
* ``report events`` lists the stored events;
* ``report event EVENT_ID --pdf out.pdf --xlsx out.xlsx`` writes an event's report;
* ``report season --year 2026`` summarises a flood season (optionally as Excel);
* ``report daily --date D --format docx|pdf --out F`` writes the daily report (防汛日报);
* ``report express [--at T] --format docx|pdf --out F`` writes the duty express report (值班快报).
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from fangxun.audit.service import cli_actor
from fangxun.cli.db import database_session
from fangxun.config import get_settings
from fangxun.errors import ValidationFailed
from fangxun.reports import duty_reports, export, service, stats
from fangxun.reports.models import StormEvent
from fangxun.times import local_zone, parse_instant

app = typer.Typer(
    help="Reports (积涝统计与复盘): storm events, event reports, seasons.", no_args_is_help=True
)
console = Console(soft_wrap=True)


def _when(value: str | None, option: str) -> datetime | None:
    return parse_instant(value, option)


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def _events_table(events: list[StormEvent], title: str) -> Table:
    table = Table(title=title)
    for col in (
        "id",
        "过程 event",
        "开始 start",
        "结束 end",
        "状态",
        "雨量 mm",
        "1h mm",
        "24h mm",
        "等级 grade",
        "重现期",
    ):
        table.add_column(col)
    for e in events:
        table.add_row(
            str(e.id),
            e.name,
            service.local(e.start),
            service.local(e.end),
            e.status.value,
            f"{e.total_m * 1000:.1f}",
            f"{e.max_1h_m * 1000:.1f}",
            f"{e.max_24h_m * 1000:.1f}",
            stats.GRADE_LABELS_ZH.get(e.grade, e.grade),
            stats.format_return_period(e.return_period_years),
        )
    return table


@app.command("detect")
def detect(
    since: str | None = typer.Option(None, "--since", help="ISO 8601 start (default: all data)."),
    until: str | None = typer.Option(None, "--until", help="ISO 8601 end (default: now)."),
) -> None:
    """Find storm events in the rain observations (dry gap FANGXUN_RAIN_EVENT_GAP_S) and store
    them; events still going on are updated by the next run."""
    settings = get_settings()
    start, end = _when(since, "--since"), _when(until, "--until")
    with database_session(settings.database_url) as session, _progress() as bar:
        bar.add_task("detecting storm events…", total=None)
        events = service.detect_events(
            session=session, settings=settings, actor=cli_actor(), start=start, end=end
        )
        table = _events_table(events, f"{len(events)} storm event(s) stored or updated")
    console.print(table)


@app.command("events")
def events(limit: int = typer.Option(50, "--limit", min=1, help="How many, newest first.")) -> None:
    """List the stored storm events, newest first."""
    settings = get_settings()
    with database_session(settings.database_url) as session:
        table = _events_table(service.list_events(session=session, limit=limit), "Storm events")
    console.print(table)


@app.command("event")
def event(
    event_id: int = typer.Argument(..., help="Event id (see `fangxun report events`)."),
    pdf: Path | None = typer.Option(None, "--pdf", dir_okay=False, help="Write the PDF here."),
    xlsx: Path | None = typer.Option(None, "--xlsx", dir_okay=False, help="Write the Excel here."),
) -> None:
    """Print an event's worst points; write its report as PDF and/or Excel."""
    settings = get_settings()
    with database_session(settings.database_url) as session, _progress() as bar:
        task = bar.add_task("gathering", total=None)

        def step(what: str) -> None:
            bar.update(task, description=f"event {event_id}: {what}")

        report = service.build_report(
            session=session, settings=settings, event_id=event_id, actor=cli_actor(), progress=step
        )
        if pdf is not None:
            step("rendering the PDF (charts, WeasyPrint)")
            pdf.write_bytes(export.event_pdf(report))
        if xlsx is not None:
            step("writing the workbook")
            xlsx.write_bytes(export.event_xlsx(report))
        crit_cm = f"{settings.report_ponding_depth_m * 100:.0f}"
        table = Table(title=f"{report.event.name}: worst points")
        for col in (
            "#",
            "点位 point",
            "单位 unit",
            "最大 cm",
            f"≥{crit_cm} cm min",
            "退水 min",
            "原因提示",
        ):
            table.add_column(col)
        for p in report.points[:10]:
            table.add_row(
                str(p.rank),
                f"{p.code} {p.name}",
                p.unit_name,
                f"{p.max_depth_m * 100:.1f}",
                f"{p.above_ponding_s / 60:.0f}",
                "—" if p.drain_s is None else f"{p.drain_s / 60:.0f}",
                ", ".join(s.cause for s in report.suggestions[p.point_id]) or "—",
            )
    console.print(table)
    if not report.warnings_available:
        console.print("[yellow]warnings: no warnings table in this database; not counted[/]")
    for path in (pdf, xlsx):
        if path is not None:
            console.print(f"wrote [bold]{path}[/]")


@app.command("season")
def season(
    year: int | None = typer.Option(
        None, "--year", help="Flood season year.  [default: this year]"
    ),
    first_month: int = typer.Option(6, "--from-month", min=1, max=12, help="First month."),
    last_month: int = typer.Option(9, "--to-month", min=1, max=12, help="Last month."),
    xlsx: Path | None = typer.Option(None, "--xlsx", dir_okay=False, help="Write the Excel here."),
) -> None:
    """Season summary: events, the points that ponded, rectification progress per unit."""
    if last_month < first_month:
        raise ValidationFailed("--to-month is before --from-month", loc=("--to-month",))
    settings = get_settings()
    year = year if year is not None else datetime.now(local_zone()).year
    start = datetime(year, first_month, 1, tzinfo=local_zone())
    end = (
        datetime(year + 1, 1, 1, tzinfo=local_zone())
        if last_month == 12
        else datetime(year, last_month + 1, 1, tzinfo=local_zone())
    )
    with database_session(settings.database_url) as session, _progress() as bar:
        task = bar.add_task("season", total=None)
        summary = service.season_summary(
            session=session,
            settings=settings,
            actor=cli_actor(),
            start=start,
            end=end,
            progress=lambda what: bar.update(task, description=f"season: {what}"),
        )
        if xlsx is not None:
            xlsx.write_bytes(export.season_xlsx(summary))
        console.print(_events_table(summary.events, f"{year} 汛期降雨过程 storm events"))
        points = Table(title="积水点位 points that ponded")
        for col in ("点位 point", "单位 unit", "积水次数", "最大 cm", "积水历时 h"):
            points.add_column(col)
        for p in summary.points:
            if p.events_ponded:
                points.add_row(
                    f"{p.code} {p.name}",
                    p.unit_name,
                    str(p.events_ponded),
                    f"{p.max_depth_m * 100:.1f}",
                    f"{p.above_ponding_s / 3600:.2f}",
                )
        console.print(points)
        progress = Table(title="整改进度 rectification progress")
        for col in ("单位 unit", "总数", "已销号", "未销号", "逾期"):
            progress.add_column(col)
        for u in summary.progress:
            progress.add_row(u.unit_name, str(u.total), str(u.closed), str(u.open), str(u.overdue))
        console.print(progress)
    if xlsx is not None:
        console.print(f"wrote [bold]{xlsx}[/]")


def _write_duty_report(report: duty_reports.DutyReport, fmt: str, out: Path) -> None:
    if fmt not in duty_reports.FORMATS:
        raise ValidationFailed(
            f"unknown format {fmt!r}: use one of {', '.join(duty_reports.FORMATS)}",
            loc=("--format",),
        )
    out.write_bytes(duty_reports.render(report, fmt))
    console.print(f"wrote [bold]{out}[/] ({report.title}, {fmt})")


@app.command("daily")
def daily(
    day: str = typer.Option(..., "--date", help="The day, Beijing time (YYYY-MM-DD)."),
    fmt: str = typer.Option("pdf", "--format", help="docx or pdf."),
    out: Path = typer.Option(..., "--out", dir_okay=False, help="Write the report here."),
) -> None:
    """Write the daily flood-control report (防汛日报) of a day as Word or PDF."""
    try:
        the_day = date.fromisoformat(day)
    except ValueError as exc:
        raise ValidationFailed(f"not a date (YYYY-MM-DD): {day!r}", loc=("--date",)) from exc
    settings = get_settings()
    with database_session(settings.database_url) as session:
        report = duty_reports.build_daily(session=session, actor=cli_actor(), day=the_day)
        _write_duty_report(report, fmt, out)


@app.command("express")
def express(
    at: str | None = typer.Option(
        None, "--at", help="As of this time (ISO 8601 with offset); default now."
    ),
    fmt: str = typer.Option("pdf", "--format", help="docx or pdf."),
    out: Path = typer.Option(..., "--out", dir_okay=False, help="Write the report here."),
) -> None:
    """Write the duty express report (值班快报) as Word or PDF."""
    moment = _when(at, "--at")
    settings = get_settings()
    with database_session(settings.database_url) as session:
        report = duty_reports.build_express(session=session, actor=cli_actor(), at=moment)
        _write_duty_report(report, fmt, out)
