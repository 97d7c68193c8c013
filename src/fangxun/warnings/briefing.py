"""The warnings' part of a consultation briefing (会商研判): the rainstorm signal in force (an
official signal relayed by a person, or the district's gauge rule, which is an indication only),
the live warnings in force in the reader's jurisdiction, and the emergency response level.

Called by :func:`fangxun.briefings.service.gather`; returns JSON-ready data. A drill's warnings
(purpose ``exercise``) are never part of it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from fangxun.org.jurisdiction import is_scoped
from fangxun.org.models import User
from fangxun.org.permissions import Actor
from fangxun.response import service as response
from fangxun.warnings import service


def _signal(session: Session) -> dict[str, Any] | None:
    """The rainstorm signal in force: the meteorological service's official signal (or one a
    person relays), ``basis`` official; else the gauge rule's colour, ``basis`` indicated (an
    indication, never the signal)."""
    from fangxun.db.types import utcnow
    from fangxun.warnings.official import signal_panel

    panel = signal_panel(session=session, now=utcnow())
    if panel["colour"] is not None:
        return {
            "colour": panel["colour"],
            "basis": "official",
            "source": panel["basis"],
            "label": "暴雨预警信号（气象台发布）"
            if panel["basis"] == "official"
            else "暴雨预警信号（人工转发）",
            "since": panel["since"],
            "warning_id": panel.get("warning_id"),
        }
    gauge = panel["gauge_indication"]
    if gauge is None:
        return None
    return {
        "colour": gauge["colour"],
        "basis": "indicated",
        "label": "雨量站规则指示（非正式信号）",
        "since": gauge["since"],
        "warning_id": None,
    }


def _response_level(session: Session, actor: Actor) -> dict[str, Any] | None:
    unit_id = actor.unit_id if isinstance(actor, User) and is_scoped(actor) else None
    activation = response.current_level(session=session, unit_id=unit_id)
    if activation is None:
        return None
    return {
        "level": activation.level.value,
        "since": activation.started_at.isoformat(),
        "started_by": activation.started_by,
        "rule": activation.rule,
        "reason": activation.reason,
    }


def briefing_section(*, session: Session, actor: Actor, at: datetime) -> dict[str, Any]:
    """The warnings section of a briefing at ``at`` (the warnings in force now)."""
    active = service.active_warnings(session=session, actor=actor)
    by_colour: dict[str, int] = {}
    for w in active:
        by_colour[w.colour.value] = by_colour.get(w.colour.value, 0) + 1
    return {
        "signal": _signal(session),
        "response": _response_level(session, actor),
        "count": len(active),
        "by_colour": by_colour,
        "items": [
            {
                "id": w.id,
                "kind": w.kind.value,
                "kind_zh": service.kind_names(w)[0],
                "colour": w.colour.value,
                "place": w.place,
                "predicted": bool((w.evidence or {}).get("predicted")),
                "origin": w.origin.value,
                "issued_at": w.issued_at.isoformat(),
                "changed_at": w.changed_at.isoformat(),
            }
            for w in active
        ],
    }


__all__ = ["briefing_section"]
