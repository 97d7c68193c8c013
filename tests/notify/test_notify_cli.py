"""`fangxun notify contact-add|contacts|send --once`: contact channels from the command line and
one pass of the sender."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from notify_receivers import Recorder, http_receiver
from sqlalchemy import select
from typer.testing import CliRunner

from fangxun.cli.main import app
from fangxun.config import get_settings
from fangxun.db import make_engine, session_scope
from fangxun.db.engine import session_factory
from fangxun.db.migrate import upgrade_engine
from fangxun.db.types import utcnow
from fangxun.notify import service
from fangxun.notify.models import Channel
from fangxun.org.models import Unit, UnitKind

runner = CliRunner()


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("FANGXUN_DATABASE_URL", url)
    monkeypatch.setenv("FANGXUN_ENVIRONMENT", "test")
    get_settings.cache_clear()
    engine = make_engine(url)
    upgrade_engine(engine)
    with session_scope(engine) as session:
        session.add(Unit(code="S1", name_zh="一街道", kind=UnitKind.street_office))
    engine.dispose()
    yield url
    get_settings.cache_clear()


def test_contact_add_list_and_send_once(db_url: str) -> None:
    recorder = Recorder()
    with http_receiver(recorder) as base:
        added = runner.invoke(
            app,
            ["notify", "contact-add", "wecom", f"{base}/wecom", "--unit", "S1", "--label", "群"],
        )
        assert added.exit_code == 0, added.output
        bad = runner.invoke(app, ["notify", "contact-add", "email", "nope", "--unit", "S1"])
        assert bad.exit_code == 65 and "e-mail" in bad.output
        missing = runner.invoke(app, ["notify", "contact-add", "email", "a@b.cn", "--unit", "X"])
        assert missing.exit_code == 66
        listed = runner.invoke(app, ["notify", "contacts"])
        assert listed.exit_code == 0 and "wecom" in listed.output
        engine = make_engine(db_url)
        with session_factory(engine)() as session:
            unit_id = session.scalar(select(Unit.id).where(Unit.code == "S1"))
            recipients = service.recipients_for(
                session=session, unit_id=unit_id, hazard_point_id=None, at=utcnow()
            )
            assert [(r.channel, r.role) for r in recipients] == [(Channel.WECOM, "unit_contact")]
            service.enqueue(
                session=session,
                event_key="cli-test",
                subject="测试",
                markdown="m",
                recipients=recipients,
                unit_id=unit_id,
            )
            session.commit()
        engine.dispose()
        sent = runner.invoke(app, ["notify", "send", "--once"])
    assert sent.exit_code == 0, sent.output
    assert "sent 1" in sent.output
    assert len(recorder.raw) == 1 and recorder.raw[0][1]["json"]["msgtype"] == "markdown"
