"""The `fangxun` command: one Typer app with a sub-app per area.

Domain errors raised by any command end as one red line on stderr and a sysexits-style exit code
(see :data:`EXIT_CODES`), never a traceback.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from fangxun import __version__
from fangxun.cli import db as db_cli
from fangxun.cli import demo as demo_cli
from fangxun.cli import drainage as drainage_cli
from fangxun.cli import forecast as forecast_cli
from fangxun.cli import hazards as hazards_cli
from fangxun.cli import inundation as inundation_cli
from fangxun.cli import monitoring as monitoring_cli
from fangxun.cli import notify as notify_cli
from fangxun.cli import operations as operations_cli
from fangxun.cli import reports as reports_cli
from fangxun.cli import response as response_cli
from fangxun.cli import serve as serve_cli
from fangxun.cli import users as users_cli
from fangxun.cli import warnings as warnings_cli
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


class _ErrorReportingGroup(TyperGroup):
    """Turns a :class:`FangxunError` from any sub-command into a message and an exit code."""

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
app.add_typer(db_cli.app, name="db")
app.add_typer(users_cli.app, name="user")
app.command("serve")(serve_cli.serve)
app.add_typer(demo_cli.app, name="demo")
app.add_typer(hazards_cli.app, name="hazards")
app.add_typer(inundation_cli.app, name="inundation")
app.add_typer(forecast_cli.app, name="forecast")
app.add_typer(operations_cli.duty_app, name="duty")
app.add_typer(operations_cli.incidents_app, name="incidents")
app.add_typer(operations_cli.supplies_app, name="supplies")
app.add_typer(operations_cli.briefing_app, name="briefing")
app.add_typer(response_cli.app, name="response")
app.command("ingest")(monitoring_cli.ingest)
app.add_typer(monitoring_cli.app, name="monitoring")
app.add_typer(warnings_cli.app, name="warnings")
app.add_typer(reports_cli.app, name="report")
app.add_typer(notify_cli.app, name="notify")
app.add_typer(drainage_cli.app, name="drainage")


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
