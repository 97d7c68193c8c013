"""Ledger statistics per unit and kind."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from fangxun.db.types import utcnow
from fangxun.errors import (
    ValidationFailed,
)
from fangxun.hazards.models import (
    HazardKind,
    InspectionRecord,
    PointStatus,
)
from fangxun.hazards.schemas import (
    LedgerStatRow,
    LedgerStats,
)
from fangxun.hazards.service.common import (
    DEFAULT_COVERAGE_WINDOW_S,
)
from fangxun.hazards.service.points import (
    list_points,
    rectification_counts,
)
from fangxun.org.models import Unit
from fangxun.org.permissions import Actor


def ledger_stats(
    *,
    session: Session,
    actor: Actor,
    window_s: int = DEFAULT_COVERAGE_WINDOW_S,
    now: datetime | None = None,
) -> LedgerStats:
    """Per unit and kind: points, open and overdue rectifications, inspection coverage.

    Coverage is the share of active points with an inspection in the last ``window_s`` s.
    """
    if window_s <= 0:
        raise ValidationFailed("must be positive", loc=("query", "window_s"))
    now = now or utcnow()
    since = now - timedelta(seconds=window_s)
    points, _ = list_points(session=session, actor=actor, limit=1_000_000)
    counts = rectification_counts(session=session, point_ids=[p.id for p in points], now=now)
    inspected = set(
        session.scalars(
            select(InspectionRecord.point_id)
            .where(InspectionRecord.inspected_at >= since)
            .distinct()
        )
    )
    units = {u.id: u for u in session.scalars(select(Unit))}
    acc: dict[tuple[int, HazardKind], list[int]] = {}
    for p in points:
        row = acc.setdefault((p.unit_id, p.kind), [0, 0, 0, 0, 0])
        unclosed, overdue = counts.get(p.id, (0, 0))
        row[0] += 1
        row[2] += unclosed
        row[3] += overdue
        if p.status is PointStatus.active:
            row[1] += 1
            if p.id in inspected:
                row[4] += 1
    rows = [
        LedgerStatRow(
            unit_id=unit_id,
            unit_code=units[unit_id].code,
            unit_name=units[unit_id].name_zh,
            kind=kind,
            points=v[0],
            active_points=v[1],
            open_rectifications=v[2],
            overdue_rectifications=v[3],
            inspected_points=v[4],
            inspection_coverage=round(v[4] / v[1], 4) if v[1] else None,
        )
        for (unit_id, kind), v in sorted(
            acc.items(), key=lambda kv: (units[kv[0][0]].code, kv[0][1].value)
        )
    ]
    return LedgerStats(window_s=window_s, rows=rows)
