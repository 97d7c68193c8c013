"""The `fangxun` command: one Typer app with a sub-app per area.

The sub-commands are lazy: :data:`SUBCOMMANDS` names each one's module and help line, and the
module is imported only when that sub-command runs (or its own ``--help`` is asked for), so
``fangxun --help`` and a light command do not pay for matplotlib, rasterio, Alembic or the demo.

Domain errors raised by any command end as one red line on stderr and a sysexits-style exit code
(see :data:`EXIT_CODES`), never a traceback.
"""

from __future__ import annotations

import importlib
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from typer import _click as click  # Typer vendors click; its classes are the ones TyperGroup takes
from typer.core import TyperCommand, TyperGroup

from fangxun import __version__
from fangxun.errors import (
    AuthenticationError,
    ConfigError,
    ConflictError,
    FangxunError,
    NotFoundError,
    PermissionDeniedError,
    ThrottledError,
    ValidationFailed,
)

#: Exit code per domain error (BSD sysexits.h); any other domain error exits with 1.
EXIT_CODES: dict[type[FangxunError], int] = {
    ValidationFailed: 65,  # EX_DATAERR
    NotFoundError: 66,  # EX_NOINPUT
    ConflictError: 73,  # EX_CANTCREAT
    ThrottledError: 75,  # EX_TEMPFAIL
    AuthenticationError: 77,  # EX_NOPERM
    PermissionDeniedError: 77,  # EX_NOPERM
    ConfigError: 78,  # EX_CONFIG
}

_stderr = Console(stderr=True, soft_wrap=True)


def exit_code_for(exc: FangxunError) -> int:
    """The process exit code for a domain error."""
    for cls in type(exc).__mro__:
        if cls in EXIT_CODES:
            return EXIT_CODES[cls]
    return 1


def report_error(exc: FangxunError) -> None:
    """Print one error line (and one line per invalid field) to stderr."""
    _stderr.print(f"[bold red]Error:[/] {escape(exc.detail)}")
    if isinstance(exc, ValidationFailed):
        for problem in exc.problems:
            where = ".".join(str(p) for p in problem.loc)
            if problem.msg != exc.detail:
                _stderr.print(f"  [red]{escape(where)}[/]: {escape(problem.msg)}")


#: The sub-commands, in the order ``fangxun --help`` lists them: name → (``module:attribute``, the
#: one-line help shown in that list). The attribute is a Typer app (a group of commands) or a
#: function (one command). Add a sub-app with one line here; its module is imported only when
#: it runs. ``tests/cli/test_cli_startup.py`` checks that each help line is the sub-app's own.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "serve": (
        "fangxun.cli.serve:serve",
        "Serve the API (/api/v1, docs at /api/docs) and the web pages.",
    ),
    "ingest": (
        "fangxun.cli.monitoring:ingest_app",
        "Ingest services: MQTT (the default) and `sl651` (SL 651-2014 telemetry over TCP).",
    ),
    "db": ("fangxun.cli.db:app", "Database schema (Alembic migrations), backup and restore."),
    "user": ("fangxun.cli.users:app", "User accounts."),
    "demo": (
        "fangxun.cli.demo:app",
        "Demo district: the storm story (load, serve, replay), or only load it.",
    ),
    "hazards": ("fangxun.cli.hazards:app", "Hazard ledger (隐患台账): import and export."),
    "inundation": ("fangxun.cli.inundation:app", "Inundation model (2D surface flow)."),
    "forecast": ("fangxun.cli.forecast:app", "Forecasts (积水预报): runs, status, schedule."),
    "duty": ("fangxun.cli.operations:duty_app", "Duty roster: gaps, who is on duty, exports."),
    "incidents": ("fangxun.cli.operations:incidents_app", "Incidents: response-time figures."),
    "supplies": ("fangxun.cli.operations:supplies_app", "Supplies: shortages against quota."),
    "briefing": ("fangxun.cli.operations:briefing_app", "Consultation briefings."),
    "response": (
        "fangxun.cli.response:app",
        "Emergency response: levels IV → I and the checklist.",
    ),
    "monitoring": ("fangxun.cli.monitoring:app", "Monitoring: stations, observations, imports."),
    "warnings": (
        "fangxun.cli.warnings:app",
        "Warnings (预警): rules, warnings in force, issue and lift.",
    ),
    "report": (
        "fangxun.cli.reports:app",
        "Reports (积涝统计与复盘): storm events, event reports, seasons.",
    ),
    "notify": ("fangxun.cli.notify:app", "Notifications: the outbox sender, contact channels."),
    "drainage": (
        "fangxun.cli.drainage:app",
        "Drainage network (SWMM) coupled with the surface model.",
    ),
    "rain": ("fangxun.cli.rain:app", "Rain grids (雷达/数值预报降水): nowcast, import, watch."),
}


def load_subcommand(name: str) -> click.Command:
    """Import the module of sub-command ``name`` and build its click command."""
    module_name, _, attribute = SUBCOMMANDS[name][0].partition(":")
    target = getattr(importlib.import_module(module_name), attribute)
    command: click.Command
    if isinstance(target, typer.Typer):
        command = typer.main.get_group(target)  # as add_typer would build it
    else:
        single = typer.Typer(add_completion=False)
        single.command(name)(target)
        command = typer.main.get_command(single)
    command.name = name
    return command


class _ErrorReportingGroup(TyperGroup):
    """Turns a :class:`FangxunError` from any sub-command into a message and an exit code, and
    loads the sub-commands of :data:`SUBCOMMANDS` when they are used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*super().list_commands(ctx), *(n for n in SUBCOMMANDS if n not in self.commands)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands or cmd_name not in SUBCOMMANDS:
            return super().get_command(ctx, cmd_name)
        # Listing for --help: a stand-in with the help line, nothing imported.
        return TyperCommand(cmd_name, help=SUBCOMMANDS[cmd_name][1])

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else None
        if name in SUBCOMMANDS and name not in self.commands:
            self.add_command(load_subcommand(name), name)
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: Any) -> Any:  # click's Context, vendored by Typer
        try:
            return super().invoke(ctx)
        except FangxunError as exc:
            report_error(exc)
            raise typer.Exit(exit_code_for(exc)) from None


app = typer.Typer(
    name="fangxun",
    cls=_ErrorReportingGroup,
    help="Fangxun 防汛 — urban waterlogging early warning and flood-control command.",
    no_args_is_help=True,
    add_completion=False,
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"fangxun {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False,
        "--version",
        callback=_version_callback,
        is_eager=True,
        help="Show the version and exit.",
    ),
) -> None:
    """Fangxun 防汛 command line."""
