"""Command-line shell (Typer + Rich): parses, calls a service, renders."""
