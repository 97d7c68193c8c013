"""The `fangxun` command: one Typer app with a sub-app per area."""

from __future__ import annotations

import typer

from fangxun import __version__
from fangxun.cli import inundation as inundation_cli

app = typer.Typer(
    name="fangxun",
    help="Fangxun 防汛 — urban waterlogging early warning and flood-control command.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(inundation_cli.app, name="inundation")


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"fangxun {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """Fangxun 防汛 command line."""
