"""Accounts (issue 20, item 12): weak passwords refused; failed logins throttle the address and
username together, so five failures from an attacker never lock the real user out (the right
password gets in after a short wait). Time comes from an injected clock, waits go to a list."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from fangxun.db import session_scope
from fangxun.errors import AuthenticationError, ThrottledError, ValidationFailed
from fangxun.org import service
from fangxun.org.models import Role
from fangxun.org.schemas import PersonCreate, UserCreate, UserUpdate

PW = "correct-horse-battery"
ATTACKER = "203.0.113.9"
OWNER = "10.20.30.40"


@dataclass
class Clock:
    now: datetime = datetime(2026, 7, 20, 8, 0, tzinfo=UTC)
    waits: list[float] = field(default_factory=list)

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += timedelta(seconds=seconds)

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def policy(clock: Clock) -> service.LoginPolicy:
    return service.LoginPolicy(
        max_attempts=5,
        window_s=900,
        max_attempts_per_ip=50,
        delay_s=1.0,
        delay_max_s=5.0,
        clock=clock,
        sleep=clock.sleep,
    )


@pytest.fixture
def duty1(engine: Engine) -> Iterator[str]:
    with session_scope(engine) as session:
        service.create_user(
            session=session,
            user_in=UserCreate(username="duty1", password=PW, role=Role.duty),
            actor=None,
        )
    yield "duty1"


def _login(
    engine: Engine, policy: service.LoginPolicy, ip: str, password: str, username: str = "duty1"
) -> None:
    # Each attempt its own committed transaction, as separate requests would be, a second apart.
    policy.clock.advance(1.0)  # type: ignore[attr-defined]
    with session_scope(engine) as session:
        try:
            service.authenticate(
                session=session,
                username=username,
                password=password,
                client_ip=ip,
                policy=policy,
            )
        except AuthenticationError:
            session.commit()
            raise


def _fail(engine: Engine, policy: service.LoginPolicy, ip: str) -> None:
    with pytest.raises(AuthenticationError):
        _login(engine, policy, ip, "wrong-pass")


def test_an_attacker_cannot_lock_out_the_real_user(
    engine: Engine, duty1: str, policy: service.LoginPolicy, clock: Clock
) -> None:
    for _ in range(5):
        _fail(engine, policy, ATTACKER)
    assert clock.waits == []
    # The attacker's address is refused for this username, even with the right password.
    with pytest.raises(ThrottledError):
        _login(engine, policy, ATTACKER, PW)
    # The owner, from their own address, gets in: after a wait, not a lock-out.
    _login(engine, policy, OWNER, PW)
    assert clock.waits == [1.0]
    # The success resets the username's count: no more waiting.
    _login(engine, policy, OWNER, PW)
    assert clock.waits == [1.0]


def test_guessing_from_many_addresses_is_slowed_down_with_a_cap(
    engine: Engine, duty1: str, policy: service.LoginPolicy, clock: Clock
) -> None:
    for i in range(9):
        _fail(engine, policy, f"198.51.100.{i}")
    # The 6th to 9th failures each waited longer, up to the cap.
    assert clock.waits == [1.0, 2.0, 4.0, 5.0]
    # The right password waits as long as a wrong one (the wait tells nothing), and gets in.
    _login(engine, policy, OWNER, PW)
    assert clock.waits == [1.0, 2.0, 4.0, 5.0, 5.0]
    # The success reset the count: the next wrong attempt does not wait.
    _fail(engine, policy, "198.51.100.99")
    assert len(clock.waits) == 5


def test_the_pair_throttle_expires_with_the_clock(
    engine: Engine, duty1: str, policy: service.LoginPolicy, clock: Clock
) -> None:
    for _ in range(5):
        _fail(engine, policy, ATTACKER)
    with pytest.raises(ThrottledError) as info:
        _login(engine, policy, ATTACKER, PW)
    assert 1 <= info.value.retry_after_s <= 901
    clock.advance(901)
    _login(engine, policy, ATTACKER, PW)


def test_many_usernames_from_one_address_throttle_the_address(
    engine: Engine, duty1: str, clock: Clock
) -> None:
    policy = service.LoginPolicy(
        max_attempts=5, max_attempts_per_ip=4, clock=clock, sleep=clock.sleep
    )
    for i in range(4):
        with pytest.raises(AuthenticationError):
            _login(engine, policy, ATTACKER, "wrong-pass", username=f"guess{i}")
    with pytest.raises(ThrottledError):
        _login(engine, policy, ATTACKER, PW)
    _login(engine, policy, OWNER, PW)


@pytest.mark.parametrize(
    "password",
    ["12345678", "password", "P@ssw0rd", "qwerty123", "woaini1314", "1qaz2wsx", "Abcd1234"],
)
def test_common_passwords_are_refused(db_session: Session, password: str) -> None:
    with pytest.raises(ValidationFailed, match="password") as info:
        service.create_user(
            session=db_session,
            user_in=UserCreate(username="duty9", password=password, role=Role.duty),
            actor=None,
        )
    assert info.value.problems[0].loc == ("body", "password")


@pytest.mark.parametrize("password", ["duty1duty1", "Duty1!!!!", "duty12345", "zhangwei88"])
def test_passwords_made_of_own_names_are_refused(
    db_session: Session, make_unit: Any, password: str
) -> None:
    unit = make_unit("GXQ")
    person = service.create_person(
        session=db_session, person_in=PersonCreate(name="zhang wei", unit_id=unit), actor=None
    )
    with pytest.raises(ValidationFailed, match="password"):
        service.create_user(
            session=db_session,
            user_in=UserCreate(
                username="duty1", password=password, role=Role.duty, person_id=person.id
            ),
            actor=None,
        )


def test_a_new_password_is_checked_too(db_session: Session) -> None:
    user = service.create_user(
        session=db_session,
        user_in=UserCreate(username="duty1", password=PW, role=Role.duty),
        actor=None,
    )
    with pytest.raises(ValidationFailed, match="password"):
        service.update_user(
            session=db_session,
            user_id=user.id,
            user_in=UserUpdate(password="password1"),
            actor=None,
        )
    service.update_user(
        session=db_session,
        user_id=user.id,
        user_in=UserUpdate(password="river-gauge-lantern"),
        actor=None,
    )


def test_the_api_answers_422_naming_the_password(client: TestClient, make_user: object) -> None:
    admin = make_user(Role.admin)  # type: ignore[operator]
    r = client.post(
        "/api/v1/users",
        json={"username": "duty7", "password": "12345678", "role": "duty"},
        headers=admin.headers(client),
    )
    assert r.status_code == 422, r.text
    assert "password" in r.text and "common" in r.text
