"""`fangxun ingest` (the MQTT ingest service) and `fangxun monitoring import-csv`."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from datetime import timedelta
from pathlib import Path
from types import FrameType

import typer
from rich.console import Console

from fangxun.config import get_settings
from fangxun.db.engine import make_engine, session_scope
from fangxun.monitoring import heartbeat
from fangxun.monitoring.ingest.csv_import import import_csv
from fangxun.monitoring.ingest.mqtt import TOPIC, MqttConfig, MqttIngest
from fangxun.monitoring.ingest.writer import IngestCounters, WriteOptions

app = typer.Typer(help="Monitoring: stations, observations, imports.", no_args_is_help=True)
#: `fangxun ingest` (MQTT, the default) and `fangxun ingest sl651` (SL 651 over TCP).
ingest_app = typer.Typer(
    help="Ingest services: MQTT (the default) and `sl651` (SL 651-2014 telemetry over TCP).",
    invoke_without_command=True,
)
console = Console(soft_wrap=True)


@ingest_app.callback()
def ingest(
    ctx: typer.Context,
    host: str | None = typer.Option(None, help="Broker host (default: FANGXUN_MQTT_HOST)."),
    port: int | None = typer.Option(None, help="Broker port (default: FANGXUN_MQTT_PORT)."),
    client_id: str | None = typer.Option(
        None,
        help="Fixed MQTT client id, whose session the broker keeps [FANGXUN_MQTT_CLIENT_ID].",
    ),
    batch_size: int | None = typer.Option(None, min=1, help="Observations per transaction."),
    report_s: float = typer.Option(10.0, help="Seconds between progress lines (0: none)."),
    log_level: str = typer.Option("info", help="Logging level (debug shows every batch)."),
) -> None:
    """Run the MQTT ingest service until Ctrl+C or SIGTERM.

    Subscribes to fangxun/v1/stations/+/observations with QoS 1 on a persistent session, writes
    batches idempotently and acknowledges each message only after its batch is committed.
    """
    if ctx.invoked_subcommand is not None:
        return
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(message)s")
    settings = get_settings()
    config = MqttConfig.from_settings(
        settings, host=host, port=port, client_id=client_id, batch_size=batch_size
    )
    engine = make_engine(settings.database_url)
    stop = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    last = {"t": time.monotonic()}

    def progress(counters: IngestCounters) -> None:
        if report_s > 0 and time.monotonic() - last["t"] >= report_s:
            last["t"] = time.monotonic()
            console.print(f"ingest: {counters.snapshot()}")

    service = MqttIngest(
        engine=engine,
        config=config,
        options=WriteOptions.from_settings(settings),
        stale_after=timedelta(seconds=settings.monitoring_stale_s),
        on_batch=progress,
        heartbeat=lambda: heartbeat.beat(settings.data_dir, heartbeat.INGEST),
    )
    console.print(
        f"Ingesting {TOPIC} from {config.host}:{config.port} as {config.client_id!r} (QoS 1)"
    )
    try:
        service.run(stop)
    finally:
        engine.dispose()
        console.print(
            f"ingest stopped: {service.counters.snapshot()} sequence {service.gaps.snapshot()} "
            f"broker dropped {service.broker_drops.dropped}"
        )


@ingest_app.command("sl651")
def ingest_sl651(
    host: str = typer.Option("0.0.0.0", help="Address to listen on."),
    port: int = typer.Option(5651, min=0, max=65535, help="TCP port the RTUs (DTUs) connect to."),
    link_timeout_s: float = typer.Option(
        300.0, help="Close a link silent this long, s (RTUs send link maintenance within it)."
    ),
    batch_size: int = typer.Option(2000, min=1, help="Most observations per transaction."),
    report_s: float = typer.Option(10.0, help="Seconds between progress lines (0: none)."),
    log_level: str = typer.Option("info", help="Logging level."),
) -> None:
    """Run the SL 651-2014 TCP ingest server until Ctrl+C or SIGTERM.

    Reads HEX/BCD and ASCII frames from many RTU links, stores each report once through the
    idempotent writer, answers after commit; whatever does not decode is a dead letter.
    """
    import asyncio

    from fangxun.monitoring.ingest.sl651_server import Sl651Config, Sl651Server

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(message)s")
    settings = get_settings()
    engine = make_engine(settings.database_url)
    server = Sl651Server(
        engine=engine,
        config=Sl651Config(
            host=host, port=port, link_timeout_s=link_timeout_s, batch_size=batch_size
        ),
        options=WriteOptions.from_settings(settings),
    )

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await server.start()
        console.print(f"SL 651 ingest listening on {host}:{server.port}")
        try:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), report_s if report_s > 0 else None)
                if report_s > 0 and not stop.is_set():
                    console.print(f"sl651: {server.counters.snapshot()} links {server.stats.links}")
        finally:
            await server.stop()

    try:
        asyncio.run(main())
    finally:
        engine.dispose()
        console.print(f"sl651 ingest stopped: {server.counters.snapshot()}")


@app.command("import-csv")
def import_csv_command(
    path: Path = typer.Argument(..., help="CSV with columns datastream,time,value."),
) -> None:
    """Import observations from a CSV file; bad rows go to the dead letters."""
    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as session:
            result = import_csv(
                session=session, path=path, options=WriteOptions.from_settings(settings)
            )
    finally:
        engine.dispose()
    console.print(
        f"{path.name}: {result.stored} stored, {result.duplicates} duplicates, "
        f"{result.dead_lettered} dead-lettered ({result.flagged} stored with QC flags)"
    )


def replay(
    scenario: str = typer.Option("720", help="720 (7·20 reconstruction) or chicago."),
    speed: float = typer.Option(60.0, min=0.001, help="Times real time (60: an hour a minute)."),
    first_hour: int = typer.Option(14, help="720 only: first hour of the 24 h window."),
    hours: int = typer.Option(8, min=1, help="720 only: hours to replay."),
    cell_m: float = typer.Option(40.0, help="Cell size of the inundation run, m (coarsened)."),
    host: str | None = typer.Option(None, help="Broker host (default: FANGXUN_MQTT_HOST)."),
    port: int | None = typer.Option(None, help="Broker port (default: FANGXUN_MQTT_PORT)."),
) -> None:
    """Play a storm through MQTT: gauge rain from the scenario, ponding depths computed by the
    inundation core on the demo terrain, river and pump values by documented rules.

    Run `fangxun ingest` alongside to store the observations.
    """
    from fangxun.demo.replay import build_plan, publish

    if scenario not in ("720", "chicago"):
        raise typer.BadParameter("use 720 or chicago", param_hint="--scenario")
    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as session:
            plan = build_plan(
                session=session,
                scenario="720" if scenario == "720" else "chicago",
                first_hour=first_hour,
                hours=hours,
                cell_m=cell_m,
                progress=console.print,
            )
    finally:
        engine.dispose()
    console.print(
        f"[bold]{plan.label}[/] — {len(plan.frames)} steps, {plan.duration_s / 3600:.1f} h"
    )
    console.print(f"peak ponding (cm): {plan.max_depth_cm}")
    sent = publish(
        plan,
        host=host or settings.mqtt_host,
        port=port or settings.mqtt_port,
        speed=speed,
        progress=console.print,
    )
    console.print(f"replay done: {sent} observations published")


@app.command("sl651-decode")
def sl651_decode(
    frame_hex: str = typer.Argument(..., metavar="HEX", help="One SL 651 frame as hex text."),
) -> None:
    """Decode one SL 651-2014 frame (HEX/BCD 7E7E, or ASCII given as hex) and print it as JSON.

    Exit 0 when the frame decodes; 2 when it does not, with the reason on stderr (and the JSON
    with crc_ok false or an "error" where the header could be read).
    """
    import json
    import sys

    from fangxun.monitoring.ingest import sl651

    try:
        frame = sl651.decode(sl651.parse_hex_text(frame_hex))
    except sl651.FrameError as exc:
        out: dict[str, object]
        if exc.frame is not None:
            out = exc.frame.as_json()
            out["error"] = exc.reason
        else:
            out = {"crc_ok": False, "error": exc.reason}
        typer.echo(json.dumps(out, ensure_ascii=False))
        typer.echo(f"sl651-decode: {exc.reason}", err=True)
        sys.stdout.flush()
        raise typer.Exit(2) from None
    typer.echo(json.dumps(frame.as_json(), ensure_ascii=False))


@app.command("sl651-register")
def sl651_register(
    address: str = typer.Argument(..., help="The RTU's 10-digit SL 651 address."),
    station: str = typer.Argument(..., help="The Fangxun station code it reports for."),
    element: list[str] = typer.Option(
        [], "--element", help="ID=DATASTREAM (or ID= to ignore that element); repeatable."
    ),
    password: str | None = typer.Option(None, help="Required frame password, 4 hex digits."),
) -> None:
    """Map an SL 651 RTU address to a station, with element → datastream overrides (the
    defaults: PN05/DRP 5-min rain, P1 1-h rain, PT accumulated rain, Z/DRZ1 water level)."""
    from fangxun.monitoring.ingest.sl651_ingest import register_station

    elements: dict[str, str | None] = {}
    for item in element:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{item!r}: use ID=DATASTREAM", param_hint="--element")
        elements[key.strip()] = value.strip() or None
    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as session:
            register_station(
                session=session,
                address=address,
                station_code=station,
                elements=elements,
                password=int(password, 16) if password else None,
            )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    finally:
        engine.dispose()
    console.print(f"SL 651 address {address} → station {station} {elements or ''}")
