"""The district's own rainstorm rule (rain gauges) is a rain-gauge indication (雨量站指示), never
the rainstorm signal: its CAP alerts say so and are never published (feed, ``/cap/<id>.xml``); a
rainstorm warning a person issues (relaying the meteorological service) stays public."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session
from warn_helpers import World, observe, run

from fangxun.config import Settings
from fangxun.db import make_engine, session_scope
from fangxun.errors import NotFoundError
from fangxun.org.models import Role, User
from fangxun.warnings import service
from fangxun.warnings.config import WarningRules
from fangxun.warnings.models import (
    ChangeType,
    Colour,
    Origin,
    Warning,
    WarningChange,
    WarningKind,
)
from fangxun.warnings.schemas import WarningIssue

T0 = datetime(2026, 7, 20, 8, 0, tzinfo=UTC)


def test_gauge_rule_is_an_indication_never_published(
    db_session: Session, settings: Settings, world: World
) -> None:
    s = settings.model_copy(update={"warning_rules": WarningRules(enabled=["rainstorm"])})  # type: ignore[call-arg]
    observe(db_session, world.rain, [(T0 - timedelta(minutes=5 * k), 0.0012) for k in range(60)])
    changes = run(db_session, s, T0)
    assert [c.to_colour for c in changes] == [Colour.yellow]
    xml = changes[0].cap_xml
    assert xml is not None and "雨量站指示" in xml and "暴雨" not in xml
    assert "rain-gauge indication" in xml
    assert service.recent_alerts(session=db_session) == []
    with pytest.raises(NotFoundError):
        service.get_alert(session=db_session, identifier=str(changes[0].cap_identifier))


def test_rainstorm_relayed_by_a_person_stays_public(
    db_session: Session, settings: Settings
) -> None:
    duty = User(username="d", password_hash="x", role=Role.duty)
    db_session.add(duty)
    db_session.flush()
    w = service.issue_warning(
        session=db_session,
        warning_in=WarningIssue(kind=WarningKind.rainstorm, colour=Colour.red, reason="气象台发布"),
        actor=duty,
        settings=settings,
    )
    public = service.recent_alerts(session=db_session)
    assert [c.warning_id for c in public] == [w.id]
    xml = public[0].cap_xml
    assert xml is not None and "暴雨红色预警" in xml and "雨量站指示" not in xml


def test_warnings_page_names_the_gauge_rule_an_indication(
    web_client: Any, login: Any, web_db: str, web_settings: Settings
) -> None:
    engine = make_engine(web_db)
    try:
        with session_scope(engine) as session:
            w = Warning(
                subject="rainstorm",
                kind=WarningKind.rainstorm,
                colour=Colour.red,
                origin=Origin.rule,
            )
            session.add(w)
            session.flush()
            session.add(
                WarningChange(
                    warning_id=w.id,
                    change_type=ChangeType.issue,
                    to_colour=Colour.red,
                    at=T0,
                    actor="rules",
                    cap_identifier="gauge-1",
                    cap_sent=T0,
                    cap_xml="<alert/>",
                )
            )
    finally:
        engine.dispose()
    login(web_client)
    page = web_client.get("/warnings?lang=zh")
    assert page.status_code == 200
    row = page.text.split('data-testid="active-warnings"', 1)[1].split("</table>", 1)[0]
    assert "雨量站指示" in row and "暴雨" not in row
    assert "/api/v1/cap/gauge-1.xml" not in page.text  # never offered as a published alert
    assert web_client.get("/api/v1/cap/gauge-1.xml").status_code == 404
    assert b"gauge-1" not in web_client.get("/api/v1/cap/feed.atom").content
