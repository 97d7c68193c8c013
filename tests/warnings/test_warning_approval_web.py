"""The approval panel of the warnings page without a browser: the pending proposal with its
impact texts and what changed, one-click approval (CSRF) and rejection with a reason."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from factories import make_point, make_unit
from fangxun.config import Settings
from fangxun.db import make_engine, session_scope
from fangxun.db.types import utcnow
from fangxun.forecast.models import ForecastPointResult, ForecastRun, RainSource, RunStatus
from fangxun.warnings import service
from fangxun.warnings.config import WarningRules
from web_harness import csrf_of

THR = {"blue": 0.15, "yellow": 0.27, "orange": 0.40, "red": 0.50}


def _proposal(settings: Settings) -> Settings:
    """A forecast that brings 雪松路下穿 to orange in 40 min; one evaluation proposes it."""
    s = settings.model_copy(update={"warning_rules": WarningRules(enabled=["predicted_ponding"])})
    engine = make_engine(settings.database_url)
    now = utcnow()
    with session_scope(engine) as session:
        district = make_unit(session, "XD", "district", name_zh="区")
        unit = make_unit(session, "XS", "street_office", district.id, name_zh="雪松街道")
        point = make_point(
            session,
            "XS-1",
            unit_id=unit.id,
            kind="underpass",
            name="雪松路下穿",
        )
        run = ForecastRun(
            status=RunStatus.done,
            rain_source=RainSource.design,
            params={},
            members=1,
            horizon_s=3 * 3600,
            created_by="t",
            issued_at=now,
            finished_at=now,
        )
        session.add(run)
        session.flush()
        session.add(
            ForecastPointResult(
                run_id=run.id,
                point_id=point.id,
                row=0,
                col=0,
                times_s=[0, 3600],
                depth_m=[0, 0.45],
                peak_depth_m=0.45,
                peak_time_s=3600,
                time_to_threshold_s={
                    "blue": 900.0,
                    "yellow": 1800.0,
                    "orange": 2400.0,
                    "red": None,
                },
                probability={"blue": 1.0, "yellow": 1.0, "orange": 1.0, "red": 0.0},
                member_peaks_m=[0.45],
                thresholds_m=THR,
            )
        )
        session.flush()
        assert service.evaluate(session=session, now=now + timedelta(seconds=1), settings=s) == []
    engine.dispose()
    return s


def test_pending_proposal_is_shown_with_impact_and_approved_in_one_click(
    web_client: TestClient, login: Any, web_settings: Settings
) -> None:
    _proposal(web_settings)
    assert login(web_client).status_code == 303
    page = web_client.get("/warnings?lang=zh")
    assert 'data-testid="proposal"' in page.text and "待审批" in page.text
    assert "雪松路下穿 预计 40 分钟后" in page.text and "积水约 40 厘米" in page.text
    assert "车辆禁止通行" in page.text and "新增" in page.text
    assert 'data-testid="no-warnings"' in page.text  # nothing out before approval
    pid = page.text.split('id="proposal-', 1)[1].split('"', 1)[0]
    done = web_client.post(f"/warnings/proposals/{pid}/approve", data={"csrf_token": csrf_of(page)})
    assert done.status_code == 303
    page = web_client.get("/warnings?lang=zh")
    assert 'data-testid="proposal"' not in page.text
    assert 'data-testid="active-warnings"' in page.text and 'data-colour="orange"' in page.text
    assert "车辆禁止通行" in page.text  # the warning's evidence column is the impact text
    again = web_client.post(
        f"/warnings/proposals/{pid}/approve", data={"csrf_token": csrf_of(page)}
    )
    assert again.status_code == 409 and 'data-testid="error"' in again.text


def test_reject_needs_a_reason(web_client: TestClient, login: Any, web_settings: Settings) -> None:
    _proposal(web_settings)
    login(web_client)
    page = web_client.get("/warnings")
    pid = page.text.split('id="proposal-', 1)[1].split('"', 1)[0]
    token = csrf_of(page)
    bad = web_client.post(f"/warnings/proposals/{pid}/reject", data={"csrf_token": token})
    assert bad.status_code == 422 and 'data-testid="error"' in bad.text
    ok = web_client.post(
        f"/warnings/proposals/{pid}/reject", data={"csrf_token": token, "reason": "回波减弱"}
    )
    assert ok.status_code == 303
    assert 'data-testid="proposal"' not in web_client.get("/warnings").text
