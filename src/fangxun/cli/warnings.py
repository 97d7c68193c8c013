"""`fangxun warnings evaluate|list|issue|lift|proposals|approve|reject|official-poll|…`: warnings.

``evaluate`` runs the rules once (``--every N`` repeats every N seconds, for a service); ``issue``
and ``lift`` act for the operating-system user (``cli:<login>``) and need a reason.
``official-poll`` ingests the meteorological service's CAP 1.2 signals (``--url`` or ``--folder``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from fangxun.audit.service import cli_actor
from fangxun.cli.db import database_session
from fangxun.cli.loop import run_every
from fangxun.config import get_settings
from fangxun.errors import ValidationFailed
from fangxun.monitoring import heartbeat
from fangxun.times import local
from fangxun.warnings import service
from fangxun.warnings.models import Colour, WarningChange, WarningKind
from fangxun.warnings.schemas import WarningIssue, WarningLiftIn

app = typer.Typer(
    help="Warnings (预警): rules, warnings in force, issue and lift.", no_args_is_help=True
)
console = Console(soft_wrap=True)


def _local(value: datetime | None) -> str:
    return local(value)


def _print_changes(changes: list[WarningChange]) -> None:
    for c in changes:
        w = c.warning
        colours = " → ".join(x.value for x in (c.from_colour, c.to_colour) if x is not None)
        console.print(
            f"{_local(c.at)}  {c.change_type.value:9} {w.subject:28} {colours}  "
            f"CAP {c.cap_identifier}"
        )


@app.command("evaluate")
def evaluate(
    at: str | None = typer.Option(None, "--at", help="Evaluate at this time (ISO 8601, offset)."),
    every: float | None = typer.Option(None, "--every", min=1.0, help="Repeat every N seconds."),
) -> None:
    """Run the warning rules once (or every N seconds) and print the changes."""
    settings = get_settings()
    when: datetime | None = None
    if at is not None:
        try:
            when = datetime.fromisoformat(at)
        except ValueError as exc:
            raise ValidationFailed(f"not an ISO 8601 time: {at!r}", loc=("--at",)) from exc
        if when.tzinfo is None:
            raise ValidationFailed(f"{at!r} has no time zone offset", loc=("--at",))
    if every is not None and when is not None:
        raise ValidationFailed("--at and --every exclude each other", loc=("--every",))

    def tick() -> None:
        with database_session(settings.database_url) as session:
            changes = service.evaluate(session=session, now=when, settings=settings)
            _print_changes(changes)
            if not changes:
                console.print(f"{_local(when or datetime.now(UTC))}  no change")
        if every is not None:
            # Committed: the evaluator is alive and working (read by the web UI's banner).
            heartbeat.beat(settings.data_dir, heartbeat.WARNINGS)

    if every is None:
        tick()
        return
    # A service: a failing tick is logged and retried next time; SIGINT/SIGTERM stop it cleanly.
    failed = run_every(tick, every, name="warning evaluation")
    console.print(f"stopped ({failed} failed evaluations)")


@app.command("list")
def list_warnings(
    history: bool = typer.Option(False, "--history", help="Every change, newest first."),
    limit: int = typer.Option(50, "--limit", min=1),
) -> None:
    """The warnings in force (or, with --history, their changes)."""
    settings = get_settings()
    with database_session(settings.database_url) as session:
        if history:
            rows, total = service.warning_history(session=session, actor=cli_actor(), limit=limit)
            _print_changes(rows)
            console.print(f"{len(rows)} of {total} change(s)")
            return
        table = Table("id", "colour", "kind", "place", "since", "origin", "CAP")
        for w in service.active_warnings(session=session, actor=cli_actor()):
            table.add_row(
                str(w.id),
                w.colour.value,
                w.kind.value,
                w.place or "全区 district",
                _local(w.changed_at),
                w.origin.value,
                w.changes[-1].cap_identifier or "",
            )
        console.print(table)


@app.command("issue")
def issue(
    kind: WarningKind = typer.Argument(..., help="rainstorm, ponding, predicted_ponding, …"),
    colour: Colour = typer.Argument(..., help="blue, yellow, orange or red"),
    reason: str = typer.Option(..., "--reason", "-r", help="Why (kept in the history)."),
    point: int | None = typer.Option(None, "--point", help="Hazard point id (ponding)."),
    datastream: int | None = typer.Option(None, "--datastream", help="Datastream id (river)."),
    station: int | None = typer.Option(None, "--station", help="Station id (pump, stale)."),
) -> None:
    """Issue a warning by hand."""
    settings = get_settings()
    body = WarningIssue(
        kind=kind,
        colour=colour,
        reason=reason,
        hazard_point_id=point,
        datastream_id=datastream,
        station_id=station,
    )
    with database_session(settings.database_url) as session:
        w = service.issue_warning(
            session=session, warning_in=body, actor=cli_actor(), settings=settings
        )
        console.print(
            f"warning {w.id} issued: {w.colour.value} {w.subject}, "
            f"CAP {w.changes[-1].cap_identifier}"
        )


@app.command("lift")
def lift(
    warning_id: int = typer.Argument(..., help="The warning's id (see `fangxun warnings list`)."),
    reason: str = typer.Option(..., "--reason", "-r", help="Why (kept in the history)."),
) -> None:
    """Lift a warning by hand."""
    settings = get_settings()
    with database_session(settings.database_url) as session:
        w = service.lift_warning(
            session=session,
            warning_id=warning_id,
            actor=cli_actor(),
            lift_in=WarningLiftIn(reason=reason),
            settings=settings,
        )
        console.print(f"warning {w.id} lifted, CAP {w.changes[-1].cap_identifier}")


@app.command("official-poll")
def official_poll(
    url: str | None = typer.Option(None, "--url", help="CAP 1.2 feed (Atom/RSS) or CAP document."),
    folder: Path | None = typer.Option(None, "--folder", help="Folder of CAP files (.xml/.cap)."),
    once: bool = typer.Option(False, "--once", help="Poll once and exit."),
    every: float = typer.Option(60.0, "--every", min=1.0, help="Seconds between polls."),
) -> None:
    """Ingest the official rainstorm signals (气象台 CAP 1.2) and let them drive the response."""
    from fangxun.warnings import official  # lazy: httpx/tenacity only for this command

    if (url is None) == (folder is None):
        raise ValidationFailed("give exactly one of --url and --folder", loc=("--url",))
    settings = get_settings()

    def tick() -> None:
        docs = official.read_url(url) if url is not None else official.read_folder(folder)  # type: ignore[arg-type]
        with database_session(settings.database_url) as session:
            report = official.ingest(session=session, documents=docs, settings=settings)
        for source, why in report.refused:
            console.print(f"[red]refused[/red] {source}: {why}")
        console.print(
            f"{_local(datetime.now(UTC))}  official CAP: {len(report.stored)} stored, "
            f"{len(report.duplicates)} duplicate(s), {len(report.refused)} refused, "
            f"{len(report.response_changes)} response change(s)"
        )

    if once:
        tick()
        return
    failed = run_every(tick, every, name="official signal poll")
    console.print(f"stopped ({failed} failed polls)")


@app.command("official-list")
def official_list(limit: int = typer.Option(20, "--limit", min=1)) -> None:
    """The latest official signals received (newest first)."""
    from fangxun.warnings import official

    settings = get_settings()
    with database_session(settings.database_url) as session:
        rows = official.list_signals(session=session, limit=limit)
        for s in rows:
            replaced = f"  → {s.superseded_by}" if s.superseded_by else ""
            console.print(
                f"{_local(s.sent)}  {s.msg_type:6} {s.status:8} {s.colour or '-':6} {s.event}  "
                f"{s.identifier}{replaced}"
            )
        console.print(f"{len(rows)} official signal(s)")


@app.command("proposals")
def proposals(limit: int = typer.Option(10, "--limit", min=1)) -> None:
    """Forecast runs' predicted-ponding proposals: the one waiting for approval first, with what
    each would change and what will happen (impact text)."""
    from fangxun.warnings import approval, impact

    settings = get_settings()
    with database_session(settings.database_url) as session:
        rows = approval.list_proposals(session=session, actor=cli_actor(), limit=limit)
        if not rows:
            console.print("no proposal")
            return
        for p in rows:
            console.print(
                f"#{p.id} {p.status.value:10} forecast #{p.forecast_run_id}  "
                f"proposed {_local(p.created_at)}  deadline {_local(p.deadline_at)}"
                + (f"  decided by {p.decided_by}" if p.decided_by else "")
                + (f"  escalated {_local(p.escalated_at)}" if p.escalated_at else "")
            )
            for item in p.items:
                colour = item.get("to_colour")
                text = (
                    impact.impact(item.get("place"), colour, item.get("evidence"), at=p.updated_at)[
                        0
                    ]
                    if colour
                    else "解除 lift"
                )
                console.print(
                    f"    {item['change_type']:9} {item.get('from_colour') or '-':6} → "
                    f"{colour or 'lift':6}  {text}"
                )


@app.command("approve")
def approve(
    proposal_id: int = typer.Argument(..., help="The pending proposal's id."),
    note: str | None = typer.Option(None, "--note", help="Kept with the changes and the audit."),
) -> None:
    """Approve a pending proposal: its warnings go out now (as cli:<login>; audited)."""
    from fangxun.warnings import approval

    settings = get_settings()
    with database_session(settings.database_url) as session:
        p = approval.approve(
            session=session,
            proposal_id=proposal_id,
            actor=cli_actor(),
            settings=settings,
            note=note,
        )
        console.print(f"proposal #{p.id} approved: {len(p.applied_change_ids or [])} change(s)")


@app.command("reject")
def reject(
    proposal_id: int = typer.Argument(..., help="The pending proposal's id."),
    reason: str = typer.Option(..., "--reason", "-r", help="Why (kept in the audit)."),
) -> None:
    """Reject a pending proposal: nothing goes out, the run is not proposed again (audited)."""
    from fangxun.warnings import approval

    settings = get_settings()
    with database_session(settings.database_url) as session:
        p = approval.reject(
            session=session, proposal_id=proposal_id, actor=cli_actor(), reason=reason
        )
        console.print(f"proposal #{p.id} rejected")


@app.command("twin", context_settings={"allow_extra_args": True, "ignore_unknown_options": False})
def twin(
    ctx: typer.Context,
    importer: str = typer.Option(..., "--importer", help="Importer name, e.g. mch_gif, odim_hdf5."),
    radar: list[Path] = typer.Option(
        ..., "--radar", help="Radar files of one storm: --radar A B C or --radar A --radar B."
    ),
    max_1h_mm: float = typer.Option(
        ..., "--max-1h-mm", min=1.0, help="Rescale so the heaviest 1-h total is this, mm."
    ),
    json_out: Path = typer.Option(..., "--json", help="Write the scores here (JSON)."),
    importer_option: list[str] | None = typer.Option(
        None, "--importer-option", help="KEY=VALUE for the importer (repeatable)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the sensor noise and dropouts."),
    truth_cell_m: float = typer.Option(40.0, "--truth-cell-m", min=10.0, help="Truth cells, m."),
    model_cell_m: float = typer.Option(80.0, "--model-cell-m", min=10.0, help="Model cells, m."),
    cycle_min: float = typer.Option(15.0, "--cycle-min", min=1.0, help="Loop interval, min."),
) -> None:
    """Twin experiment: a radar storm scaled and moved over the demo district is the truth; the
    warning loop (nowcast → forecast → rules, approval automatic) and three baselines are scored
    (POD, FAR, CSI, median lead per colour). Prints and writes the scores."""
    import json

    from fangxun.rain import importers
    from fangxun.warnings.twin import TwinConfig, run_twin

    extra = [a for a in ctx.args if not a.startswith("-")]
    if len(extra) != len(ctx.args):
        raise ValidationFailed(f"unknown option(s): {' '.join(ctx.args)}", loc=("options",))
    # `--radar A B C` (the contract): click gives A to --radar and B C as extra arguments.
    paths = [*radar, *(Path(a) for a in extra)]
    opts = dict(importers.parse_option(i) for i in importer_option or [])
    frames = importers.read_sequence(paths, importer, opts)
    config = TwinConfig(
        max_1h_mm=max_1h_mm,
        seed=seed,
        truth_cell_m=truth_cell_m,
        model_cell_m=model_cell_m,
        cycle_s=cycle_min * 60.0,
        tolerance_s=cycle_min * 60.0,
    )
    result = run_twin(frames, config=config, settings=get_settings(), progress=console.print)
    json_out.parent.mkdir(parents=True, exist_ok=True)
    json_out.write_text(json.dumps(result, ensure_ascii=False, indent=2, default=str) + "\n")
    table = Table("system", "colour", "crossings", "POD", "FAR", "CSI", "lead median s")
    for name in ("system", "sensor_only", "gauge_persistence", "perfect"):
        for colour in ("blue", "yellow", "orange", "red"):
            s = result[name][colour]
            table.add_row(
                name,
                colour,
                str(s["crossings"]),
                "—" if s["pod"] is None else f"{s['pod']:.2f}",
                "—" if s["far"] is None else f"{s['far']:.2f}",
                "—" if s["csi"] is None else f"{s['csi']:.2f}",
                "—" if s["lead_s_median"] is None else f"{s['lead_s_median']:.0f}",
            )
    console.print(table)
    console.print(f"written {json_out}")
