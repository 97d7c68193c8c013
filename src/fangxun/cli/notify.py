"""`fangxun notify ...`: the notification sender (outbox → webhook, WeCom, DingTalk, e-mail) and
the contact channels of units and people."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from fangxun.audit.service import cli_actor
from fangxun.cli.db import database_session, unit_id_option
from fangxun.config import get_settings
from fangxun.db.engine import make_engine, session_factory
from fangxun.errors import ValidationFailed
from fangxun.notify import sender, service
from fangxun.notify.channels import build_transports, close_transports
from fangxun.notify.models import Channel
from fangxun.notify.schemas import ContactCreate

app = typer.Typer(help="Notifications: the outbox sender, contact channels.", no_args_is_help=True)
console = Console(soft_wrap=True)


@app.callback()
def notify() -> None:
    """Notifications: the outbox sender and contact channels."""


@app.command("send")
def send(
    once: bool = typer.Option(
        False, "--once", help="One pass (escalate, send all due), then exit."
    ),
    log_level: str = typer.Option("info", help="Logging level."),
) -> None:
    """Deliver due notifications with retries, and escalate unacknowledged ones to the leader on
    duty; loops until Ctrl+C or SIGTERM unless --once. Run one sender per SQLite database; on
    PostgreSQL several may run side by side."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(message)s")
    settings = get_settings()
    engine = make_engine(settings.database_url)
    factory = session_factory(engine)
    transports = build_transports(settings)
    try:
        if once:
            report = sender.run_pass(factory=factory, transports=transports, settings=settings)
            console.print(
                f"notify: claimed {report.claimed}, sent {report.sent}, retry {report.retried}, "
                f"dead {report.dead}, escalated {report.escalated}"
            )
            return
        stop = threading.Event()

        def _stop(_signum: int, _frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)

        def _report(report: sender.PassReport) -> None:
            if report.claimed or report.escalated:
                console.print(
                    f"notify: sent {report.sent}, retry {report.retried}, dead {report.dead}, "
                    f"escalated {report.escalated}"
                )

        console.print("notify: sender running (Ctrl+C stops)")
        sender.run_forever(
            factory=factory, transports=transports, settings=settings, stop=stop, on_pass=_report
        )
    finally:
        close_transports(transports)
        engine.dispose()


@app.command("contact-add")
def contact_add(
    channel: Channel = typer.Argument(..., help="webhook, wecom, dingtalk, email or sms."),
    address: str = typer.Argument(
        ..., help="Robot / webhook URL, e-mail address, or mobile number (sms)."
    ),
    unit: str | None = typer.Option(None, "--unit", "-u", help="Code of the unit (group robot)."),
    person: int | None = typer.Option(None, "--person", "-p", help="Id of the person."),
    secret: str | None = typer.Option(None, help="DingTalk robot signing secret (加签)."),
    label: str | None = typer.Option(None, help="A name for the channel, e.g. the group's."),
) -> None:
    """Add a contact channel of a unit (its WeCom / DingTalk group robot) or of a person."""
    settings = get_settings()
    with database_session(settings.database_url) as session:
        unit_id = unit_id_option(session, unit)
        try:
            contact_in = ContactCreate(
                person_id=person,
                unit_id=unit_id,
                channel=channel,
                address=address,
                secret=secret,
                label=label,
            )
        except ValidationError as exc:
            problems = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
            raise ValidationFailed(problems, loc=("contact",)) from exc
        contact = service.add_contact(session=session, contact_in=contact_in, actor=cli_actor())
        console.print(f"contact channel {contact.id}: {channel.value} {address}")


@app.command("contacts")
def contacts() -> None:
    """List the contact channels of people and units."""
    settings = get_settings()
    with database_session(settings.database_url) as session:
        table = Table("id", "person", "unit", "channel", "address", "label", "active")
        for c in service.list_contacts(session=session, actor=cli_actor()):
            table.add_row(
                str(c.id),
                str(c.person_id or ""),
                str(c.unit_id or ""),
                c.channel.value,
                c.address,
                c.label or "",
                "yes" if c.active else "no",
            )
        console.print(table)
