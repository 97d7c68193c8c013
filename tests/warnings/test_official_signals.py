"""Official rainstorm signals (气象台 CAP 1.2): a feed served over loopback HTTP drives the response
level (Alert → start, Update → change, Cancel → end), an Exercise never drives it, a malformed CAP
file is refused by name while the others are kept, a duplicate is stored once, and the CLI
``fangxun warnings official-poll`` reads a folder."""

from __future__ import annotations

import doctest
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from fangxun.cli.main import app
from fangxun.config import Settings, get_settings, load_settings
from fangxun.db import make_engine, session_scope
from fangxun.db.migrate import upgrade_engine
from fangxun.response import service as response
from fangxun.response.models import ActivationStatus, ResponseActivation, ResponseLevel
from fangxun.response.service import levels as response_levels
from fangxun.warnings import official
from fangxun.warnings.cap import Alert, Area, Info, build_alert
from fangxun.warnings.models import OfficialSignal

T0 = datetime(2026, 7, 20, 8, 0, tzinfo=UTC)
SENDER = "12379@cma.example"
SEVERITY = {"blue": "Minor", "yellow": "Moderate", "orange": "Severe", "red": "Extreme"}
ZH = {"blue": "蓝", "yellow": "黄", "orange": "橙", "red": "红"}


def cap_xml(
    ident: str,
    colour: str,
    minutes: int,
    msg_type: str = "Alert",
    refs: tuple[tuple[str, int], ...] = (),
    status: str = "Actual",
    event: str | None = None,
) -> bytes:
    """A valid CAP 1.2 alert of the meteorological service."""
    return build_alert(
        Alert(
            identifier=ident,
            sender=SENDER,
            sent=T0 + timedelta(minutes=minutes),
            msg_type=msg_type,
            status=status,
            references=tuple((SENDER, i, T0 + timedelta(minutes=m)) for i, m in refs),
            infos=(
                Info(
                    language="zh-CN",
                    category="Met",
                    event=event or f"暴雨{ZH[colour]}色预警",
                    urgency="Immediate",
                    severity=SEVERITY[colour],
                    certainty="Likely",
                    headline=f"区气象台发布暴雨{ZH[colour]}色预警信号",
                    description="未来3小时降雨量将达100毫米以上",
                    expires=T0 + timedelta(hours=6),
                ),
            ),
            area=Area(desc="全区"),
        )
    )


def settings_for(mode: str) -> Settings:
    return load_settings(environment="test", database_url="sqlite://", response_rule_mode=mode)


class Feed:
    """A threaded HTTP server on loopback: ``/feed.atom`` lists ``/cap/<id>.xml`` entries."""

    def __init__(self) -> None:
        self.docs: dict[str, bytes] = {}
        #: Answer 503 to this many requests first (the backoff test).
        self.failures = 0
        self.exercise_inline: bytes | None = None
        feed = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if feed.failures > 0:
                    feed.failures -= 1
                    self.send_error(503)
                    return
                if self.path == "/feed.atom":
                    body = feed.atom()
                    ctype = "application/atom+xml"
                elif self.path.startswith("/cap/") and self.path[5:-4] in feed.docs:
                    body, ctype = feed.docs[self.path[5:-4]], "application/cap+xml"
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/feed.atom"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def atom(self) -> bytes:
        entries = "".join(
            f"<entry><id>{i}</id><title>{i}</title><updated>2026-07-20T16:00:00+08:00</updated>"
            f'<link rel="alternate" type="application/cap+xml" href="/cap/{i}.xml"/></entry>'
            for i in self.docs
        )
        inline = ""
        if self.exercise_inline is not None:
            inline = (
                "<entry><id>ex</id><title>ex</title><updated>2026-07-20T16:00:00+08:00</updated>"
                '<content type="application/cap+xml">'
                + self.exercise_inline.split(b"?>", 1)[1].decode()
                + "</content></entry>"
            )
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<feed xmlns="http://www.w3.org/2005/Atom"><id>urn:feed</id><title>12379</title>'
            f"<updated>2026-07-20T16:00:00+08:00</updated>{entries}{inline}</feed>"
        ).encode()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def feed() -> Iterator[Feed]:
    f = Feed()
    yield f
    f.close()


def poll_url(session: Session, url: str, settings: Settings) -> official.IngestReport:
    report = official.ingest(session=session, documents=official.read_url(url), settings=settings)
    session.flush()
    return report


def running(session: Session) -> ResponseActivation | None:
    return response.current_level(session=session, unit_id=None)


def test_feed_alert_update_cancel_drive_the_response(db_session: Session, feed: Feed) -> None:
    settings = settings_for("start")
    feed.docs["a1"] = cap_xml("a1", "red", 0)
    first = poll_url(db_session, feed.url, settings)
    assert first.stored == ["a1"] and first.refused == []
    act = running(db_session)
    assert act is not None and act.level is ResponseLevel.II  # red → II (default rules)

    # The exercise red arrives inline in the feed: stored, never drives the live response.
    feed.exercise_inline = cap_xml("ex1", "red", 5, status="Exercise")
    feed.docs["a2"] = cap_xml("a2", "orange", 10, "Update", refs=(("a1", 0),))
    second = poll_url(db_session, feed.url, settings)
    assert sorted(second.stored) == ["a2", "ex1"] and second.duplicates == ["a1"]
    act = running(db_session)
    assert act is not None and act.level is ResponseLevel.III  # the Update lowered it
    a1 = db_session.scalars(select(OfficialSignal).where(OfficialSignal.identifier == "a1")).one()
    assert a1.superseded_by == "a2" and a1.colour == "red" and "暴雨红色预警" in a1.raw_xml

    in_force = official.signal_in_force(session=db_session, now=T0 + timedelta(minutes=15))
    assert in_force is not None and in_force.identifier == "a2" and in_force.colour == "orange"
    late = official.signal_in_force(session=db_session, now=T0 + timedelta(hours=7))
    assert late is None  # expired (6 h)

    feed.docs["a3"] = cap_xml("a3", "orange", 20, "Cancel", refs=(("a2", 10),))
    third = poll_url(db_session, feed.url, settings)
    assert third.stored == ["a3"] and len(third.response_changes) == 1
    assert running(db_session) is None
    assert official.signal_in_force(session=db_session, now=T0 + timedelta(minutes=25)) is None
    ended = db_session.scalars(select(ResponseActivation)).one()
    assert ended.status is ActivationStatus.ended and ended.ended_by == "rule:response"

    # Polled again: nothing new, everything stored once.
    again = poll_url(db_session, feed.url, settings)
    assert again.stored == [] and sorted(again.duplicates) == ["a1", "a2", "a3", "ex1"]
    count = db_session.scalar(select(func.count()).select_from(OfficialSignal))
    assert count == 4


def test_feed_polled_with_backoff(feed: Feed) -> None:
    feed.docs["b1"] = cap_xml("b1", "yellow", 0)
    feed.failures = 2
    waits: list[float] = []
    docs = official.read_url(feed.url, sleep=waits.append)
    assert [s for s, _ in docs] == [feed.url.replace("feed.atom", "cap/b1.xml")]
    assert waits == [0.5, 1.0]  # two 503s, exponential backoff, then the feed
    feed.failures = 5
    with pytest.raises(official.FeedUnavailable, match="503"):
        official.read_url(feed.url, attempts=3, sleep=waits.append)
    feed.failures = 0
    with pytest.raises(official.FeedUnavailable, match="HTTP 404"):
        official.read_url(feed.url.replace("feed.atom", "nope"), sleep=waits.append)


def test_exercise_alone_drives_nothing(db_session: Session) -> None:
    docs = [("ex.xml", cap_xml("ex", "red", 0, status="Exercise"))]
    report = official.ingest(session=db_session, documents=docs, settings=settings_for("start"))
    assert report.stored == ["ex"] and report.response_changes == []
    assert running(db_session) is None


def test_propose_mode_proposes_and_cancel_withdraws(db_session: Session) -> None:
    settings = settings_for("propose")
    official.ingest(
        session=db_session, documents=[("f", cap_xml("p1", "red", 0))], settings=settings
    )
    waiting = response.open_proposals(session=db_session, unit_id=None)
    assert [p.to_level for p in waiting] == [ResponseLevel.II] and running(db_session) is None
    cancel = cap_xml("p2", "red", 5, "Cancel", refs=(("p1", 0),))
    official.ingest(session=db_session, documents=[("f", cancel)], settings=settings)
    assert response.open_proposals(session=db_session, unit_id=None) == []


def test_decision_after_the_signal_is_not_ended_by_its_cancel(db_session: Session) -> None:
    settings = settings_for("start")
    official.ingest(
        session=db_session, documents=[("f", cap_xml("d1", "orange", 0))], settings=settings
    )
    act = running(db_session)
    assert act is not None and act.level is ResponseLevel.III
    # A person raises it: the signal no longer owns the response; its Cancel leaves it running.
    response_levels._apply_level(
        db_session,
        scope=None,
        level=ResponseLevel.I,
        actor_name="commander",
        at=T0 + timedelta(minutes=2),
        rule=None,
        reason="会商决定",
        source_ref=None,
    )
    cancel = cap_xml("d2", "orange", 5, "Cancel", refs=(("d1", 0),))
    official.ingest(session=db_session, documents=[("f", cancel)], settings=settings)
    act = running(db_session)
    assert act is not None and act.level is ResponseLevel.I


def test_malformed_refused_others_kept_duplicate_once(db_session: Session, tmp_path: Path) -> None:
    (tmp_path / "01-good.xml").write_bytes(cap_xml("g1", "yellow", 0))
    (tmp_path / "02-broken.xml").write_bytes(b"<alert><identifier>x</ident")
    bad = cap_xml("g2", "yellow", 1).replace(b"<sender>12379@cma.example</sender>", b"")
    (tmp_path / "03-invalid.xml").write_bytes(bad)
    (tmp_path / "04-same.xml").write_bytes(cap_xml("g1", "yellow", 0))
    (tmp_path / "notes.txt").write_text("not a CAP file")
    docs = official.read_folder(tmp_path)
    report = official.ingest(session=db_session, documents=docs, settings=settings_for("start"))
    assert report.stored == ["g1"] and report.duplicates == ["g1"]
    refused = dict(report.refused)
    assert "not well-formed XML" in refused[str(tmp_path / "02-broken.xml")]
    assert "not a valid CAP 1.2 alert" in refused[str(tmp_path / "03-invalid.xml")]
    assert db_session.scalar(select(func.count()).select_from(OfficialSignal)) == 1
    act = running(db_session)
    assert act is not None and act.level is ResponseLevel.IV  # yellow → IV


def test_colour_mapping_doctests() -> None:
    result = doctest.testmod(official)
    assert result.attempted > 0 and result.failed == 0
    assert official.colour_of("暴雨蓝色预警", "Unknown") == "blue"
    assert official.colour_of("Heavy rain", "Extreme") == "red"
    assert official.colour_of("高温红色预警", "Extreme") is None


def test_cli_official_poll_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("FANGXUN_DATABASE_URL", url)
    monkeypatch.setenv("FANGXUN_ENVIRONMENT", "test")
    monkeypatch.setenv("FANGXUN_RESPONSE_RULE_MODE", "start")
    get_settings.cache_clear()
    engine = make_engine(url)
    upgrade_engine(engine)
    folder = tmp_path / "cap"
    folder.mkdir()
    (folder / "a.xml").write_bytes(cap_xml("c1", "red", 0))
    (folder / "b.xml").write_bytes(b"garbage")
    try:
        runner = CliRunner()
        out = runner.invoke(app, ["warnings", "official-poll", "--folder", str(folder), "--once"])
        assert out.exit_code == 0, out.output
        assert "1 stored" in out.output and "1 refused" in out.output and "b.xml" in out.output
        with session_scope(engine) as session:
            act = running(session)
            assert act is not None and act.level is ResponseLevel.II
        listed = runner.invoke(app, ["warnings", "official-list"])
        assert listed.exit_code == 0 and "c1" in listed.output and "暴雨红色预警" in listed.output
        both = runner.invoke(app, ["warnings", "official-poll", "--once"])
        assert both.exit_code != 0 and "exactly one of --url and --folder" in both.output
    finally:
        engine.dispose()
        get_settings.cache_clear()


@given(
    colour=st.sampled_from(sorted(ZH)),
    severity=st.sampled_from(["Minor", "Moderate", "Severe", "Extreme", "Unknown"]),
    prefix=st.sampled_from(["", "区气象台发布", "郑州市"]),
)
def test_event_colour_wins_over_severity(colour: str, severity: str, prefix: str) -> None:
    assert official.colour_of(f"{prefix}暴雨{ZH[colour]}色预警", severity) == colour
    assert official.colour_of(f"{prefix}大风{ZH[colour]}色预警", severity) is None


@settings(max_examples=150, deadline=None)
@given(
    st.binary(max_size=300) | st.text(max_size=200).map(lambda t: f"<alert>{t}</alert>".encode())
)
def test_garbage_is_refused_never_crashes(data: bytes) -> None:
    with pytest.raises(official.CapInvalid):
        official.parse(data)
