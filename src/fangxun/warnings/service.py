"""Warning services: the lifecycle (rules and people), reading, and the CAP alerts.

Lifecycle, per subject (see :mod:`fangxun.warnings.models`)::

    (none) ──issue──► active ──upgrade/downgrade/update──► active ──lift──► lifted

:func:`evaluate` runs the rules (:mod:`fangxun.warnings.rules`) and applies what they call for:
raising happens at once; lowering and lifting only when the value has fallen below its threshold
minus the margin (hysteresis) **and** the warning has held its colour for ``min_hold_s`` — so a
series hovering at a threshold does not flap. A subject whose data are unusable (a silent sensor)
is left as it is. A warning a person issued or changed (``origin`` manual) is never lowered or
lifted by the rules, only raised; after a person lifts a warning, the rules wait ``min_hold_s``
before issuing one for the same subject again.

People (``admin``, ``district``, ``duty``) issue, change and lift warnings with a reason; those
changes are in the audit log. Every change is kept as a :class:`WarningChange` with its evidence
and a CAP 1.2 alert validated against the schema before it is stored; in the same transaction
:func:`fangxun.warnings.flows.after_change` queues the notifications and drives the response.

Reading: every role; a ``unit`` user sees the warnings of its jurisdiction and the district-wide
ones. Keyword-only functions that never commit.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from fangxun.audit.models import AuditEntry
from fangxun.audit.service import actor_username, record_create, record_update, snapshot
from fangxun.config import Settings
from fangxun.db.queries import flush_or_conflict
from fangxun.db.types import utcnow
from fangxun.errors import ConflictError, NotFoundError, ValidationFailed
from fangxun.org.jurisdiction import visible_unit_ids
from fangxun.org.models import Role, Unit, UnitKind
from fangxun.org.permissions import Actor, require_role
from fangxun.warnings import cap, impact, rules
from fangxun.warnings.config import WarningRules
from fangxun.warnings.models import (
    ChangeType,
    Colour,
    Origin,
    Warning,
    WarningChange,
    WarningKind,
    WarningPurpose,
    WarningStatus,
    rank,
)
from fangxun.warnings.schemas import WarningChangeIn, WarningIssue, WarningLiftIn

logger = logging.getLogger(__name__)

#: Roles that issue, change and lift warnings by hand and run the rules on demand.
MANAGERS: Final = frozenset({Role.admin, Role.district, Role.duty})
#: The name rule-made changes are recorded under.
RULES_ACTOR: Final = "rules"

KIND_NAMES: Final[dict[str, tuple[str, str]]] = {
    # A rainstorm warning by hand relays the official signal; the gauge rule's is only an
    # indication (see kind_names and fangxun.warnings.official).
    "rainstorm": ("暴雨", "rainstorm"),
    "ponding": ("积水", "ponding"),
    "predicted_ponding": ("积水预报", "predicted ponding"),
    "river_level": ("河道水位", "river level"),
    "pump_failure": ("泵站故障", "pump station failure"),
    "stale_sensor": ("监测站离线", "monitoring station offline"),
}
COLOUR_NAMES: Final[dict[str, tuple[str, str]]] = {
    "blue": ("蓝色", "Blue"),
    "yellow": ("黄色", "Yellow"),
    "orange": ("橙色", "Orange"),
    "red": ("红色", "Red"),
}
CHANGE_NAMES: Final[dict[str, tuple[str, str]]] = {
    "issue": ("发布", "issued"),
    "upgrade": ("升级", "upgraded"),
    "downgrade": ("降级", "downgraded"),
    "update": ("更新", "updated"),
    "lift": ("解除", "lifted"),
}
MSG_TYPES: Final[dict[ChangeType, str]] = {
    ChangeType.issue: "Alert",
    ChangeType.upgrade: "Update",
    ChangeType.downgrade: "Update",
    ChangeType.update: "Update",
    ChangeType.lift: "Cancel",
}
CAP_CATEGORY: Final[dict[str, str]] = {
    "rainstorm": "Met",
    "ponding": "Met",
    "predicted_ponding": "Met",
    "river_level": "Met",
    "pump_failure": "Infra",
    "stale_sensor": "Infra",
}


#: What the district's own rainstorm rule (rain gauges) is called: an indication, never the
#: rainstorm signal (暴雨预警信号), which only the meteorological service issues.
GAUGE_INDICATION_NAMES: Final = ("雨量站指示", "rain-gauge indication")


def is_gauge_indication(warning: Warning) -> bool:
    """A rainstorm warning made by the rules (the rain gauges), not relayed by a person."""
    return warning.kind is WarningKind.rainstorm and warning.origin is Origin.rule


def kind_names(warning: Warning) -> tuple[str, str]:
    """(Chinese, English) name of ``warning``'s kind; the gauge rule's is an indication."""
    if is_gauge_indication(warning):
        return GAUGE_INDICATION_NAMES
    return KIND_NAMES[warning.kind.value]


#: Warnings whose CAP alerts are public (feed and ``/cap/<id>.xml``): never a rain-gauge
#: indication, which must not pass for the meteorological service's rainstorm signal.
PUBLIC_WARNING = or_(Warning.kind != WarningKind.rainstorm, Warning.origin != Origin.rule)


def warning_rules(settings: Settings) -> WarningRules:
    """The configured rules (``Settings.warning_rules``)."""
    return settings.warning_rules


# --- reading -----------------------------------------------------------------------------------


def _scope(stmt: Select[Any], *, session: Session, actor: Actor) -> Select[Any]:
    visible = visible_unit_ids(session=session, user=actor)
    if visible is None:
        return stmt
    return stmt.where(or_(Warning.unit_id.is_(None), Warning.unit_id.in_(sorted(visible))))


def active_warnings(
    *, session: Session, actor: Actor, purpose: WarningPurpose = WarningPurpose.operational
) -> list[Warning]:
    """Warnings in force in the actor's jurisdiction, highest colour first, then newest: the live
    ones (default), or a drill's (``purpose`` exercise), never the two mixed."""
    stmt = select(Warning).where(Warning.status == WarningStatus.active, Warning.purpose == purpose)
    rows = list(session.scalars(_scope(stmt, session=session, actor=actor)))
    return sorted(rows, key=lambda w: (-rank(w.colour), -w.changed_at.timestamp(), -w.id))


def warnings_version(*, session: Session) -> tuple[Any, ...]:
    """A cheap value that changes whenever :func:`active_warnings` may (any jurisdiction): the
    newest warning, warning change (every issue, change and lift writes one) and audit entry.
    One query of three primary-key lookups."""
    stmt = select(
        select(func.max(Warning.id)).scalar_subquery(),
        select(func.max(WarningChange.id)).scalar_subquery(),
        select(func.max(AuditEntry.id)).scalar_subquery(),
    )
    return tuple(session.execute(stmt).one())


def warning_history(
    *,
    session: Session,
    actor: Actor,
    since: datetime | None = None,
    until: datetime | None = None,
    warning_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[WarningChange], int]:
    """Changes of warnings in the actor's jurisdiction, newest first, and their total count."""
    if since is not None and until is not None and since > until:
        raise ValidationFailed("'since' must not be after 'until'", loc=("query", "since"))
    stmt = select(WarningChange).join(Warning, Warning.id == WarningChange.warning_id)
    stmt = _scope(stmt, session=session, actor=actor)
    if since is not None:
        stmt = stmt.where(WarningChange.at >= since)
    if until is not None:
        stmt = stmt.where(WarningChange.at <= until)
    if warning_id is not None:
        stmt = stmt.where(WarningChange.warning_id == warning_id)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(WarningChange.at.desc(), WarningChange.id.desc()).limit(limit).offset(offset)
    )
    return list(rows), int(total)


def get_warning(*, session: Session, warning_id: int, actor: Actor) -> Warning:
    """One warning in the actor's jurisdiction; :class:`NotFoundError` otherwise."""
    stmt = _scope(select(Warning).where(Warning.id == warning_id), session=session, actor=actor)
    found: Warning | None = session.scalars(stmt).first()
    if found is None:
        raise NotFoundError(f"warning {warning_id} not found")
    return found


def rainstorm_signal(*, session: Session) -> Colour | None:
    """The rainstorm signal in force (district-wide, live: never a drill's), or None."""
    stmt = select(Warning.colour).where(
        Warning.status == WarningStatus.active,
        Warning.kind == WarningKind.rainstorm,
        Warning.purpose == WarningPurpose.operational,
    )
    colours = list(session.scalars(stmt))
    return max(colours, key=rank) if colours else None


def _active_by_subject(session: Session) -> dict[str, Warning]:
    stmt = select(Warning).where(Warning.status == WarningStatus.active)
    return {w.subject: w for w in session.scalars(stmt)}


# --- CAP ---------------------------------------------------------------------------------------


def _fmt(value: Any, digits: int = 1) -> str:
    return f"{float(value):.{digits}f}"


def _station_of(datastream_code: Any) -> str:
    """The station's code of a datastream's (``RG01-rain`` → ``RG01``): people know stations, the
    datastream is the record's detail.

    >>> _station_of("RG01-rain"), _station_of("PD-LB03-depth"), _station_of("RG9")
    ('RG01', 'PD-LB03', 'RG9')
    """
    code = str(datastream_code)
    return code.rsplit("-", 1)[0] if "-" in code else code


def change_summary(warning: Warning, change: WarningChange) -> tuple[str, str]:
    """:func:`summary_text` of one change (its colour, time, and whether it lifts)."""
    colour = change.to_colour or change.from_colour or warning.colour
    return summary_text(
        warning,
        change.evidence,
        change.reason,
        colour=colour,
        at=change.at,
        lifted=change.change_type is ChangeType.lift,
    )


def summary_text(
    warning: Warning,
    evidence: dict[str, Any] | None,
    reason: str | None,
    *,
    colour: Colour | None = None,
    at: datetime | None = None,
    lifted: bool = False,
) -> tuple[str, str]:
    """What the evidence of ``warning`` (or of one change: its ``colour`` and time ``at``) says,
    in Chinese and English, with the person's reason when there is one (one line each). Ponding
    and predicted ponding say what will happen where and when (:mod:`fangxun.warnings.impact`)."""
    ev = evidence or {}
    rule = ev.get("rule")
    zh = en = ""
    if rule == "rainstorm":
        colour_name = (colour or warning.colour).value
        c = (ev.get("colours") or {}).get(colour_name) or {}
        if c:
            hours = _fmt(int(c["window_s"]) / 3600.0, 0)
            src_zh = "含预报" if c.get("source") == "forecast" else "实测"
            src_en = "incl. forecast" if c.get("source") == "forecast" else "observed"
            zh = (
                f"雨量站 {_station_of(c['gauge'])} {hours} 小时雨量 {_fmt(c['total_mm'])} 毫米"
                f"（{src_zh}），"
                f"阈值 {_fmt(c['threshold_mm'], 0)} 毫米"
            )
            en = (
                f"Gauge {c['gauge']}: {_fmt(c['total_mm'])} mm in {hours} h ({src_en}); "
                f"threshold {_fmt(c['threshold_mm'], 0)} mm"
            )
    elif rule in ("ponding", "predicted_ponding") and lifted:
        zh = f"{warning.place or '该点'} 积水预警解除"
        en = f"{warning.place or 'This point'}: ponding warning lifted"
    elif rule in ("ponding", "predicted_ponding"):
        zh, en = impact.impact(
            warning.place,
            (colour or warning.colour).value,
            ev,
            at=at or warning.changed_at,
        )
    elif rule == "river_level":
        zh = (
            f"水位 {_fmt(ev['level_m'], 2)} 米（警戒 {ev.get('warning_level_m')} 米，"
            f"保证 {ev.get('guarantee_level_m')} 米）"
        )
        en = (
            f"Level {_fmt(ev['level_m'], 2)} m (warning {ev.get('warning_level_m')} m, "
            f"guarantee {ev.get('guarantee_level_m')} m)"
        )
    elif rule == "pump_failure":
        zh, en = "泵站供电中断", "Pump station power is off"
    elif rule == "stale_sensor":
        zh = f"监测站 {ev.get('station')} 无数据：{ev.get('alarm')}"
        en = f"Station {ev.get('station')} is silent: {ev.get('alarm')}"
    if reason:
        zh = f"{zh}。{reason}" if zh else reason
        en = f"{en}. {reason}" if en else reason
    return zh or "—", en or "—"


def _haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(a))


def _outer_ring(geometry: dict[str, Any] | None) -> list[list[float]] | None:
    """The outer ring of a GeoJSON Polygon, or of a MultiPolygon's largest part (CAP gives one
    polygon per area), when it is a closed ring of at least four points."""
    if not geometry:
        return None
    coords = geometry.get("coordinates") or []
    if geometry.get("type") == "Polygon":
        rings = [coords[0]] if coords else []
    elif geometry.get("type") == "MultiPolygon":
        rings = [p[0] for p in coords if p]
    else:
        return None
    rings = [r for r in rings if len(r) >= 4 and r[0] == r[-1]]

    def area(ring: list[list[float]]) -> float:  # shoelace, square degrees: only to compare
        return abs(sum(a[0] * b[1] - b[0] * a[1] for a, b in itertools.pairwise(ring)))

    return max(rings, key=area) if rings else None


def _area(session: Session, warning: Warning, r: WarningRules) -> cap.Area:
    """The point's outline or a circle around it, the station's circle, or the district."""
    from fangxun.hazards.models import HazardPoint
    from fangxun.monitoring.models import Station

    if warning.hazard_point_id is not None:
        pt = session.get(HazardPoint, warning.hazard_point_id)
        if pt is not None:
            ring = ((pt.polygon or {}).get("coordinates") or [None])[0]
            if (pt.polygon or {}).get("type") == "Polygon" and ring and len(ring) >= 4:
                return cap.Area(desc=pt.name, polygon=[(float(y), float(x)) for x, y in ring])
            return cap.Area(desc=pt.name, circle=(pt.lat, pt.lon, r.cap_circle_radius_km))
    if warning.station_id is not None:
        st = session.get(Station, warning.station_id)
        if st is not None:
            return cap.Area(desc=st.name_zh, circle=(st.lat, st.lon, r.cap_circle_radius_km))
    desc = r.cap_district_name_zh
    unit = session.get(Unit, warning.unit_id) if warning.unit_id is not None else None
    if unit is not None:
        desc = unit.name_zh
    if r.cap_district_ring:
        return cap.Area(desc=desc, polygon=[(lat, lon) for lon, lat in r.cap_district_ring])
    # The unit's own boundary (set up from the district's files), else the district's.
    bounded = unit if unit is not None and unit.geometry else None
    if bounded is None:
        bounded = session.scalars(
            select(Unit).where(Unit.kind == UnitKind.district, Unit.geometry.is_not(None))
        ).first()
    ring = _outer_ring(bounded.geometry) if bounded is not None else None
    if ring is not None:
        return cap.Area(desc=desc, polygon=[(float(lat), float(lon)) for lon, lat in ring])
    coords = list(session.execute(select(Station.lat, Station.lon).where(Station.is_active)))
    if not coords:
        return cap.Area(desc=desc)
    lat0 = sum(c[0] for c in coords) / len(coords)
    lon0 = sum(c[1] for c in coords) / len(coords)
    radius = max(_haversine_km(lat0, lon0, c[0], c[1]) for c in coords) + r.cap_circle_radius_km
    return cap.Area(desc=desc, circle=(lat0, lon0, radius))


def build_cap(
    *,
    session: Session,
    warning: Warning,
    change: WarningChange,
    previous: WarningChange | None,
    settings: Settings,
) -> bytes:
    """The CAP 1.2 alert of ``change`` (validated; :class:`~fangxun.warnings.cap.CapInvalid`)."""
    r = warning_rules(settings)
    assert change.cap_identifier is not None and change.cap_sent is not None
    colour = (change.to_colour or change.from_colour or warning.colour).value
    kind = warning.kind.value
    kz, ke = kind_names(warning)
    cz, ce = COLOUR_NAMES[colour]
    chz, che = CHANGE_NAMES[change.change_type.value]
    where = warning.place or r.cap_district_name_zh
    lifted = change.change_type is ChangeType.lift
    predicted = kind == "predicted_ponding" or bool((change.evidence or {}).get("predicted"))
    urgency = "Past" if lifted else ("Expected" if predicted else "Immediate")
    certainty = "Observed" if not predicted else "Likely"
    summary_zh, summary_en = summary_text(
        warning,
        change.evidence,
        change.reason,
        colour=Colour(colour),
        at=change.at,
        lifted=lifted,
    )
    instruction: tuple[str | None, str | None] = (None, None)
    if kind in ("ponding", "predicted_ponding") and not lifted:
        point_kind = (change.evidence or {}).get("point_kind")
        instruction = impact.measure(point_kind, colour)
    refs = []
    if previous is not None and previous.cap_identifier and previous.cap_sent:
        refs.append((r.cap_sender, previous.cap_identifier, previous.cap_sent))
    common: dict[str, Any] = {
        "category": CAP_CATEGORY[kind],
        "urgency": urgency,
        "severity": "Minor" if lifted else r.cap_severity[colour],
        "certainty": certainty,
        "response_type": "AllClear" if lifted else ("Monitor" if colour == "blue" else "Prepare"),
        "effective": change.at,
        "expires": None if lifted else change.at + timedelta(seconds=r.cap_expires_s),
        "event_code": ("colour", colour),
        "parameters": (("change", change.change_type.value), ("subject", warning.subject)),
    }
    infos = (
        cap.Info(
            language="zh-CN",
            event=f"{kz}{cz}预警",
            headline=f"{where}{kz}{cz}预警{chz}",
            description=summary_zh,
            instruction=instruction[0],
            sender_name="防汛指挥部",
            **common,
        ),
        cap.Info(
            language="en",
            event=f"{ce} {ke} warning",
            headline=f"{ce} {ke} warning {che}: {warning.place or r.cap_district_name_en}",
            description=summary_en,
            instruction=instruction[1],
            sender_name="Flood control headquarters",
            **common,
        ),
    )
    drill = warning.purpose is WarningPurpose.exercise
    alert = cap.Alert(
        identifier=change.cap_identifier,
        sender=r.cap_sender,
        sent=change.cap_sent,
        msg_type=MSG_TYPES[change.change_type],
        references=refs,
        infos=infos,
        area=_area(session, warning, r),
        # A drill's alert: CAP status Exercise, restricted to the drill's participants.
        status="Exercise" if drill else "Actual",
        scope="Restricted" if drill else "Public",
        restriction=f"演练 drill #{warning.drill_id}" if drill else None,
        note=f"演练 Exercise (drill #{warning.drill_id}): not a real warning" if drill else None,
    )
    xml = cap.build_alert(alert)
    cap.validate(xml)
    return xml


def get_alert(*, session: Session, identifier: str) -> WarningChange:
    """The change whose CAP alert is ``identifier`` (public: CAP is for dissemination; a drill's
    alerts and rain-gauge indications are not public and are not found here)."""
    found = session.scalars(
        select(WarningChange)
        .join(Warning, Warning.id == WarningChange.warning_id)
        .where(
            WarningChange.cap_identifier == identifier,
            Warning.purpose == WarningPurpose.operational,
            PUBLIC_WARNING,
        )
    ).first()
    if found is None or found.cap_xml is None:
        raise NotFoundError(f"CAP alert {identifier!r} not found")
    return found


def recent_alerts(*, session: Session, limit: int = 50) -> list[WarningChange]:
    """The newest live alerts (for the public Atom feed), newest first; never a drill's, never a
    rain-gauge indication's (only :data:`PUBLIC_WARNING`)."""
    stmt = (
        select(WarningChange)
        .join(Warning, Warning.id == WarningChange.warning_id)
        .where(
            WarningChange.cap_xml.is_not(None),
            Warning.purpose == WarningPurpose.operational,
            PUBLIC_WARNING,
        )
        .order_by(WarningChange.at.desc(), WarningChange.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


# --- changing ----------------------------------------------------------------------------------


def _record(
    *,
    session: Session,
    warning: Warning,
    change_type: ChangeType,
    to_colour: Colour | None,
    at: datetime,
    actor: str,
    reason: str | None,
    evidence: dict[str, Any] | None,
    settings: Settings,
    notify: bool = True,
) -> WarningChange:
    """Apply one change to ``warning``, keep it with its CAP alert, and run the flows (with
    ``notify`` false the caller tells people of its whole batch: :func:`flows.notify_changes`)."""
    from fangxun.warnings import flows

    previous = warning.changes[-1] if warning.changes else None
    from_colour = None if change_type is ChangeType.issue else warning.colour
    if to_colour is not None:
        warning.colour = to_colour
    warning.changed_at = at
    if evidence is not None:
        warning.evidence = evidence
    if change_type is ChangeType.lift:
        warning.status = WarningStatus.lifted
        warning.lifted_at = at
    change = WarningChange(
        change_type=change_type,
        from_colour=from_colour,
        to_colour=to_colour,
        at=at,
        actor=actor[:64],
        reason=reason,
        evidence=evidence,
    )
    warning.changes.append(change)
    # Two evaluations racing on one subject: the partial unique index refuses the second.
    flush_or_conflict(session, f"warning for {warning.subject}")
    r = warning_rules(settings)
    change.cap_identifier = f"{r.cap_identifier_prefix}.{warning.id}.{change.id}"
    change.cap_sent = at
    try:
        change.cap_xml = build_cap(
            session=session, warning=warning, change=change, previous=previous, settings=settings
        ).decode("utf-8")
    except cap.CapInvalid:
        logger.exception("CAP alert of warning change %s is invalid; not stored", change.id)
        raise
    session.flush()
    if notify:
        flows.after_change(session=session, warning=warning, change=change, settings=settings)
    else:
        flows.drive(session=session, warning=warning, change=change, settings=settings)
    return change


def _new_warning(
    finding: rules.Finding | None,
    *,
    subject: str,
    kind: WarningKind,
    colour: Colour,
    origin: Origin,
    at: datetime,
    **scope: Any,
) -> Warning:
    if finding is not None:
        scope = {
            "unit_id": finding.unit_id,
            "hazard_point_id": finding.hazard_point_id,
            "datastream_id": finding.datastream_id,
            "station_id": finding.station_id,
            "place": finding.place,
            "purpose": WarningPurpose(finding.purpose),
            "drill_id": finding.drill_id,
        }
    return Warning(
        subject=subject,
        kind=kind,
        colour=colour,
        status=WarningStatus.active,
        origin=origin,
        issued_at=at,
        changed_at=at,
        **scope,
    )


@dataclass(frozen=True)
class Decision:
    """What the lifecycle does with one subject (for tests and the CLI's dry run)."""

    subject: str
    change_type: ChangeType
    to_colour: Colour | None


def _decide(
    finding: rules.Finding | None, current: Warning | None, now: datetime, r: WarningRules
) -> Decision | None:
    subject = finding.subject if finding is not None else current.subject if current else ""
    if finding is not None and finding.unknown:
        return None  # no usable data: change nothing
    cur = current.colour.value if current is not None else None
    if finding is None:
        target = None
    else:
        target = rules.target_colour(finding.levels, current=cur, margin=finding.margin)
    if current is None:
        return Decision(subject, ChangeType.issue, Colour(target)) if target else None
    if rank(target) > rank(cur):
        return Decision(subject, ChangeType.upgrade, Colour(target) if target else None)
    if rank(target) == rank(cur):
        return None
    # Lowering: never for a person's warning; only after the minimum hold time.
    if current.origin is Origin.manual:
        return None
    if now - current.changed_at < timedelta(seconds=r.min_hold_s):
        return None
    if target is None:
        return Decision(subject, ChangeType.lift, None)
    return Decision(subject, ChangeType.downgrade, Colour(target))


def _lifted_by_person_lately(
    session: Session, subject: str, now: datetime, r: WarningRules
) -> bool:
    """True when a person lifted ``subject``'s warning less than ``min_hold_s`` ago: the rules
    respect that decision for the hold time before issuing again."""
    last = session.scalars(
        select(Warning)
        .where(Warning.subject == subject, Warning.status == WarningStatus.lifted)
        .order_by(Warning.lifted_at.desc(), Warning.id.desc())
        .limit(1)
    ).first()
    if last is None or last.lifted_at is None or not last.changes:
        return False
    by_person = last.changes[-1].actor != RULES_ACTOR
    return by_person and now - last.lifted_at < timedelta(seconds=r.min_hold_s)


def evaluate(
    *, session: Session, now: datetime | None = None, settings: Settings
) -> list[WarningChange]:
    """Run every enabled rule at ``now`` (default: the current time) and issue, raise, lower or
    lift warnings as they call for. Returns the changes made, in order. Idempotent for one ``now``.
    """
    now = now or utcnow()
    if now.tzinfo is None:
        raise ValidationFailed("now needs a time zone offset", loc=("now",))
    r = warning_rules(settings)
    from fangxun.warnings import approval, verification

    found = rules.run_rules(session=session, now=now, rules=r)
    verification.record_crossings(session=session, findings=found, now=now)
    findings = {f.subject: f for f in found}
    active = _active_by_subject(session)
    changes: list[WarningChange] = []
    waiting: list[dict[str, Any]] = []
    automatic: list[tuple[dict[str, Any], WarningChange]] = []
    for subject in sorted(
        set(findings) | {s for s, w in active.items() if w.origin is Origin.rule}
    ):
        finding = findings.get(subject)
        current = active.get(subject)
        if current is not None and finding is None and current.kind.value not in r.enabled:
            continue  # a rule switched off leaves its warnings to people
        decision = _decide(finding, current, now, r)
        if decision is None:
            if (
                current is not None
                and current.origin is Origin.rule
                and finding is not None
                and not finding.unknown
            ):
                # Same colour: keep the warning's evidence current (no change, no alert).
                current.evidence = {**finding.evidence, "predicted": finding.predicted}
            continue
        evidence = (
            {**finding.evidence, "predicted": finding.predicted}
            if finding is not None
            else {"rule": subject.split(":")[0], "note": "no longer reported by the rule"}
        )
        kind = finding.kind if finding is not None else current.kind if current else None
        purpose = (
            finding.purpose
            if finding is not None
            else current.purpose.value
            if current is not None
            else "operational"
        )
        assert kind is not None
        gate = approval.gate(
            kind=kind,
            purpose=purpose,
            change_type=decision.change_type,
            to_colour=decision.to_colour,
            settings=settings,
        )
        item: dict[str, Any] | None = None
        if gate.needs_approval or gate.automatic:
            scope = (
                {
                    "unit_id": finding.unit_id,
                    "hazard_point_id": finding.hazard_point_id,
                    "place": finding.place,
                }
                if finding is not None
                else {
                    "unit_id": current.unit_id if current else None,
                    "hazard_point_id": current.hazard_point_id if current else None,
                    "place": current.place if current else None,
                }
            )
            item = approval.item_of(
                subject=subject,
                kind=kind,
                change_type=decision.change_type,
                from_colour=current.colour if current is not None else None,
                to_colour=decision.to_colour,
                scope=scope,
                evidence=evidence,
            )
        if gate.needs_approval:
            assert item is not None
            if current is None and _lifted_by_person_lately(session, subject, now, r):
                continue
            waiting.append(item)
            continue
        if current is None:
            assert finding is not None and decision.to_colour is not None
            if _lifted_by_person_lately(session, subject, now, r):
                continue
            current = _new_warning(
                finding,
                subject=subject,
                kind=finding.kind,
                colour=decision.to_colour,
                origin=Origin.rule,
                at=now,
            )
            session.add(current)
        change = _record(
            session=session,
            warning=current,
            change_type=decision.change_type,
            to_colour=decision.to_colour,
            at=now,
            actor=RULES_ACTOR,
            reason=None,
            evidence=evidence,
            settings=settings,
            notify=False,
        )
        changes.append(change)
        if item is not None:
            automatic.append((item, change))
    if automatic:
        approval.record_automatic(
            session=session,
            items=[i for i, _c in automatic],
            change_ids=[c.id for _i, c in automatic],
            now=now,
        )
    if any(k in r.approval_kinds for k in r.enabled):
        approval.sync_pending(session=session, items=waiting, now=now, settings=settings)
        approval.escalate_overdue(session=session, now=now)
    verification.record_warnings(session=session, changes=changes)
    from fangxun.warnings import flows

    flows.notify_changes(session=session, changes=changes, settings=settings)
    session.flush()
    if changes:
        logger.info("warning rules at %s: %d change(s)", now.isoformat(), len(changes))
    return changes


def _manual_subject(
    session: Session, body: WarningIssue, actor: Actor
) -> tuple[str, dict[str, Any]]:
    """The subject of a hand-issued warning and its scope, checking the named object."""
    from fangxun.hazards.models import HazardPoint
    from fangxun.monitoring.models import Datastream, Station
    from fangxun.org.jurisdiction import get_named_in_body

    kind = body.kind
    if kind is WarningKind.rainstorm:
        return "rainstorm", {"unit_id": None, "place": None}
    if kind in (WarningKind.ponding, WarningKind.predicted_ponding):
        if body.hazard_point_id is None:
            raise ValidationFailed(
                f"a {kind.value} warning needs hazard_point_id", loc=("body", "hazard_point_id")
            )
        pt = get_named_in_body(
            session=session,
            user=actor,
            model=HazardPoint,
            obj_id=body.hazard_point_id,
            loc=("body", "hazard_point_id"),
            label="hazard point",
        )
        return f"{kind.value}:{pt.id}", {
            "unit_id": pt.unit_id,
            "hazard_point_id": pt.id,
            "place": pt.name,
        }
    if kind is WarningKind.river_level:
        if body.datastream_id is None:
            raise ValidationFailed(
                "a river_level warning needs datastream_id", loc=("body", "datastream_id")
            )
        ds = session.get(Datastream, body.datastream_id)
        if ds is None:
            raise ValidationFailed(
                f"datastream {body.datastream_id} does not exist", loc=("body", "datastream_id")
            )
        return f"river_level:{ds.id}", {
            "unit_id": ds.station.unit_id,
            "datastream_id": ds.id,
            "station_id": ds.station_id,
            "place": ds.station.name_zh,
        }
    if body.station_id is None:
        raise ValidationFailed(
            f"a {kind.value} warning needs station_id", loc=("body", "station_id")
        )
    st = session.get(Station, body.station_id)
    if st is None:
        raise ValidationFailed(
            f"station {body.station_id} does not exist", loc=("body", "station_id")
        )
    return f"{kind.value}:{st.id}", {
        "unit_id": st.unit_id,
        "station_id": st.id,
        "place": st.name_zh,
    }


def preview_issue(*, session: Session, warning_in: WarningIssue, actor: Actor) -> str | None:
    """Check a hand-issued warning without issuing it (the confirmation step); returns the place
    it would name (None: district-wide). Raises what :func:`issue_warning` would raise."""
    require_role(actor, MANAGERS, "issue warnings")
    subject, scope = _manual_subject(session, warning_in, actor)
    existing = _active_by_subject(session).get(subject)
    if existing is not None:
        raise ConflictError(
            f"warning {existing.id} ({existing.colour.value}) is already in force for {subject}: "
            "change or lift it instead"
        )
    place: str | None = scope.get("place")
    return place


def issue_warning(
    *,
    session: Session,
    warning_in: WarningIssue,
    actor: Actor,
    settings: Settings,
    at: datetime | None = None,
) -> Warning:
    """Issue a warning by hand (``admin``, ``district``, ``duty``), with a reason; audited.

    A subject with a warning in force is a conflict: change that warning instead.
    """
    require_role(actor, MANAGERS, "issue warnings")
    at = at or utcnow()
    subject, scope = _manual_subject(session, warning_in, actor)
    existing = _active_by_subject(session).get(subject)
    if existing is not None:
        raise ConflictError(
            f"warning {existing.id} ({existing.colour.value}) is already in force for {subject}: "
            "change or lift it instead"
        )
    warning = _new_warning(
        None,
        subject=subject,
        kind=warning_in.kind,
        colour=warning_in.colour,
        origin=Origin.manual,
        at=at,
        **scope,
    )
    session.add(warning)
    _record(
        session=session,
        warning=warning,
        change_type=ChangeType.issue,
        to_colour=warning_in.colour,
        at=at,
        actor=actor_username(actor),
        reason=warning_in.reason,
        evidence={"rule": "manual"},
        settings=settings,
    )
    record_create(session=session, actor=actor, obj=warning)
    return warning


def change_warning(
    *,
    session: Session,
    warning_id: int,
    change_in: WarningChangeIn,
    actor: Actor,
    settings: Settings,
    at: datetime | None = None,
) -> Warning:
    """Change the colour of a warning in force by hand (the same colour restates it: ``update``).
    The warning becomes the person's: the rules no longer lower or lift it. Audited."""
    require_role(actor, MANAGERS, "change warnings")
    warning = get_warning(session=session, warning_id=warning_id, actor=actor)
    if warning.status is not WarningStatus.active:
        raise ConflictError(f"warning {warning_id} was lifted; issue a new one")
    before = snapshot(warning)
    old = rank(warning.colour)
    new = rank(change_in.colour)
    kind = (
        ChangeType.update
        if new == old
        else ChangeType.upgrade
        if new > old
        else (ChangeType.downgrade)
    )
    warning.origin = Origin.manual
    _record(
        session=session,
        warning=warning,
        change_type=kind,
        to_colour=change_in.colour,
        at=at or utcnow(),
        actor=actor_username(actor),
        reason=change_in.reason,
        evidence={**(warning.evidence or {}), "manual": True},
        settings=settings,
    )
    record_update(session=session, actor=actor, obj=warning, before=before)
    return warning


def lift_warning(
    *,
    session: Session,
    warning_id: int,
    lift_in: WarningLiftIn,
    actor: Actor,
    settings: Settings,
    at: datetime | None = None,
) -> Warning:
    """Lift a warning in force by hand, with a reason; audited. If the rules still find the
    condition, they issue a new warning once ``min_hold_s`` has passed."""
    require_role(actor, MANAGERS, "lift warnings")
    warning = get_warning(session=session, warning_id=warning_id, actor=actor)
    if warning.status is not WarningStatus.active:
        raise ConflictError(f"warning {warning_id} is already lifted")
    before = snapshot(warning)
    _record(
        session=session,
        warning=warning,
        change_type=ChangeType.lift,
        to_colour=None,
        at=at or utcnow(),
        actor=actor_username(actor),
        reason=lift_in.reason,
        evidence=warning.evidence,
        settings=settings,
    )
    record_update(session=session, actor=actor, obj=warning, before=before)
    return warning


def evaluate_now(
    *, session: Session, actor: Actor, settings: Settings, now: datetime | None = None
) -> list[WarningChange]:
    """Run the rules on demand (``admin``, ``district``, ``duty``)."""
    require_role(actor, MANAGERS, "run the warning rules")
    return evaluate(session=session, now=now, settings=settings)


def point_warnings_geojson(*, session: Session, actor: Actor) -> dict[str, Any]:
    """Active warnings at hazard points as GeoJSON points (lon/lat), for the map."""
    from fangxun.hazards.models import HazardPoint

    features = []
    for w in active_warnings(session=session, actor=actor):
        if w.hazard_point_id is None:
            continue
        pt = session.get(HazardPoint, w.hazard_point_id)
        if pt is None:
            continue
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [pt.lon, pt.lat]},
                "properties": {
                    "id": w.id,
                    "kind": w.kind.value,
                    "colour": w.colour.value,
                    "name": w.place or pt.name,
                    "code": pt.code,
                    "changed_at": w.changed_at.isoformat(),
                    "url": "/warnings",
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


def changes_of(warnings: Sequence[Warning]) -> dict[int, list[WarningChange]]:
    """The changes of each warning, oldest first."""
    return {w.id: list(w.changes) for w in warnings}
