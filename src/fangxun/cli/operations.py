"""`fangxun duty|incidents|supplies|briefing ...`: command operations from the command line.

The commands an operator (or a cron job) runs: roster gaps as an alarm (exit status 3 when there
are gaps), the duty team on call, roster exports, response-time figures, shortages against quota
and the consultation briefing as PDF.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from fangxun.audit.service import cli_actor
from fangxun.briefings import service as briefings
from fangxun.briefings.schemas import BriefingCreate
from fangxun.cli.db import database_session, unit_id_option
from fangxun.config import get_settings
from fangxun.duty import service as duty
from fangxun.errors import ValidationFailed
from fangxun.incidents import service as incidents
from fangxun.supplies import service as supplies
from fangxun.times import parse_instant

duty_app = typer.Typer(help="Duty roster: gaps, who is on duty, exports.", no_args_is_help=True)
incidents_app = typer.Typer(help="Incidents: response-time figures.", no_args_is_help=True)
supplies_app = typer.Typer(help="Supplies: shortages against quota.", no_args_is_help=True)
briefing_app = typer.Typer(help="Consultation briefings.", no_args_is_help=True)
console = Console(soft_wrap=True)

#: Exit status of `fangxun duty gaps` when the roster has gaps (an alarm for cron / monitoring).
GAPS_EXIT_CODE = 3


def _when(value: str | None, option: str) -> datetime | None:
    return parse_instant(value, option)


FROM = typer.Option(None, "--from", help="Start, ISO 8601 with offset (default: now).")
TO = typer.Option(None, "--to", help="End, ISO 8601 with offset (default: start + 7 days).")


@duty_app.command("gaps")
def gaps(
    unit: str = typer.Option(..., "--unit", "-u", help="Code of the unit."),
    start: str | None = FROM,
    end: str | None = TO,
) -> None:
    """List roster gaps; exit status 3 when there are any (for cron and monitoring)."""
    settings = get_settings()
    begin = _when(start, "--from") or datetime.now(UTC)
    finish = _when(end, "--to") or begin + timedelta(days=7)
    with database_session(settings.database_url) as session:
        found = duty.find_gaps(
            session=session,
            actor=cli_actor(),
            unit_id=unit_id_option(session, unit),
            start=begin,
            end=finish,
            check_in_grace_s=settings.duty_check_in_grace_s,
        )
    if not found:
        console.print(f"[green]No gaps[/] in {unit}'s roster from {begin:%Y-%m-%d %H:%M} UTC.")
        return
    table = Table(title=f"值班空档 Roster gaps — {unit}")
    for column in ("kind", "from (UTC)", "to (UTC)", "shift", "detail"):
        table.add_column(column)
    for gap in found:
        table.add_row(
            gap.kind,
            f"{gap.starts_at:%Y-%m-%d %H:%M}",
            f"{gap.ends_at:%Y-%m-%d %H:%M}",
            str(gap.shift_id or ""),
            gap.detail,
        )
    console.print(table)
    raise typer.Exit(GAPS_EXIT_CODE)


@duty_app.command("current")
def current() -> None:
    """Who is on duty now, per unit, with phone numbers."""
    with database_session(get_settings().database_url) as session:
        teams = duty.current_team(session=session, actor=cli_actor())
    if not teams:
        console.print("[red]Nobody is on duty now.[/]")
        raise typer.Exit(GAPS_EXIT_CODE)
    table = Table(title="当前值班 On duty now")
    for column in ("unit", "leader", "phone", "members", "until (UTC)"):
        table.add_column(column)
    for team in teams:
        table.add_row(
            team.unit_name,
            team.leader.name if team.leader else "—",
            team.leader.phone or "" if team.leader else "",
            "、".join(f"{m.name} {m.phone or ''}".strip() for m in team.members),
            f"{team.ends_at:%m-%d %H:%M}",
        )
    console.print(table)


@duty_app.command("export")
def export(
    out: Path = typer.Argument(..., help="File to write: .xlsx (Excel) or .ics (iCalendar)."),
    unit: str | None = typer.Option(None, "--unit", "-u", help="Only this unit (code)."),
    start: str | None = FROM,
    end: str | None = typer.Option(None, "--to", help="End (default: start + 31 days)."),
) -> None:
    """Write the roster to an Excel or iCalendar file."""
    if out.suffix not in (".xlsx", ".ics"):
        raise ValidationFailed("the file must end in .xlsx or .ics", loc=("OUT",))
    begin = _when(start, "--from") or datetime.now(UTC)
    finish = _when(end, "--to") or begin + timedelta(days=31)
    with database_session(get_settings().database_url) as session:
        shifts = duty.list_shifts(
            session=session,
            actor=cli_actor(),
            unit_id=unit_id_option(session, unit) if unit else None,
            start=begin,
            end=finish,
        )
        data = duty.export_xlsx(shifts) if out.suffix == ".xlsx" else duty.export_ical(shifts)
    out.write_bytes(data)
    console.print(f"Wrote {len(shifts)} shifts to {out}")


@incidents_app.command("stats")
def stats(
    hours: float = typer.Option(24.0, "--hours", min=0.1, help="Look back this many hours."),
) -> None:
    """Response-time figures of incidents reported in the last hours (minutes)."""
    since = datetime.now(UTC) - timedelta(hours=hours)
    with database_session(get_settings().database_url) as session:
        figures = incidents.response_stats(session=session, actor=cli_actor(), since=since)

    def minutes(value: float | None) -> str:
        return "—" if value is None else f"{value / 60:.1f}"

    table = Table(title=f"险情响应 Response times, last {hours:g} h (minutes)")
    for column in ("", "count", "mean", "median", "p90"):
        table.add_column(column)
    table.add_row("reported", str(figures.incidents), "", "", "")
    table.add_row(
        "report → dispatch",
        str(figures.dispatched),
        minutes(figures.dispatch_mean_s),
        minutes(figures.dispatch_median_s),
        minutes(figures.dispatch_p90_s),
    )
    table.add_row(
        "report → on site",
        str(figures.on_site),
        minutes(figures.arrival_mean_s),
        minutes(figures.arrival_median_s),
        minutes(figures.arrival_p90_s),
    )
    console.print(table)


@supplies_app.command("shortages")
def shortages() -> None:
    """Items held below quota (查漏补缺), largest shortfall first."""
    with database_session(get_settings().database_url) as session:
        rows = supplies.shortages(session=session, actor=cli_actor())
    if not rows:
        console.print("[green]Every warehouse holds its quota.[/]")
        return
    table = Table(title="物资缺口 Shortages against quota")
    for column in ("warehouse", "item", "quota", "held", "missing"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            r.warehouse_name,
            r.item_name,
            f"{r.quota} {r.unit_of_measure}",
            str(r.quantity),
            f"[red]{r.shortfall}[/]",
        )
    console.print(table)


@briefing_app.command("generate")
def generate(
    pdf: Path | None = typer.Option(None, "--pdf", help="Also write the briefing as PDF here."),
) -> None:
    """Generate the consultation briefing for now (stored), optionally as PDF."""
    with database_session(get_settings().database_url) as session:
        briefing = briefings.generate(
            session=session, briefing_in=BriefingCreate(), actor=cli_actor()
        )
        session.flush()
        data = briefings.export_pdf(briefing) if pdf else None
        sections = briefing.content["sections"]
        ident, title = briefing.id, briefing.title
    console.print(f"Briefing {ident}: {title}")
    for key, section in sections.items():
        state = "[green]ok[/]" if section["available"] else f"[yellow]n/a[/] ({section['reason']})"
        console.print(f"  {key}: {state}")
    if pdf and data:
        pdf.write_bytes(data)
        console.print(f"Wrote {pdf}")
