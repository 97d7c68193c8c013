"""`fangxun inundation ...`: run the grid model from a TOML run file."""

from __future__ import annotations

import typer

app = typer.Typer(help="Inundation model (2D surface flow).", no_args_is_help=True)
