"""Incidents: the state machine (allowed and refused steps), the timeline, dispatch of a team,
response-time figures, the rate-limited public form, photos, jurisdiction."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from factories import make_unit
from fangxun.audit.service import SystemActor
from fangxun.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ThrottledError,
    ValidationFailed,
)
from fangxun.incidents import service
from fangxun.incidents.models import IncidentKind, IncidentStatus, ReportSource
from fangxun.incidents.schemas import IncidentCreate, PublicReport, TransitionIn
from fangxun.org.models import Role, UnitKind, User
from fangxun.supplies import service as supplies
from fangxun.supplies.models import Readiness
from fangxun.supplies.schemas import TeamCreate

SYSTEM = SystemActor(username="incident-tests")
S = IncidentStatus
T0 = datetime(2026, 7, 20, 8, 0, tzinfo=UTC)


@dataclass
class World:
    district: int
    office_a: int
    office_b: int
    team_a: int
    team_b: int


@pytest.fixture
def world(db_session: Session) -> World:
    def unit(code: str, kind: UnitKind, parent: int | None) -> int:
        return make_unit(db_session, code, kind, parent, actor=SYSTEM).id

    d = unit("D", UnitKind.district, None)
    a = unit("A", UnitKind.street_office, d)
    b = unit("B", UnitKind.street_office, d)
    ta = supplies.create_team(
        session=db_session, team_in=TeamCreate(unit_id=a, name="梧桐抢险队"), actor=SYSTEM
    ).id
    tb = supplies.create_team(
        session=db_session, team_in=TeamCreate(unit_id=b, name="沟赵抢险队"), actor=SYSTEM
    ).id
    return World(d, a, b, ta, tb)


def _report(session: Session, world: World, at: datetime = T0, **extra: object) -> int:
    incident = service.report(
        session=session,
        incident_in=IncidentCreate(
            unit_id=world.office_a,
            kind=IncidentKind.underpass_flooding,
            title="科学大道下穿积水",
            location_text="科学大道与长椿路",
            lon=113.55,
            lat=34.81,
            reported_at=at,
            **extra,  # type: ignore[arg-type]
        ),
        actor=SYSTEM,
    )
    return incident.id


def _go(session: Session, incident_id: int, to: S, at: datetime, **extra: object) -> None:
    service.transition(
        session=session,
        incident_id=incident_id,
        transition_in=TransitionIn(to_status=to, at=at, **extra),  # type: ignore[arg-type]
        actor=SYSTEM,
    )


def test_full_lifecycle_and_timeline(db_session: Session, world: World) -> None:
    iid = _report(db_session, world)
    _go(db_session, iid, S.dispatched, T0 + timedelta(minutes=4), team_id=world.team_a)
    team = supplies.get_team(session=db_session, team_id=world.team_a, actor=SYSTEM)
    assert team.readiness is Readiness.deployed
    _go(db_session, iid, S.on_site, T0 + timedelta(minutes=19))
    _go(db_session, iid, S.controlled, T0 + timedelta(minutes=50), note="已抽排")
    _go(db_session, iid, S.closed, T0 + timedelta(minutes=90))
    incident = service.get_incident(session=db_session, incident_id=iid, actor=SYSTEM)
    assert incident.status is S.closed
    assert [(e.from_status, e.to_status) for e in incident.events] == [
        (None, "reported"),
        ("reported", "dispatched"),
        ("dispatched", "on_site"),
        ("on_site", "controlled"),
        ("controlled", "closed"),
    ]
    assert incident.dispatch_s == 240.0 and incident.arrival_s == 19 * 60.0
    assert team.readiness is Readiness.standby  # stood down on close


@pytest.mark.parametrize(
    ("path", "refused"),
    [
        ([], S.on_site),
        ([], S.controlled),
        ([S.dispatched], S.controlled),
        ([S.dispatched], S.closed),
        ([S.dispatched, S.on_site], S.dispatched),
        ([S.dispatched, S.on_site, S.controlled, S.closed], S.reported),
        ([S.dispatched, S.on_site, S.controlled, S.closed], S.dispatched),
    ],
)
def test_refused_transitions(db_session: Session, world: World, path: list[S], refused: S) -> None:
    iid = _report(db_session, world)
    at = T0
    for step in path:
        at += timedelta(minutes=5)
        extra = {"team_id": world.team_a} if step is S.dispatched else {}
        _go(db_session, iid, step, at, **extra)
    before = service.get_incident(session=db_session, incident_id=iid, actor=SYSTEM).status
    with pytest.raises(ConflictError, match="cannot go to"):
        _go(db_session, iid, refused, at + timedelta(minutes=1))
    incident = service.get_incident(session=db_session, incident_id=iid, actor=SYSTEM)
    assert incident.status is before and len(incident.events) == len(path) + 1


def test_dispatch_needs_a_standby_team_and_close_from_reported_needs_a_note(
    db_session: Session, world: World
) -> None:
    first = _report(db_session, world)
    with pytest.raises(ValidationFailed, match="team"):
        _go(db_session, first, S.dispatched, T0 + timedelta(minutes=1))
    _go(db_session, first, S.dispatched, T0 + timedelta(minutes=1), team_id=world.team_a)
    second = _report(db_session, world)
    with pytest.raises(ConflictError, match="not on standby"):
        _go(db_session, second, S.dispatched, T0 + timedelta(minutes=2), team_id=world.team_a)
    with pytest.raises(ValidationFailed, match="why"):
        _go(db_session, second, S.closed, T0 + timedelta(minutes=2))
    _go(db_session, second, S.closed, T0 + timedelta(minutes=2), note="重复上报")
    with pytest.raises(ValidationFailed, match="before the previous step"):
        _go(db_session, first, S.on_site, T0)


def test_response_time_figures(db_session: Session, world: World) -> None:
    # Dispatch after 2, 4, 6, 8, 10 min; on site 10 min after dispatch for the first four.
    teams = [world.team_a]
    for n in range(4):
        teams.append(
            supplies.create_team(
                session=db_session,
                team_in=TeamCreate(unit_id=world.office_a, name=f"队{n}"),
                actor=SYSTEM,
            ).id
        )
    for k in range(5):
        reported = T0 + timedelta(hours=k)
        iid = _report(db_session, world, at=reported)
        dispatched = reported + timedelta(minutes=2 * (k + 1))
        _go(db_session, iid, S.dispatched, dispatched, team_id=teams[k])
        if k < 4:
            _go(db_session, iid, S.on_site, dispatched + timedelta(minutes=10))
    _report(db_session, world, at=T0 + timedelta(hours=6))  # not dispatched yet
    stats = service.response_stats(session=db_session, actor=SYSTEM)
    assert (stats.incidents, stats.dispatched, stats.on_site) == (6, 5, 4)
    assert stats.dispatch_mean_s == pytest.approx(360.0)
    assert stats.dispatch_median_s == pytest.approx(360.0)
    assert stats.dispatch_p90_s == pytest.approx(552.0)  # inclusive quantile of 120…600
    assert stats.arrival_mean_s == pytest.approx(900.0)  # (12+14+16+18) min / 4
    assert stats.arrival_median_s == pytest.approx(900.0)
    window = service.response_stats(session=db_session, actor=SYSTEM, since=T0 + timedelta(hours=3))
    assert (window.incidents, window.dispatched, window.on_site) == (3, 2, 1)


def test_public_form_is_rate_limited(db_session: Session, world: World) -> None:
    limit = service.RateLimit(max_reports=2, window_s=600)
    report = PublicReport(
        kind=IncidentKind.ponding,
        title="小区门口积水",
        location_text="枫杨街道某小区",
        reporter_phone="13900000000",
    )
    for k in range(2):
        incident = service.report_public(
            session=db_session,
            report_in=report,
            client_ip="10.0.0.9",
            limit=limit,
            now=T0 + timedelta(minutes=k),
        )
        assert incident.source is ReportSource.public and incident.unit_id == world.district
    with pytest.raises(ThrottledError) as caught:
        service.report_public(
            session=db_session,
            report_in=report,
            client_ip="10.0.0.9",
            limit=limit,
            now=T0 + timedelta(minutes=3),
        )
    assert caught.value.retry_after_s == 7 * 60
    # Another address is not limited, and the window slides.
    service.report_public(
        session=db_session, report_in=report, client_ip="10.0.0.10", limit=limit, now=T0
    )
    service.report_public(
        session=db_session,
        report_in=report,
        client_ip="10.0.0.9",
        limit=limit,
        now=T0 + timedelta(minutes=11),
    )


def _jpeg() -> bytes:
    """A real (tiny) JPEG: the service decodes what it is given."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (0, 90, 200)).save(buffer, format="JPEG")
    return buffer.getvalue()


def test_photos(db_session: Session, world: World, tmp_path: Path) -> None:
    iid = _report(db_session, world)
    photo = service.add_photo(
        session=db_session,
        incident_id=iid,
        filename="../现场 1.jpg",
        content_type="image/jpeg",
        data=_jpeg(),
        data_dir=tmp_path,
        actor=SYSTEM,
    )
    path = service.photo_path(photo=photo, data_dir=tmp_path)
    assert path.read_bytes().startswith(b"\xff\xd8") and path.parent.parent.parent == tmp_path
    assert "/" not in photo.filename
    with pytest.raises(ValidationFailed, match="not accepted"):
        service.add_photo(
            session=db_session,
            incident_id=iid,
            filename="x.gif",
            content_type="image/gif",
            data=b"GIF89a",
            data_dir=tmp_path,
            actor=SYSTEM,
        )


def test_jurisdiction(db_session: Session, world: World) -> None:
    iid = _report(db_session, world)
    b_user = User(username="b-user", password_hash="x", role=Role.unit, unit_id=world.office_b)
    viewer = User(username="viewer", password_hash="x", role=Role.viewer)
    db_session.add_all([b_user, viewer])
    db_session.flush()
    with pytest.raises(NotFoundError):
        service.get_incident(session=db_session, incident_id=iid, actor=b_user)
    assert service.list_incidents(session=db_session, actor=b_user) == []
    with pytest.raises(NotFoundError):
        _go_as(db_session, iid, b_user)
    # A unit user cannot dispatch another unit's team either.
    a_user = User(username="a-user", password_hash="x", role=Role.unit, unit_id=world.office_a)
    db_session.add(a_user)
    db_session.flush()
    with pytest.raises(ValidationFailed, match="team"):
        service.transition(
            session=db_session,
            incident_id=iid,
            transition_in=TransitionIn(to_status=S.dispatched, team_id=world.team_b),
            actor=a_user,
        )
    with pytest.raises(PermissionDeniedError):
        _go_as(db_session, iid, viewer)


def _go_as(session: Session, iid: int, actor: User) -> None:
    service.transition(
        session=session,
        incident_id=iid,
        transition_in=TransitionIn(to_status=S.closed, note="x"),
        actor=actor,
    )


def test_hazard_point_link_is_checked(db_session: Session, world: World) -> None:
    """The hazard ledger is installed here: a hazard point named by id must exist."""
    with pytest.raises(ValidationFailed, match="hazard point 999") as caught:
        _report(db_session, world, hazard_point_id=999)
    assert caught.value.problems[0].loc == ("body", "hazard_point_id")
