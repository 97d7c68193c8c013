"""`fangxun response status|raise|stand-down|import-plan`: the emergency response from the command
line (the CLI acts as the system, audited as ``cli:<login>``).

``status`` exits with 0 when no response runs and 3 while one runs or a proposal waits, so a cron
job or a monitoring check can watch it.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from fangxun.audit.service import cli_actor
from fangxun.cli.db import database_session, unit_id_option
from fangxun.config import get_settings
from fangxun.errors import ValidationFailed
from fangxun.response import service
from fangxun.response.models import ResponseLevel

app = typer.Typer(help="Emergency response: levels IV → I and the checklist.", no_args_is_help=True)
console = Console(soft_wrap=True)

#: Exit status of `fangxun response status` while a response runs or a proposal waits.
ACTIVE_EXIT_CODE = 3

UNIT = typer.Option(None, "--unit", "-u", help="Code of the district unit (default: the root).")


def _level(value: str) -> ResponseLevel:
    try:
        return ResponseLevel(value.strip().upper())
    except ValueError:
        raise ValidationFailed(
            f"unknown level {value!r}: give IV, III, II or I", loc=("LEVEL",)
        ) from None


@app.command("status")
def status(unit: str | None = UNIT) -> None:
    """The running response, proposals waiting and the checklist by department and status."""
    actor = cli_actor()
    with database_session(get_settings().database_url) as session:
        unit_id = unit_id_option(session, unit)
        activation = service.current_level(session=session, unit_id=unit_id)
        proposals = service.open_proposals(session=session, unit_id=unit_id)
        if activation is None:
            console.print("[green]No emergency response is running.[/] 未启动应急响应")
        else:
            console.print(
                f"[bold red]{activation.level.value}级应急响应 Level {activation.level.value}[/] "
                f"since {activation.started_at:%Y-%m-%d %H:%M} UTC by {activation.started_by}"
                + (f" ({activation.rule})" if activation.rule else "")
            )
        for p in proposals:
            level = p.to_level.value if p.to_level else "?"
            console.print(
                f"[yellow]Proposal {p.id}[/]: level {level} ({p.rule}) — confirm on /response"
            )
        if activation is not None:
            table = Table(title="响应任务 Checklist")
            for column in ("department", "pending", "confirmed", "done", "n/a"):
                table.add_column(column)
            for row in service.board(session=session, actor=actor, activation_id=activation.id):
                table.add_row(
                    row.unit_name,
                    *(str(len(row.cells[s])) for s in ("pending", "confirmed", "done")),
                    str(len(row.cells["not_applicable"])),
                )
            console.print(table)
    if activation is not None or proposals:
        raise typer.Exit(ACTIVE_EXIT_CODE)


@app.command("raise")
def raise_level(
    level: str = typer.Argument(..., help="IV, III, II or I."),
    reason: str = typer.Option(..., "--reason", "-r", help="Why (kept in the record)."),
    unit: str | None = UNIT,
) -> None:
    """Start or change the response level by decision (creates the plan's checklist)."""
    with database_session(get_settings().database_url) as session:
        change = service.decide_level(
            session=session,
            level=_level(level),
            reason=reason,
            unit_id=unit_id_option(session, unit),
            actor=cli_actor(),
        )
        tasks = service.list_tasks(
            session=session, actor=cli_actor(), activation_id=change.activation_id
        )
        console.print(
            f"[green]Level {level.upper()}[/] ({change.change_type.value}); "
            f"{len(tasks)} checklist task(s)."
        )


@app.command("stand-down")
def stand_down(
    reason: str = typer.Option(..., "--reason", "-r", help="Why (kept in the record)."),
    unit: str | None = UNIT,
) -> None:
    """End the running response by decision."""
    with database_session(get_settings().database_url) as session:
        change = service.stand_down(
            session=session, reason=reason, unit_id=unit_id_option(session, unit), actor=cli_actor()
        )
        was = change.from_level.value if change.from_level else "?"
        console.print(f"[green]Stood down[/] from level {was}.")


@app.command("import-plan")
def import_plan(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help=".json, .yaml or .xlsx"),
    unit: str = typer.Option(..., "--unit", "-u", help="Code of the district unit."),
    activate: bool = typer.Option(False, "--activate", help="Put the plan in force."),
) -> None:
    """Import a contingency plan (all rows or none)."""
    with database_session(get_settings().database_url) as session:
        unit_id = unit_id_option(session, unit)
        assert unit_id is not None
        plan = service.import_plan(
            session=session,
            filename=file.name,
            data=file.read_bytes(),
            unit_id=unit_id,
            activate=activate,
            actor=cli_actor(),
        )
        console.print(f"[green]Plan {plan.id}[/] {plan.name}: {len(plan.actions)} action(s).")
