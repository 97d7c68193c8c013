"""A point plan may ask for photo evidence before a rectification of the point is closed (issue
22): closing without an attachment of the rectification is refused, with one it goes through."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
from hazard_helpers import SYSTEM, Ledger
from PIL import Image
from sqlalchemy import Engine

from fangxun.db import session_scope, utcnow
from fangxun.errors import ValidationFailed
from fangxun.hazards import service
from fangxun.hazards.models import RectificationStatus
from fangxun.hazards.schemas import Measure, PointPlanCreate, RectificationCreate, Trigger


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (0, 128, 0)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize("asks", [True, False])
def test_closing_needs_evidence_where_the_plan_says_so(
    engine: Engine, ledger: Ledger, tmp_path: Path, asks: bool
) -> None:
    with session_scope(engine) as session:
        plan = service.create_plan(
            session=session,
            point_id=ledger.wutong_point,
            plan_in=PointPlanCreate(
                title="一点一策",
                triggers=[Trigger(ponding_cm=15)],
                measures=[Measure(action="封闭下穿通道")],
                close_needs_evidence=asks,
            ),
            actor=SYSTEM,
        )
        service.approve_plan(session=session, plan_id=plan.id, actor=SYSTEM)
        rect = service.create_rectification(
            session=session,
            rect_in=RectificationCreate(
                point_id=ledger.wutong_point,
                finding="篦子堵塞",
                measure="清掏",
                deadline=utcnow() + timedelta(days=3),
                responsible_person_id=ledger.wutong_person,
            ),
            actor=SYSTEM,
        )
        for action in ("start", "submit", "verify"):
            service.transition_rectification(
                session=session, rect_id=rect.id, action=action, comment=action, actor=SYSTEM
            )
        rect_id = rect.id
    with session_scope(engine) as session:
        if asks:
            with pytest.raises(ValidationFailed, match="photo evidence"):
                service.transition_rectification(
                    session=session, rect_id=rect_id, action="close", comment="销号", actor=SYSTEM
                )
            service.add_attachment(
                session=session,
                data_dir=tmp_path,
                point_id=ledger.wutong_point,
                filename="after.png",
                content=_png(),
                actor=SYSTEM,
                rectification_id=rect_id,
            )
        closed = service.transition_rectification(
            session=session, rect_id=rect_id, action="close", comment="销号", actor=SYSTEM
        )
        assert closed.status is RectificationStatus.closed
