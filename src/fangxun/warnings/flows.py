"""What a warning change sets off, in the caller's transaction: the notifications (outbox) and
the emergency response.

* A batch of changes (one evaluation of the rules, one approval; a change by hand is a batch of
  one) queues **one message per recipient** (:func:`notify_changes`): the point's responsible
  people, the unit's contacts and the duty team
  (:func:`fangxun.notify.service.recipients_for`) are each told of the changes that concern
  them together, idempotent on the batch's key (``warning-change:<id>`` for one change). A
  message with an issue or upgrade must be acknowledged (once, and escalates when it is not);
  the others inform and count against the recipient's daily cap (then go out in a digest).
* A rainstorm signal drives the response level by the configured rules
  (``response.apply_warning_signal``); ponding and predicted ponding at a point start the point
  plan's tasks whose trigger is met (``response.apply_point_trigger``).

A drill's warning (purpose ``exercise``) is different: its notifications go only to the drill's
people (:func:`fangxun.notify.service.recipients_for_drill`), marked 演练 and never escalated to the
leader on duty, and it never drives the response.

``notify`` and ``response`` never import ``fangxun.warnings``: they take primitives.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence

from sqlalchemy.orm import Session

from fangxun.config import Settings
from fangxun.hazards.models import HazardPoint
from fangxun.notify import service as notify
from fangxun.response import service as response
from fangxun.times import local
from fangxun.warnings.models import (
    ChangeType,
    Warning,
    WarningChange,
    WarningKind,
    WarningPurpose,
    rank,
)

logger = logging.getLogger(__name__)

#: Changes people must acknowledge (the others inform).
ACK_CHANGES = frozenset({ChangeType.issue, ChangeType.upgrade})


def event_key(change: WarningChange) -> str:
    """The idempotency key of a change's notifications."""
    return f"warning-change:{change.id}"


def message(warning: Warning, change: WarningChange) -> tuple[str, str]:
    """Subject and markdown body of a change's notification, in Chinese (the people notified
    read Chinese; the CAP message, linked by its identifier, is the machine-readable record)."""
    from fangxun.notify.markdown import escape as md
    from fangxun.warnings.service import CHANGE_NAMES, COLOUR_NAMES, change_summary, kind_names

    colour = (change.to_colour or change.from_colour or warning.colour).value
    kz, _ke = kind_names(warning)
    cz, _ce = COLOUR_NAMES[colour]
    chz, _che = CHANGE_NAMES[change.change_type.value]
    where = warning.place or "全区"
    subject = f"【{cz}预警{chz}】{where}{kz}"
    if warning.purpose is WarningPurpose.exercise:
        subject = f"【演练】{subject}"
    zh, _en = change_summary(warning, change)
    # Beijing time in the one display format (fangxun.times); the CAP message keeps the ISO time.
    when = local(change.at)
    # Names and reasons come from people: every one goes through ``md`` (no links, no headings).
    lines = [
        f"### {md(subject)}",
        f"- 时间：{when}",
        f"- 变化：{chz}"
        + (
            f"（{COLOUR_NAMES[change.from_colour.value][0]} → {cz}）"
            if change.from_colour and change.to_colour and change.from_colour != change.to_colour
            else ""
        ),
        f"- 依据：{md(zh)}",
    ]
    return subject, "\n".join(lines)


def after_change(
    *, session: Session, warning: Warning, change: WarningChange, settings: Settings
) -> None:
    """Queue the notifications of one ``change`` and drive the response, in the same
    transaction (a change made alone; an evaluation's changes go through :func:`drive` each and
    then :func:`notify_changes` together)."""
    drive(session=session, warning=warning, change=change, settings=settings)
    notify_changes(session=session, changes=[change], settings=settings)


def drive(*, session: Session, warning: Warning, change: WarningChange, settings: Settings) -> None:
    """Drive the response by one change (never for a drill's warning)."""
    if warning.purpose is WarningPurpose.exercise:
        return  # a drill never drives the response
    _drive_response(session=session, warning=warning, change=change, settings=settings)


def _recipients(session: Session, change: WarningChange) -> list[notify.Recipient]:
    """Who is told of ``change``: a drill's people only for a drill's warning."""
    warning = change.warning
    if warning.purpose is WarningPurpose.exercise:
        found = (
            notify.recipients_for_drill(session=session, drill_id=warning.drill_id)
            if warning.drill_id is not None
            else []
        )
        if not found:
            logger.warning(
                "exercise warning change %s (%s): the drill has nobody to notify",
                change.id,
                warning.subject,
            )
        return found
    point_id = warning.hazard_point_id
    if point_id is not None and session.get(HazardPoint, point_id) is None:
        # The point left the ledger since: tell its unit, and never block the change.
        logger.warning("warning %s: hazard point %s no longer exists", warning.id, point_id)
        point_id = None
    found = notify.recipients_for(
        session=session, unit_id=warning.unit_id, hazard_point_id=point_id, at=change.at
    )
    if not found:
        logger.warning("warning change %s (%s): nobody to notify", change.id, warning.subject)
    return found


def _needs_ack(change: WarningChange) -> bool:
    """Issues and upgrades of live warnings need acknowledgement (a drill's never: nothing of a
    drill escalates to the real leader on duty)."""
    return (
        change.change_type in ACK_CHANGES and change.warning.purpose is WarningPurpose.operational
    )


def batch_message(changes: Sequence[WarningChange]) -> tuple[str, str]:
    """Subject and markdown of one message telling several changes (most severe first)."""
    from fangxun.notify.markdown import escape as md
    from fangxun.warnings.service import CHANGE_NAMES, COLOUR_NAMES

    ordered = sorted(changes, key=lambda c: (-rank(c.to_colour or c.from_colour), c.id))
    top = ordered[0]
    colour = (top.to_colour or top.from_colour or top.warning.colour).value
    counts: dict[str, int] = {}
    for c in ordered:
        counts[c.change_type.value] = counts.get(c.change_type.value, 0) + 1
    what = "、".join(f"{CHANGE_NAMES[k][0]} {n}" for k, n in counts.items())
    subject = f"【预警 {len(ordered)} 项：{what}，最高{COLOUR_NAMES[colour][0]}】"
    subject += "、".join(dict.fromkeys(c.warning.place or "全区" for c in ordered))
    if any(c.warning.purpose is WarningPurpose.exercise for c in ordered):
        subject = f"【演练 Exercise】{subject}"
    parts = [f"## {md(subject)}", ""]
    for c in ordered:
        parts += [message(c.warning, c)[1], ""]
    return subject[:300], "\n".join(parts).rstrip()


def event_key_of(changes: Sequence[WarningChange]) -> str:
    """One change: ``warning-change:<id>``; several: ``warning-batch:<first>-<last>:<digest>``."""
    if len(changes) == 1:
        return event_key(changes[0])
    ids = sorted(c.id for c in changes)
    digest = hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()[:12]
    return f"warning-batch:{ids[0]}-{ids[-1]}:{digest}"


def notify_changes(
    *, session: Session, changes: Sequence[WarningChange], settings: Settings
) -> None:
    """Queue **one message per recipient** for a batch of changes (one evaluation, one approval):
    each recipient is told of the changes that concern them in one message, which needs one
    acknowledgement when any of them is an issue or upgrade. Messages that only inform count
    against the recipient's daily cap (``notify_daily_cap``; held ones go out in a digest)."""
    per: dict[tuple[str, str], tuple[notify.Recipient, list[WarningChange]]] = {}
    for change in changes:
        for r in _recipients(session, change):
            key = (r.channel.value, r.address.strip())
            per.setdefault(key, (r, []))[1].append(change)
    # Recipients told of the same changes share one message (one outbox event).
    groups: dict[tuple[int, ...], tuple[list[WarningChange], list[notify.Recipient]]] = {}
    for r, told in per.values():
        ids = tuple(sorted(c.id for c in told))
        groups.setdefault(ids, (sorted(told, key=lambda c: c.id), []))[1].append(r)
    for told, recipients in groups.values():
        if len(told) == 1:
            subject, markdown = message(told[0].warning, told[0])
        else:
            subject, markdown = batch_message(told)
        units = {c.warning.unit_id for c in told}
        notify.enqueue(
            session=session,
            event_key=event_key_of(told),
            subject=subject,
            markdown=markdown,
            recipients=recipients,
            unit_id=units.pop() if len(units) == 1 else None,
            requires_ack=any(_needs_ack(c) for c in told),
            refs=[f"warning:{c.warning_id}" for c in told],
            daily_cap=settings.notify_daily_cap,
        )


def _drive_response(
    *, session: Session, warning: Warning, change: WarningChange, settings: Settings
) -> None:
    """Response: the rainstorm signal sets levels; ponding starts point plans' tasks."""
    source_ref = f"warning-change:{change.id}"
    colour = change.to_colour.value if change.to_colour is not None else None
    if warning.kind is WarningKind.rainstorm:
        # Lifted signals pass None: the response never lowers a level by itself.
        response.apply_warning_signal(
            session=session,
            warning_kind=warning.kind.value,
            colour=colour,
            unit_id=warning.unit_id,
            source_ref=source_ref,
            at=change.at,
            settings=settings,
        )
        return
    if (
        warning.kind in (WarningKind.ponding, WarningKind.predicted_ponding)
        and warning.hazard_point_id is not None
        and session.get(HazardPoint, warning.hazard_point_id) is not None
        and colour is not None
        and change.change_type in (ChangeType.issue, ChangeType.upgrade)
    ):
        ev = change.evidence or {}
        depth = ev.get("depth_m") if warning.kind is WarningKind.ponding else None
        response.apply_point_trigger(
            session=session,
            hazard_point_id=warning.hazard_point_id,
            colour=colour,
            depth_m=float(depth) if depth is not None else None,
            source_ref=source_ref,
            at=change.at,
        )
