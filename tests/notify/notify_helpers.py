"""A small organisation for notification tests: a district and a street office, a hazard point
with its responsible and deputy people, a WeCom robot of the office, and duty shifts (with
leaders) of the office and of the district around ``NOW``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from fangxun.duty.models import DutyAssignment, DutyRole, DutyShift
from fangxun.hazards.models import HazardKind, HazardPoint, RiskLevel
from fangxun.notify.models import Channel, ContactChannel
from fangxun.org.models import Person, Unit, UnitKind

#: The roster is built around the real clock: the outbox stamps notifications with it.
NOW = datetime.now(UTC).replace(microsecond=0)


@dataclass
class World:
    """Ids of the test organisation."""

    district: int
    office: int
    other_office: int
    point: int
    responsible: int
    deputy: int
    member: int
    leader: int
    district_leader: int


def build_world(
    session: Session,
    *,
    webhook_url: str = "http://127.0.0.1:9/hook",
    robot_url: str = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k",
    now: datetime = NOW,
) -> World:
    """Create the organisation (committed) and return its ids."""
    district = Unit(code="D", name_zh="区防汛办", kind=UnitKind.district)
    office = Unit(code="S1", name_zh="一街道", kind=UnitKind.street_office, parent=district)
    other = Unit(code="S2", name_zh="二街道", kind=UnitKind.street_office, parent=district)
    session.add_all([district, office, other])
    session.flush()

    def person(name: str, unit: Unit, email: str | None) -> Person:
        p = Person(name=name, unit_id=unit.id, email=email, phone="13800000000")
        session.add(p)
        session.flush()
        return p

    responsible = person("责任人", office, "resp@example.cn")
    deputy = person("副责任人", office, None)
    member = person("值班员", office, "member@example.cn")
    leader = person("带班领导", office, "leader@example.cn")
    district_leader = person("区带班领导", district, "dleader@example.cn")
    session.add_all(
        [
            ContactChannel(person_id=deputy.id, channel=Channel.WEBHOOK, address=webhook_url),
            ContactChannel(
                unit_id=office.id, channel=Channel.WECOM, address=robot_url, label="一街道群"
            ),
        ]
    )
    point = HazardPoint(
        code="HP1",
        name="下穿隧道",
        kind=HazardKind.underpass,
        lon=113.6,
        lat=34.7,
        unit_id=office.id,
        responsible_person_id=responsible.id,
        deputy_person_id=deputy.id,
        risk_level=RiskLevel.high,
        threshold_blue_m=0.15,
        threshold_yellow_m=0.27,
        threshold_orange_m=0.40,
        threshold_red_m=0.50,
    )
    session.add(point)
    for unit, crew in (
        (office, [(leader, DutyRole.leader), (member, DutyRole.member)]),
        (district, [(district_leader, DutyRole.leader)]),
    ):
        shift = DutyShift(
            unit_id=unit.id, starts_at=now - timedelta(hours=2), ends_at=now + timedelta(hours=22)
        )
        shift.assignments = [DutyAssignment(person_id=p.id, role=r) for p, r in crew]
        session.add(shift)
    session.commit()
    return World(
        district.id,
        office.id,
        other.id,
        point.id,
        responsible.id,
        deputy.id,
        member.id,
        leader.id,
        district_leader.id,
    )
