"""`fangxun user ...`: create logins and reset passwords from the command line."""

from __future__ import annotations

import typer
from pydantic import ValidationError
from rich.console import Console

from fangxun.audit.service import cli_actor
from fangxun.cli.db import DATABASE_NOT_READY, database_session, unit_id_option
from fangxun.config import get_settings
from fangxun.errors import FangxunError, FieldProblem, NotFoundError, ValidationFailed
from fangxun.org import service
from fangxun.org.models import Role
from fangxun.org.schemas import UserCreate, UserUpdate

app = typer.Typer(help="User accounts.", no_args_is_help=True)
console = Console(soft_wrap=True)

#: CLI option name for each schema field, so errors point at what the operator typed.
_OPTION = {"username": "USERNAME", "password": "--password", "role": "--role", "unit_id": "--unit"}


def _validation_failed(exc: ValidationError) -> ValidationFailed:
    problems = [
        FieldProblem(
            (_OPTION.get(str(err["loc"][0]), str(err["loc"][0])),) if err["loc"] else (), err["msg"]
        )
        for err in exc.errors()
    ]
    fields = ", ".join(dict.fromkeys(".".join(map(str, p.loc)) for p in problems))
    return ValidationFailed(f"invalid value for {fields}", problems=problems)


def _database_error(exc: Exception) -> FangxunError:
    return FangxunError(
        f"the database is not ready ({type(exc).__name__}); run `fangxun db upgrade` first"
    )


@app.command()
def create(
    username: str = typer.Argument(..., help="Login name (3-64 of a-z 0-9 _ . -)."),
    role: Role = typer.Option(..., "--role", "-r", help="Role of the user."),
    unit: str | None = typer.Option(
        None,
        "--unit",
        "-u",
        help="Code of the user's unit (required for role 'unit', and for 'inspector' unless "
        "--district-wide).",
    ),
    district_wide: bool = typer.Option(
        False, "--district-wide", help="An inspector of every unit's points (not scoped)."
    ),
    password: str | None = typer.Option(
        None,
        "--password",
        help="Password; asked for (hidden, twice) when not given.",
    ),
) -> None:
    """Create a user; the password is asked for (hidden, confirmed) unless --password is given."""
    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    settings = get_settings()
    try:
        with database_session(settings.database_url) as session:
            unit_id = unit_id_option(session, unit, invalid=True)
            try:
                user_in = UserCreate(
                    username=username,
                    password=password,
                    role=role,
                    unit_id=unit_id,
                    district_wide=district_wide,
                )
            except ValidationError as exc:
                raise _validation_failed(exc) from None
            user = service.create_user(session=session, user_in=user_in, actor=cli_actor())
            name, user_id, user_role = user.username, user.id, user.role.value
    except DATABASE_NOT_READY as exc:
        raise _database_error(exc) from exc
    where = f" in unit {unit}" if unit else ""
    console.print(f"Created user [bold]{name}[/] (id {user_id}, role {user_role}{where}).")


@app.command("set-password")
def set_password(
    username: str = typer.Argument(..., help="Login name."),
    password: str | None = typer.Option(
        None, "--password", help="New password; asked for (hidden, twice) when not given."
    ),
) -> None:
    """Set a new password (revokes the user's tokens and sessions)."""
    if password is None:
        password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    settings = get_settings()
    try:
        with database_session(settings.database_url) as session:
            user = service.get_user_by_username(session=session, username=username)
            if user is None:
                raise NotFoundError(f"user {username!r} not found")
            try:
                user_in = UserUpdate(password=password)
            except ValidationError as exc:
                raise _validation_failed(exc) from None
            service.update_user(
                session=session, user_id=user.id, user_in=user_in, actor=cli_actor()
            )
    except DATABASE_NOT_READY as exc:
        raise _database_error(exc) from exc
    console.print(f"Password of [bold]{username}[/] changed; their sessions were ended.")
