"""`fangxun notify ...`: the notification sender (outbox → webhook, WeCom, DingTalk, e-mail)."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

import typer
from rich.console import Console

from fangxun.config import get_settings
from fangxun.db.engine import make_engine, session_factory
from fangxun.notify import sender
from fangxun.notify.channels import build_transports, close_transports

app = typer.Typer(help="Notifications: the outbox sender.", no_args_is_help=True)
console = Console(soft_wrap=True)


@app.callback()
def notify() -> None:
    """Notifications: the outbox sender."""


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
