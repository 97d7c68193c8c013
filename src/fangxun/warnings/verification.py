"""The verification archive: observed threshold crossings and predicted warnings, kept as events,
and their scores (hit rate, false alarms, lead time) per point and colour.

Every evaluation of the rules (:func:`fangxun.warnings.service.evaluate`) adds:

* a ``crossing`` event per colour when the depth a point's sensors report rises to a colour not
  yet reached in the current *episode* (an episode ends with a ``dry`` event, when the depth is
  back below the lowest threshold minus the margin);
* a ``warning`` event when a predicted-ponding warning is issued or raised to a colour.

:func:`score` is pure: the twin experiment (:mod:`fangxun.warnings.twin`) feeds it the truth
model's crossings and each system's warnings, the reports page the archive's. Per colour *c*
(meaning "c or worse"): a crossing of *c* is a **hit** when a warning of at least *c* at that
point started no later than ``tolerance_s`` after it and had not ended before it; its **lead** is
crossing time − warning start (s, negative when the warning came late within the tolerance). A
warning span of at least *c* with no crossing of *c* at its point between ``lookback_s`` before
its start and ``tolerance_s`` after its end is a **false alarm**. POD = hits / crossings, FAR =
false alarms / warning spans, CSI = hits / (hits + misses + false alarms).

>>> from datetime import UTC, datetime, timedelta
>>> t = datetime(2026, 7, 20, 8, tzinfo=UTC)
>>> s = score([Crossing(1, "orange", t)], [Span(1, "orange", t - timedelta(minutes=40), None)])
>>> s["orange"]["pod"], s["orange"]["far"], s["orange"]["lead_s_median"]
(1.0, 0.0, 2400.0)
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fangxun.warning_rules import COLOURS
from fangxun.warnings.models import (
    ChangeType,
    VerificationEvent,
    VerificationKind,
    Warning,
    WarningChange,
    WarningKind,
    WarningPurpose,
    rank,
)


@dataclass(frozen=True)
class Crossing:
    """The truth (or the sensors) reached ``colour`` at ``point`` at ``at``."""

    point: int
    colour: str
    at: datetime


@dataclass(frozen=True)
class Span:
    """A warning of at least ``colour`` at ``point`` from ``start`` until ``end`` (None: open)."""

    point: int
    colour: str
    start: datetime
    end: datetime | None
    #: The warning (a warning raised through colours gives one span per colour it reached).
    warning: int | None = None


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def score(
    crossings: Sequence[Crossing],
    spans: Sequence[Span],
    *,
    tolerance_s: float = 600.0,
    lookback_s: float = 3 * 3600.0,
    colours: Sequence[str] = COLOURS,
) -> dict[str, dict[str, Any]]:
    """POD, FAR, CSI and lead times per colour (see the module's text); counts included."""
    tol = timedelta(seconds=tolerance_s)
    back = timedelta(seconds=lookback_s)
    out: dict[str, dict[str, Any]] = {}
    for c in colours:
        truth = [x for x in crossings if x.colour == c]
        warned = [w for w in spans if rank(w.colour) >= rank(c)]
        # A warning raised through colours is one span per colour reached: count each warning
        # once per colour, from the first time it stood at c or above.
        firsts: dict[tuple[int, Any], Span] = {}
        for i, w in enumerate(sorted(warned, key=lambda w: w.start)):
            firsts.setdefault((w.point, w.warning if w.warning is not None else -i), w)
        warned = list(firsts.values())
        leads: list[float] = []
        for x in truth:
            best: float | None = None
            for w in warned:
                if w.point != x.point or w.start > x.at + tol:
                    continue
                if w.end is not None and w.end < x.at:
                    continue
                lead = (x.at - w.start).total_seconds()
                best = lead if best is None else max(best, lead)
            if best is not None:
                leads.append(best)
        false_alarms = 0
        for w in warned:
            end = w.end + tol if w.end is not None else None
            if not any(
                x.point == w.point and w.start - back <= x.at and (end is None or x.at <= end)
                for x in crossings
                if x.colour == c
            ):
                false_alarms += 1
        hits = len(leads)
        misses = len(truth) - hits
        out[c] = {
            "crossings": len(truth),
            "warnings": len(warned),
            "hits": hits,
            "misses": misses,
            "false_alarms": false_alarms,
            "pod": _ratio(hits, len(truth)),
            "far": _ratio(false_alarms, len(warned)),
            "csi": _ratio(hits, hits + misses + false_alarms),
            "lead_s_median": statistics.median(leads) if leads else None,
            "leads_s": sorted(leads),
        }
    return out


# --- the archive -------------------------------------------------------------------------------


def _raw_colour(levels: Iterable[Any]) -> str | None:
    raw: str | None = None
    for lv in levels:
        if lv.value >= lv.threshold and rank(lv.colour) > rank(raw):
            raw = lv.colour
    return raw


def record_crossings(*, session: Session, findings: Sequence[Any], now: datetime) -> None:
    """Add the crossings and dry-outs the observed-ponding findings show (see the module)."""
    for f in findings:
        if f.kind is not WarningKind.ponding or f.unknown or not f.levels:
            continue
        if f.purpose != WarningPurpose.operational.value or f.hazard_point_id is None:
            continue
        last = list(
            session.scalars(
                select(VerificationEvent)
                .where(
                    VerificationEvent.hazard_point_id == f.hazard_point_id,
                    VerificationEvent.kind.in_([VerificationKind.crossing, VerificationKind.dry]),
                    VerificationEvent.at <= now,
                )
                .order_by(VerificationEvent.at.desc(), VerificationEvent.id.desc())
                .limit(len(COLOURS))
            )
        )
        reached: str | None = None
        for event in last:
            if event.kind is VerificationKind.dry:
                break
            if rank(event.colour) > rank(reached):
                reached = event.colour
        depth = float(f.evidence.get("depth_m", f.levels[0].value))
        raw = _raw_colour(f.levels)
        if rank(raw) > rank(reached):
            for c in COLOURS[rank(reached) : rank(raw)]:
                session.add(
                    VerificationEvent(
                        kind=VerificationKind.crossing,
                        hazard_point_id=f.hazard_point_id,
                        colour=c,
                        at=now,
                        depth_m=depth,
                        detail={"datastream": f.evidence.get("datastream")},
                    )
                )
        elif reached is not None and raw is None:
            lowest = min(f.levels, key=lambda lv: lv.threshold)
            if depth < lowest.threshold - f.margin:
                session.add(
                    VerificationEvent(
                        kind=VerificationKind.dry,
                        hazard_point_id=f.hazard_point_id,
                        at=now,
                        depth_m=depth,
                    )
                )
    session.flush()


def record_warnings(*, session: Session, changes: Sequence[WarningChange]) -> None:
    """Add a ``warning`` event per live predicted-ponding issue or raise in ``changes``."""
    for change in changes:
        w = change.warning
        if (
            w.kind is not WarningKind.predicted_ponding
            or w.purpose is not WarningPurpose.operational
            or w.hazard_point_id is None
            or change.to_colour is None
            or change.change_type not in (ChangeType.issue, ChangeType.upgrade)
        ):
            continue
        ev = change.evidence or {}
        expected = ((ev.get("colours") or {}).get(change.to_colour.value) or {}).get("at")
        session.add(
            VerificationEvent(
                kind=VerificationKind.warning,
                hazard_point_id=w.hazard_point_id,
                colour=change.to_colour.value,
                at=change.at,
                warning_id=w.id,
                depth_m=ev.get("peak_depth_m"),
                detail={"forecast_run_id": ev.get("forecast_run_id"), "expected_at": expected},
            )
        )
    session.flush()


def archive(
    *, session: Session, since: datetime | None = None, until: datetime | None = None
) -> tuple[list[Crossing], list[Span]]:
    """The archive's crossings and warning spans (a span ends when its warning was lifted)."""
    stmt = select(VerificationEvent).where(
        VerificationEvent.kind.in_([VerificationKind.crossing, VerificationKind.warning])
    )
    if since is not None:
        stmt = stmt.where(VerificationEvent.at >= since)
    if until is not None:
        stmt = stmt.where(VerificationEvent.at <= until)
    events = list(session.scalars(stmt.order_by(VerificationEvent.at, VerificationEvent.id)))
    warning_ids = {e.warning_id for e in events if e.warning_id is not None}
    lifted: dict[int, datetime | None] = {
        wid: at
        for wid, at in session.execute(
            select(Warning.id, Warning.lifted_at).where(Warning.id.in_(warning_ids))
        )
    }
    crossings = [
        Crossing(e.hazard_point_id, str(e.colour), e.at)
        for e in events
        if e.kind is VerificationKind.crossing and e.colour
    ]
    spans = [
        Span(e.hazard_point_id, str(e.colour), e.at, lifted.get(e.warning_id or -1), e.warning_id)
        for e in events
        if e.kind is VerificationKind.warning and e.colour
    ]
    return crossings, spans


def by_point(
    *, session: Session, since: datetime | None = None, until: datetime | None = None
) -> list[dict[str, Any]]:
    """Scores per hazard point (points with any event), each with its name and per-colour
    scores, plus an ``all`` row; for the reports page."""
    from fangxun.hazards.models import HazardPoint

    crossings, spans = archive(session=session, since=since, until=until)
    per: dict[int, tuple[list[Crossing], list[Span]]] = defaultdict(lambda: ([], []))
    for x in crossings:
        per[x.point][0].append(x)
    for w in spans:
        per[w.point][1].append(w)
    names: dict[int, str] = {
        pid: name
        for pid, name in session.execute(
            select(HazardPoint.id, HazardPoint.name).where(HazardPoint.id.in_(per))
        )
    }
    rows = [
        {"point_id": p, "name": names.get(p, f"#{p}"), "scores": score(*per[p])}
        for p in sorted(per, key=lambda p: names.get(p, ""))
    ]
    if rows:
        rows.append({"point_id": None, "name": None, "scores": score(crossings, spans)})
    return rows


__all__ = [
    "Crossing",
    "Span",
    "archive",
    "by_point",
    "record_crossings",
    "record_warnings",
    "score",
]
