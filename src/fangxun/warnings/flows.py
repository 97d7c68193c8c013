"""What a warning change sets off, in the caller's transaction: the notifications (outbox) and
the emergency response.

* Every change queues one notification per recipient (:func:`fangxun.notify.service.enqueue`,
  idempotent on ``warning-change:<change id>``): the point's responsible people, the unit's
  contacts and the duty team (:func:`fangxun.notify.service.recipients_for`). Issues and upgrades
  must be acknowledged (and escalate when they are not); downgrades, updates and lifts inform.
* A rainstorm signal drives the response level by the configured rules
  (``response.apply_warning_signal``); ponding and predicted ponding at a point start the point
  plan's tasks whose trigger is met (``response.apply_point_trigger``).

A drill's warning (purpose ``exercise``) is different: its notifications go only to the drill's
people (:func:`fangxun.notify.service.recipients_for_drill`), marked 演练 and never escalated to the
leader on duty, and it never drives the response.

``notify`` and ``response`` never import ``fangxun.warnings``: they take primitives.
"""

from __future__ import annotations

import logging

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
    from fangxun.warnings.service import CHANGE_NAMES, COLOUR_NAMES, kind_names, summary_text

    colour = (change.to_colour or change.from_colour or warning.colour).value
    kz, _ke = kind_names(warning)
    cz, _ce = COLOUR_NAMES[colour]
    chz, _che = CHANGE_NAMES[change.change_type.value]
    where = warning.place or "全区"
    subject = f"【{cz}预警{chz}】{where}{kz}"
    if warning.purpose is WarningPurpose.exercise:
        subject = f"【演练】{subject}"
    zh, _en = summary_text(warning, change.evidence, change.reason)
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
    """Queue the notifications of ``change`` and drive the response, in the same transaction."""
    if warning.purpose is WarningPurpose.exercise:
        _exercise_notifications(session=session, warning=warning, change=change)
        return  # a drill never drives the response
    point_id = warning.hazard_point_id
    if point_id is not None and session.get(HazardPoint, point_id) is None:
        # The point left the ledger since: tell its unit, and never block the change.
        logger.warning("warning %s: hazard point %s no longer exists", warning.id, point_id)
        point_id = None
    recipients = notify.recipients_for(
        session=session, unit_id=warning.unit_id, hazard_point_id=point_id, at=change.at
    )
    subject, markdown = message(warning, change)
    if recipients:
        notify.enqueue(
            session=session,
            event_key=event_key(change),
            subject=subject,
            markdown=markdown,
            recipients=recipients,
            unit_id=warning.unit_id,
            requires_ack=change.change_type in ACK_CHANGES,
        )
    else:
        logger.warning("warning change %s (%s): nobody to notify", change.id, warning.subject)
    _drive_response(session=session, warning=warning, change=change, settings=settings)


def _exercise_notifications(*, session: Session, warning: Warning, change: WarningChange) -> None:
    """Tell the drill's people only (no acknowledgement, so nothing escalates to the real leader
    on duty)."""
    recipients = (
        notify.recipients_for_drill(session=session, drill_id=warning.drill_id)
        if warning.drill_id is not None
        else []
    )
    if not recipients:
        logger.warning(
            "exercise warning change %s (%s): the drill has nobody to notify",
            change.id,
            warning.subject,
        )
        return
    subject, markdown = message(warning, change)
    notify.enqueue(
        session=session,
        event_key=event_key(change),
        subject=subject,
        markdown=markdown,
        recipients=recipients,
        unit_id=warning.unit_id,
        requires_ack=False,
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
