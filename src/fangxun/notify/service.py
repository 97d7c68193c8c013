"""Notification services: who is told (:func:`recipients_for`), the transactional outbox
(:func:`enqueue`), acknowledgement (by API, page or signed link), escalation of unacknowledged
notifications to the leader on duty (:func:`escalate_overdue`), the viewer's listings and the
contact channels of people and units.

Keyword-only functions; they never commit. :func:`enqueue` only adds and flushes, so a business
change (a warning change) and its notifications commit together or not at all; the sender
(:mod:`fangxun.notify.sender`) delivers them afterwards.

This module takes primitives and imports nothing from ``fangxun.warnings`` (see the contracts).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from fangxun.audit.models import AuditAction
from fangxun.audit.service import (
    SECRET_FIELDS,
    SystemActor,
    actor_username,
    record_change,
    record_update,
    snapshot,
)
from fangxun.db.queries import flush_or_conflict
from fangxun.db.types import utcnow
from fangxun.errors import NotFoundError, PermissionDeniedError, ValidationFailed
from fangxun.notify.markdown import escape as md
from fangxun.notify.models import (
    Channel,
    ContactChannel,
    Delivery,
    DeliveryStatus,
    Notification,
    NotificationRef,
)
from fangxun.notify.schemas import ContactCreate
from fangxun.org.jurisdiction import get_in_jurisdiction, is_unit_visible, scope_query, unit_in_body
from fangxun.org.models import Person, Role, Unit, UnitKind, User
from fangxun.org.permissions import Actor, Permission, require_permission

logger = logging.getLogger(__name__)

__all__ = [
    "Channel",
    "Recipient",
    "ack_token",
    "acknowledge",
    "acknowledge_all",
    "acknowledge_by_token",
    "enqueue",
    "escalate_overdue",
    "person_recipients",
    "recipients_for",
    "recipients_for_drill",
    "send_digests",
    "unacknowledged",
]

#: The system looking up the roster and recording link acknowledgements.
NOTIFY_SYSTEM = SystemActor(username="notify")
#: Salt of acknowledgement tokens (a token for anything else never verifies here).
ACK_SALT = "fangxun.notify.ack"
#: Default time to acknowledge before escalation, s (``Settings.notify_escalate_after_s``).
DEFAULT_ESCALATE_AFTER_S = 15 * 60.0
#: Who may acknowledge a notification on someone's behalf (others only their own).
ACK_ROLES = frozenset({Role.admin, Role.district, Role.duty, Role.unit})
#: Order of preference when one address is reached for several reasons.
ROLE_ORDER = ("responsible", "deputy", "leader_on_duty", "duty", "unit_contact")
#: Longest business event key (the column holds 200: room for the escalation prefix).
EVENT_KEY_MAX = 180
#: Role of escalation recipients; their notifications are never escalated again.
LEADER_ROLE = "leader_on_duty"


@dataclass(frozen=True)
class Recipient:
    """Someone (or a group robot) to tell, at one address of one channel."""

    person_id: int | None  # org Person, when the recipient is a person
    name: str
    channel: Channel
    address: str  # webhook/robot URL or e-mail address
    role: str  # "responsible", "deputy", "unit_contact", "duty", "leader_on_duty"
    secret: str | None = None  # DingTalk signing secret (not part of the identity)


# --- recipients --------------------------------------------------------------------------------


def _person_recipients(session: Session, person: Person, role: str) -> list[Recipient]:
    """A person's active contact channels, plus their org e-mail when no channel names it."""
    rows = session.scalars(
        select(ContactChannel)
        .where(ContactChannel.person_id == person.id, ContactChannel.active.is_(True))
        .order_by(ContactChannel.id)
    )
    found = [
        Recipient(person.id, person.name, row.channel, row.address, role, row.secret)
        for row in rows
    ]
    if person.email and not any(
        r.channel is Channel.EMAIL and r.address.lower() == person.email.lower() for r in found
    ):
        found.append(Recipient(person.id, person.name, Channel.EMAIL, person.email, role))
    return found


def person_recipients(
    *, session: Session, person: Person, role: str = LEADER_ROLE
) -> list[Recipient]:
    """Every active address of ``person`` (for messages to one named person, e.g. the leader on
    duty), as recipients with ``role``."""
    return _person_recipients(session, person, role)


def _unit_recipients(session: Session, unit: Unit) -> list[Recipient]:
    rows = session.scalars(
        select(ContactChannel)
        .where(ContactChannel.unit_id == unit.id, ContactChannel.active.is_(True))
        .order_by(ContactChannel.id)
    )
    return [
        Recipient(
            None, row.label or unit.name_zh, row.channel, row.address, "unit_contact", row.secret
        )
        for row in rows
    ]


def _units_for(session: Session, unit_id: int | None) -> list[Unit]:
    if unit_id is not None:
        unit = session.get(Unit, unit_id)
        if unit is None:
            raise ValidationFailed(f"unit {unit_id} does not exist", loc=("unit_id",))
        return [unit]
    # District-wide: the district unit(s).
    return list(session.scalars(select(Unit).where(Unit.kind == UnitKind.district)))


def _dedupe(recipients: Sequence[Recipient]) -> list[Recipient]:
    """One recipient per (channel, address), keeping the strongest reason (:data:`ROLE_ORDER`)."""
    best: dict[tuple[Channel, str], Recipient] = {}
    rank = {role: i for i, role in enumerate(ROLE_ORDER)}
    for r in recipients:
        key = (r.channel, r.address.strip())
        if key not in best or rank.get(r.role, 99) < rank.get(best[key].role, 99):
            best[key] = r
    return list(best.values())


def recipients_for(
    *, session: Session, unit_id: int | None, hazard_point_id: int | None, at: datetime
) -> list[Recipient]:
    """Who to tell about an event of a unit (None: district-wide) or hazard point at ``at``.

    The point's responsible and deputy people, the unit's contact channels (group robots) and
    the duty team on shift at ``at`` (leader and members), each at every active channel; one
    recipient per address.
    """
    found: list[Recipient] = []
    if hazard_point_id is not None:
        from fangxun.hazards.models import HazardPoint

        point = session.get(HazardPoint, hazard_point_id)
        if point is None:
            raise ValidationFailed(
                f"hazard point {hazard_point_id} does not exist", loc=("hazard_point_id",)
            )
        for person, role in (
            (point.responsible_person, "responsible"),
            (point.deputy_person, "deputy"),
        ):
            if person is not None:
                found += _person_recipients(session, person, role)
        if unit_id is None:
            unit_id = point.unit_id
    from fangxun.duty.service import current_team

    for unit in _units_for(session, unit_id):
        found += _unit_recipients(session, unit)
        for team in current_team(session=session, actor=NOTIFY_SYSTEM, at=at, unit_id=unit.id):
            for member in ([team.leader] if team.leader else []) + team.members:
                person = session.get(Person, member.person_id)
                if person is not None:
                    found += _person_recipients(session, person, "duty")
    return _dedupe(found)


def recipients_for_drill(*, session: Session, drill_id: int) -> list[Recipient]:
    """The people of a drill (演练): the leaders and members of its teams, at every active
    channel; one recipient per address. A drill's warnings reach these people and nobody else."""
    from fangxun.supplies.models import Drill, Team

    drill = session.get(Drill, drill_id)
    if drill is None:
        return []
    found: list[Recipient] = []
    for team_id in drill.team_ids or []:
        team = session.get(Team, int(team_id))
        if team is None:
            continue
        people = [team.leader_person_id] + [m.person_id for m in team.members]
        for person_id in people:
            person = session.get(Person, person_id) if person_id is not None else None
            if person is not None:
                found += _person_recipients(session, person, "drill")
    return _dedupe(found)


def leader_on_duty(*, session: Session, unit_id: int | None, at: datetime) -> Person | None:
    """The leader on duty (带班领导) of ``unit_id`` at ``at``, else of its parent units upwards,
    else of the district; ``None`` when no shift has one."""
    from fangxun.duty.service import current_team

    seen: set[int] = set()
    unit = session.get(Unit, unit_id) if unit_id is not None else None
    chain: list[Unit] = []
    while unit is not None and unit.id not in seen:
        seen.add(unit.id)
        chain.append(unit)
        unit = unit.parent
    chain += [u for u in _units_for(session, None) if u.id not in seen]
    for candidate in chain:
        for team in current_team(session=session, actor=NOTIFY_SYSTEM, at=at, unit_id=candidate.id):
            if team.leader is not None:
                return session.get(Person, team.leader.person_id)
    return None


# --- outbox ------------------------------------------------------------------------------------


def idempotency_key(event_key: str, channel: Channel | str, address: str) -> str:
    """The delivery key of (event, recipient): stable, so every attempt carries the same one.

    >>> idempotency_key("warning-change:1", "email", "a@b.cn") == idempotency_key(
    ...     "warning-change:1", Channel.EMAIL, "a@b.cn")
    True
    """
    digest = hashlib.sha256(f"{event_key}\x1f{Channel(channel).value}\x1f{address}".encode())
    return "fx-" + digest.hexdigest()[:40]


def enqueue(
    *,
    session: Session,
    event_key: str,
    subject: str,
    markdown: str,
    recipients: Sequence[Recipient],
    unit_id: int | None,
    requires_ack: bool = True,
    escalate_after_s: float | None = None,
    refs: Sequence[str] = (),
    daily_cap: int | None = None,
    now: datetime | None = None,
) -> list[Notification]:
    """Put one notification per recipient (and its delivery) in the outbox, in the caller's
    transaction (flush only). ``escalate_after_s`` (s) overrides the configured time to
    acknowledge; ``None`` uses ``Settings.notify_escalate_after_s`` at escalation time.

    Enqueuing the same (``event_key``, recipient channel and address) again is a no-op: the
    existing notification is returned instead of a new one. ``refs`` say what the message is
    about (``warning:17``), for filters and acknowledging all of a warning.

    With ``daily_cap``, a message that needs no acknowledgement to an address that has had that
    many messages since the local midnight is *held* (no delivery) and goes out later in that
    address's digest (:func:`send_digests`). ``now`` (default: the current time) stamps them.
    """
    if not event_key.strip() or len(event_key) > EVENT_KEY_MAX:
        raise ValidationFailed(
            f"event_key must be 1 to {EVENT_KEY_MAX} characters", loc=("event_key",)
        )
    if escalate_after_s is not None and escalate_after_s <= 0:
        raise ValidationFailed("escalate_after_s must be positive (s)", loc=("escalate_after_s",))
    existing = {
        (n.channel, n.address): n
        for n in session.scalars(select(Notification).where(Notification.event_key == event_key))
    }
    created_at = now or utcnow()
    day_start = _local_midnight(created_at)
    out: list[Notification] = []
    for i, r in enumerate(_dedupe(recipients)):
        address = r.address.strip()
        if not address:
            raise ValidationFailed(
                f"recipient {r.name} has no address", loc=("recipients", i, "address")
            )
        known = existing.get((r.channel, address))
        if known is not None:
            out.append(known)
            continue
        held = (
            daily_cap is not None
            and not requires_ack
            and _sent_since(session, r.channel, address, day_start) >= daily_cap
        )
        notification = Notification(
            event_key=event_key,
            unit_id=unit_id,
            person_id=r.person_id,
            recipient_name=r.name[:200],
            role=r.role,
            channel=r.channel,
            address=address,
            subject=subject[:300],
            markdown=markdown,
            requires_ack=requires_ack,
            escalate_after_s=escalate_after_s,
            created_at=created_at,
            held=held,
        )
        if not held:
            notification.deliveries.append(
                Delivery(
                    idempotency_key=idempotency_key(event_key, r.channel, address),
                    status=DeliveryStatus.pending,
                    attempts=0,
                    next_attempt_at=notification.created_at,
                )
            )
        for ref in dict.fromkeys(refs):
            notification.refs.append(NotificationRef(ref=ref[:100]))
        session.add(notification)
        existing[(r.channel, address)] = notification
        out.append(notification)
    flush_or_conflict(session, f"notifications of {event_key}")
    return out


def _local_midnight(at: datetime) -> datetime:
    """The start of ``at``'s day in the district's zone (the daily cap counts from there)."""
    from fangxun.times import to_local

    return to_local(at).replace(hour=0, minute=0, second=0, microsecond=0)


def _sent_since(session: Session, channel: Channel, address: str, since: datetime) -> int:
    """Messages (not held) to ``address`` created since ``since``."""
    from sqlalchemy import func

    return int(
        session.scalar(
            select(func.count(Notification.id)).where(
                Notification.channel == channel,
                Notification.address == address,
                Notification.held.is_(False),
                Notification.created_at >= since,
            )
        )
        or 0
    )


def send_digests(*, session: Session, now: datetime, every_s: float) -> list[Notification]:
    """One digest per address whose oldest held message (daily cap) has waited ``every_s``
    seconds: the held messages' subjects, times and bodies in one message; they are marked
    ``digested_at``. Returns the digests enqueued (never held themselves)."""
    from fangxun.times import SHORT, local

    held = list(
        session.scalars(
            select(Notification)
            .where(Notification.held.is_(True), Notification.digested_at.is_(None))
            .order_by(Notification.created_at, Notification.id)
        )
    )
    by_address: dict[tuple[Channel, str], list[Notification]] = {}
    for n in held:
        by_address.setdefault((n.channel, n.address), []).append(n)
    created: list[Notification] = []
    for (channel, address), items in by_address.items():
        if items[0].created_at + timedelta(seconds=every_s) > now:
            continue
        first = items[0]
        lines = [f"### 预警信息汇总 / Digest: {len(items)}"]
        lines += [f"- {local(n.created_at, SHORT)} {md(n.subject)}" for n in items]
        lines += ["", "---", ""] + [n.markdown for n in items]
        refs = sorted({ref.ref for n in items for ref in n.refs})
        key = idempotency_key(f"digest:{first.id}", channel, address)
        created += enqueue(
            session=session,
            event_key=f"digest:{key[3:23]}:{first.id}",
            subject=f"【汇总】{len(items)} 条预警信息 / {len(items)} warning messages"[:300],
            markdown="\n".join(lines),
            recipients=[
                Recipient(first.person_id, first.recipient_name, channel, address, first.role)
            ],
            unit_id=first.unit_id if all(n.unit_id == first.unit_id for n in items) else None,
            requires_ack=False,
            refs=refs,
            now=now,
        )
        for n in items:
            n.digested_at = now
    session.flush()
    return created


def signing_secret(*, session: Session, notification: Notification) -> str | None:
    """The DingTalk signing secret of the notification's address (looked up at send time, so
    secrets are not copied into the outbox)."""
    if notification.channel is not Channel.DINGTALK:
        return None
    return session.scalar(
        select(ContactChannel.secret)
        .where(
            ContactChannel.channel == Channel.DINGTALK,
            ContactChannel.address == notification.address,
            ContactChannel.secret.is_not(None),
        )
        .limit(1)
    )


# --- acknowledgement ---------------------------------------------------------------------------


def ack_token(*, secret_key: str, notification_id: int) -> str:
    """The signed, URL-safe token of a notification's acknowledgement link."""
    return str(URLSafeTimedSerializer(secret_key, salt=ACK_SALT).dumps(notification_id))


def ack_url(*, public_url: str, secret_key: str, notification_id: int) -> str:
    """The acknowledgement link sent with a notification."""
    token = ack_token(secret_key=secret_key, notification_id=notification_id)
    return f"{public_url.rstrip('/')}/notify/ack/{token}"


def notification_for_token(
    *, session: Session, token: str, secret_key: str, max_age_s: float
) -> Notification:
    """The notification an acknowledgement token names; a bad or expired token is refused."""
    serializer = URLSafeTimedSerializer(secret_key, salt=ACK_SALT)
    try:
        notification_id = serializer.loads(token, max_age=int(max_age_s))
    except SignatureExpired as exc:
        raise ValidationFailed("this acknowledgement link has expired", loc=("token",)) from exc
    except BadSignature as exc:
        raise NotFoundError("unknown acknowledgement link") from exc
    notification = (
        session.get(Notification, notification_id) if isinstance(notification_id, int) else None
    )
    if notification is None:
        raise NotFoundError("unknown acknowledgement link")
    return notification


def _mark_acknowledged(
    session: Session, notification: Notification, *, by: str, via: str, actor: Actor, at: datetime
) -> Notification:
    if notification.acknowledged_at is not None:
        return notification  # idempotent: the first acknowledgement stands
    # The same person told by several channels acknowledges once for all of them.
    siblings = [notification]
    if notification.person_id is not None:
        siblings += list(
            session.scalars(
                select(Notification).where(
                    Notification.event_key == notification.event_key,
                    Notification.person_id == notification.person_id,
                    Notification.id != notification.id,
                    Notification.acknowledged_at.is_(None),
                )
            )
        )
    for item in siblings:
        before = snapshot(item)
        item.acknowledged_at = at
        item.acknowledged_by = by[:64]
        item.ack_via = via
        session.flush()
        record_update(session=session, actor=actor, obj=item, before=before)
    return notification


def acknowledge(
    *,
    session: Session,
    notification_id: int,
    actor: Actor,
    via: str = "api",
    at: datetime | None = None,
) -> Notification:
    """Acknowledge a notification (已收到) as ``actor``: its recipient, or a duty, district,
    admin or unit user on their behalf; outside the actor's jurisdiction it is not found."""
    notification = get_notification(session=session, notification_id=notification_id, actor=actor)
    if isinstance(actor, User):
        own = actor.person_id is not None and actor.person_id == notification.person_id
        if not own and (not actor.is_active or actor.role not in ACK_ROLES):
            raise PermissionDeniedError(
                f"role {actor.role.value!r} may acknowledge only notifications sent to you"
            )
    return _mark_acknowledged(
        session,
        notification,
        by=actor_username(actor),
        via=via,
        actor=actor,
        at=at or utcnow(),
    )


def acknowledge_by_token(
    *, session: Session, token: str, secret_key: str, max_age_s: float, at: datetime | None = None
) -> Notification:
    """Acknowledge the notification of a signed link (the recipient need not log in)."""
    notification = notification_for_token(
        session=session, token=token, secret_key=secret_key, max_age_s=max_age_s
    )
    who = SystemActor(username=f"link:{notification.recipient_name}"[:64])
    return _mark_acknowledged(
        session, notification, by=who.username, via="link", actor=who, at=at or utcnow()
    )


# --- escalation --------------------------------------------------------------------------------


def _escalation_markdown(event_key: str, overdue: Sequence[Notification], waited_s: float) -> str:
    first = overdue[0]
    # ``first.markdown`` was escaped when it was built; the names and subject are escaped here.
    names = "、".join(sorted({f"{md(n.recipient_name)}（{md(n.role)}）" for n in overdue}))
    return (
        f"**未确认通知升级 / Unacknowledged, escalated**\n\n"
        f"> {md(first.subject)}\n\n"
        f"- 未确认 / Not acknowledged: {names}\n"
        f"- 等待 / Waited: {waited_s / 60:.0f} min\n"
        f"- 事件 / Event: {md(event_key)}\n\n"
        f"---\n\n{first.markdown}"
    )


def escalate_overdue(
    *,
    session: Session,
    now: datetime,
    default_after_s: float = DEFAULT_ESCALATE_AFTER_S,
) -> list[Notification]:
    """Send notifications that need an acknowledgement and have none after their time
    (``escalate_after_s``, else ``default_after_s``, s) to the leader on duty — once per event.

    Returns the escalation notifications enqueued. The overdue notifications are marked
    ``escalated_at`` (with a note saying to whom, or why nobody), so they never escalate again;
    the escalation's own event key ``escalation:<event_key>`` makes a second run a no-op too.
    """
    candidates = session.scalars(
        select(Notification)
        .where(
            Notification.requires_ack.is_(True),
            Notification.acknowledged_at.is_(None),
            Notification.escalated_at.is_(None),
            Notification.role != LEADER_ROLE,
        )
        .order_by(Notification.id)
    )
    by_event: dict[str, list[Notification]] = {}
    for n in candidates:
        after = n.escalate_after_s if n.escalate_after_s is not None else default_after_s
        if n.created_at + timedelta(seconds=after) <= now:
            by_event.setdefault(n.event_key, []).append(n)
    created: list[Notification] = []
    for event_key, overdue in by_event.items():
        unit_id = next((n.unit_id for n in overdue if n.unit_id is not None), None)
        leader = leader_on_duty(session=session, unit_id=unit_id, at=now)
        if leader is None:
            note = "no leader on duty to escalate to"
            logger.warning("notify: %s: %s", event_key, note)
        else:
            targets = _person_recipients(session, leader, LEADER_ROLE)
            if not targets:
                note = f"leader on duty {leader.name} has no contact channel"
                logger.warning("notify: %s: %s", event_key, note)
            else:
                waited = (now - min(n.created_at for n in overdue)).total_seconds()
                created += enqueue(
                    session=session,
                    event_key=f"escalation:{event_key}",
                    subject=f"【升级】{overdue[0].subject}"[:300],
                    markdown=_escalation_markdown(event_key, overdue, waited),
                    recipients=targets,
                    unit_id=unit_id,
                    requires_ack=True,
                )
                note = f"escalated to {leader.name}"
        for n in overdue:
            n.escalated_at = now
            n.escalation_note = note[:300]
    session.flush()
    return created


# --- reading -----------------------------------------------------------------------------------


def get_notification(*, session: Session, notification_id: int, actor: Actor) -> Notification:
    """A notification in the actor's jurisdiction (district-wide ones: unrestricted users only)."""
    return get_in_jurisdiction(
        session=session,
        user=actor,
        model=Notification,
        obj_id=notification_id,
        label="notification",
    )


@dataclass(frozen=True)
class NotificationFilter:
    """What the viewer asks for: ``mine`` (sent to the actor's person), ``unacknowledged``
    (needs an acknowledgement and has none), ``ref`` (about e.g. ``warning:17``), ``unit_id``,
    ``event_key``."""

    mine: bool = False
    unacknowledged: bool = False
    ref: str | None = None
    unit_id: int | None = None
    event_key: str | None = None


def _filtered(session: Session, actor: Actor, f: NotificationFilter) -> Select[Any]:
    stmt = scope_query(select(Notification), Notification.unit_id, session=session, user=actor)
    if f.event_key is not None:
        stmt = stmt.where(Notification.event_key == f.event_key)
    if f.unacknowledged:
        stmt = stmt.where(
            Notification.requires_ack.is_(True), Notification.acknowledged_at.is_(None)
        )
    if f.mine:
        person_id = actor.person_id if isinstance(actor, User) else None
        stmt = stmt.where(
            Notification.person_id == person_id
            if person_id is not None
            else Notification.id.is_(None)
        )
    if f.ref is not None:
        stmt = stmt.where(
            Notification.id.in_(
                select(NotificationRef.notification_id).where(NotificationRef.ref == f.ref)
            )
        )
    if f.unit_id is not None:
        stmt = stmt.where(Notification.unit_id == f.unit_id)
    return stmt


def list_notifications(
    *,
    session: Session,
    actor: Actor,
    limit: int = 100,
    event_key: str | None = None,
    unacknowledged_only: bool = False,
    offset: int = 0,
    where: NotificationFilter | None = None,
) -> list[Notification]:
    """The newest notifications in the actor's jurisdiction, with their deliveries (``where``
    filters; ``limit``/``offset`` page)."""
    f = where or NotificationFilter(event_key=event_key, unacknowledged=unacknowledged_only)
    stmt = _filtered(session, actor, f).options(
        selectinload(Notification.deliveries), selectinload(Notification.refs)
    )
    return list(
        session.scalars(
            stmt.order_by(Notification.created_at.desc(), Notification.id.desc())
            .limit(limit)
            .offset(offset)
        )
    )


def count_notifications(*, session: Session, actor: Actor, where: NotificationFilter) -> int:
    """How many notifications :func:`list_notifications` pages through."""
    from sqlalchemy import func

    stmt = _filtered(session, actor, where)
    return int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)


def acknowledge_all(
    *, session: Session, ref: str, actor: Actor, via: str = "web", at: datetime | None = None
) -> list[Notification]:
    """Acknowledge every unacknowledged notification about ``ref`` (e.g. all of one warning) in
    the actor's jurisdiction (duty, district, admin and unit users, on everyone's behalf); each
    is audited. Returns those acknowledged."""
    if isinstance(actor, User) and (not actor.is_active or actor.role not in ACK_ROLES):
        raise PermissionDeniedError(
            f"role {actor.role.value!r} may acknowledge only single notifications sent to you"
        )
    at = at or utcnow()
    pending = list_notifications(
        session=session,
        actor=actor,
        limit=10_000,
        where=NotificationFilter(unacknowledged=True, ref=ref),
    )
    done: list[Notification] = []
    for n in pending:
        if n.acknowledged_at is None:
            _mark_acknowledged(session, n, by=actor_username(actor), via=via, actor=actor, at=at)
            done.append(n)
    return done


def unacknowledged(*, session: Session, actor: Actor, limit: int = 50) -> list[Notification]:
    """Notifications that need an acknowledgement and have none, newest first (jurisdiction)."""
    return list_notifications(session=session, actor=actor, limit=limit, unacknowledged_only=True)


def delivery_counts(*, session: Session, actor: Actor) -> dict[str, int]:
    """How many deliveries are in each state (jurisdiction), for the viewer's header."""
    counts = {s.value: 0 for s in DeliveryStatus}
    stmt = scope_query(
        select(Delivery.status).join(Notification),
        Notification.unit_id,
        session=session,
        user=actor,
    )
    for status in session.scalars(stmt):
        counts[status.value] += 1
    return counts


# --- contact channels --------------------------------------------------------------------------

_CONTACT_EXCLUDE = SECRET_FIELDS | {"secret"}


def _contact_unit(session: Session, contact: ContactChannel) -> int | None:
    if contact.unit_id is not None:
        return contact.unit_id
    person = session.get(Person, contact.person_id) if contact.person_id else None
    return person.unit_id if person else None


def add_contact(*, session: Session, contact_in: ContactCreate, actor: Actor) -> ContactChannel:
    """Add a contact channel of a person or a unit (in the actor's jurisdiction), audited."""
    require_permission(actor, Permission.manage_people)
    if (contact_in.person_id is None) == (contact_in.unit_id is None):
        raise ValidationFailed("name exactly one of person_id and unit_id", loc=("body",))
    if contact_in.unit_id is not None:
        unit_in_body(session, actor, contact_in.unit_id, ("body", "unit_id"))
    else:
        person = session.get(Person, contact_in.person_id)
        if person is None or not is_unit_visible(
            session=session, user=actor, unit_id=person.unit_id
        ):
            raise ValidationFailed(
                f"person {contact_in.person_id} does not exist", loc=("body", "person_id")
            )
    contact = ContactChannel(**contact_in.model_dump())
    session.add(contact)
    flush_or_conflict(session, "contact channel")
    record_change(
        session=session,
        actor=actor,
        action=AuditAction.create,
        obj=contact,
        before=None,
        after=snapshot(contact, exclude=_CONTACT_EXCLUDE),
    )
    return contact


def list_contacts(
    *, session: Session, actor: Actor, person_id: int | None = None, unit_id: int | None = None
) -> list[ContactChannel]:
    """Contact channels of people and units in the actor's jurisdiction."""
    rows = session.scalars(select(ContactChannel).order_by(ContactChannel.id))
    out = [
        c
        for c in rows
        if is_unit_visible(session=session, user=actor, unit_id=_contact_unit(session, c))
    ]
    if person_id is not None:
        out = [c for c in out if c.person_id == person_id]
    if unit_id is not None:
        out = [c for c in out if c.unit_id == unit_id]
    return out


def delete_contact(*, session: Session, contact_id: int, actor: Actor) -> None:
    """Remove a contact channel (audited); outside the jurisdiction it is not found."""
    contact = session.get(ContactChannel, contact_id)
    if contact is None or not is_unit_visible(
        session=session, user=actor, unit_id=_contact_unit(session, contact)
    ):
        raise NotFoundError(f"contact channel {contact_id} not found")
    require_permission(actor, Permission.manage_people)
    before = snapshot(contact, exclude=_CONTACT_EXCLUDE)
    session.delete(contact)
    session.flush()
    record_change(
        session=session,
        actor=actor,
        action=AuditAction.delete,
        obj=contact,
        before=before,
        after=None,
    )


def delivery_status_counts(*, session: Session) -> dict[str, int]:
    """How many notification deliveries are in each status (the statuses with none left out)."""
    from sqlalchemy import func

    return {
        str(getattr(status, "value", status)): int(n)
        for status, n in session.execute(
            select(Delivery.status, func.count()).group_by(Delivery.status)
        )
    }
