"""What pages and reports show as the rainstorm signal: the official signal in force, else one a
person relays, never the gauge rule's colour, which stays a labelled indication."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session
from warn_helpers import SYSTEM, World, observe, run

from fangxun.config import Settings
from fangxun.warnings import official
from fangxun.warnings.cap import Alert, Area, Info, build_alert
from fangxun.warnings.config import WarningRules
from fangxun.warnings.models import Colour, WarningKind
from fangxun.warnings.schemas import WarningIssue
from fangxun.warnings.service import issue_warning

NOW = datetime.now(UTC).replace(microsecond=0)


def _official(colour_zh: str, severity: str, sent: datetime) -> bytes:
    return build_alert(
        Alert(
            identifier=f"obs-{colour_zh}-{sent.timestamp():.0f}",
            sender="12379@cma.example",
            sent=sent,
            msg_type="Alert",
            references=(),
            infos=(
                Info(
                    language="zh-CN",
                    category="Met",
                    event=f"暴雨{colour_zh}色预警",
                    urgency="Immediate",
                    severity=severity,
                    certainty="Likely",
                    headline="区气象台发布暴雨预警信号",
                    description="强降雨",
                    expires=sent + timedelta(hours=6),
                ),
            ),
            area=Area(desc="全区"),
        )
    )


def test_official_signal_not_the_gauge_colour_and_the_indication_labelled(
    db_session: Session, settings: Settings, world: World
) -> None:
    s = settings.model_copy(update={"warning_rules": WarningRules(enabled=["rainstorm"])})
    # The gauges alone: 60 mm in the last hour → the rule's orange indication, no signal.
    observe(db_session, world.rain, [(NOW - timedelta(minutes=5 * k), 0.005) for k in range(12)])
    assert [c.to_colour for c in run(db_session, s, NOW)] == [Colour.orange]
    panel = official.signal_panel(session=db_session, now=NOW)
    assert panel["colour"] is None and panel["basis"] is None
    assert panel["gauge_indication"]["colour"] == "orange"
    assert "雨量站指示" in panel["gauge_indication"]["label"]

    # The official CAP feed says blue: it is the signal shown; the gauge stays an indication.
    official.ingest(
        session=db_session,
        documents=[("test", _official("蓝", "Minor", NOW - timedelta(minutes=1)))],
        settings=s,
    )
    panel = official.signal_panel(session=db_session, now=NOW)
    assert (panel["colour"], panel["basis"]) == ("blue", "official")
    assert panel["gauge_indication"]["colour"] == "orange"


def test_a_signal_relayed_by_hand_is_shown_when_no_official_one_is_in_force(
    db_session: Session, settings: Settings, world: World
) -> None:
    issue_warning(
        session=db_session,
        warning_in=WarningIssue(
            kind=WarningKind.rainstorm, colour=Colour.yellow, reason="气象台电话通知黄色预警"
        ),
        actor=SYSTEM,
        settings=settings,
        at=NOW,
    )
    panel = official.signal_panel(session=db_session, now=NOW)
    assert (panel["colour"], panel["basis"]) == ("yellow", "relayed")
    assert panel["gauge_indication"] is None
