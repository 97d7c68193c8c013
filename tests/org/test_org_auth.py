"""Login, throttling kept in the database, and opaque tokens (hashed, expiring, revocable)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from fangxun.db import session_scope, utcnow
from fangxun.errors import AuthenticationError, ThrottledError
from fangxun.org import security, service
from fangxun.org.models import AuthToken, LoginAttempt, Role
from fangxun.org.schemas import UserCreate, UserUpdate

PW = "correct-horse-battery"
#: No real waiting in tests: a username slowed down after failures "sleeps" here.
POLICY = service.LoginPolicy(
    max_attempts=3, window_s=60, max_attempts_per_ip=5, sleep=lambda _s: None
)


@pytest.fixture
def user_id(db_session: Session) -> int:
    user = service.create_user(
        session=db_session,
        user_in=UserCreate(username="duty1", password=PW, role=Role.duty),
        actor=None,
    )
    db_session.commit()
    return user.id


def test_authenticate_ok_and_case_insensitive(db_session: Session, user_id: int) -> None:
    user = service.authenticate(session=db_session, username=" Duty1 ", password=PW, policy=POLICY)
    assert user.id == user_id
    assert user.last_login_at is not None


@pytest.mark.parametrize(("username", "password"), [("duty1", "wrong-pass"), ("ghost", PW)])
def test_authenticate_fails_with_one_message(
    db_session: Session, user_id: int, username: str, password: str
) -> None:
    with pytest.raises(AuthenticationError, match="wrong username or password"):
        service.authenticate(
            session=db_session, username=username, password=password, policy=POLICY
        )


def test_inactive_user_cannot_log_in(db_session: Session, user_id: int) -> None:
    service.update_user(
        session=db_session, user_id=user_id, user_in=UserUpdate(is_active=False), actor=None
    )
    with pytest.raises(AuthenticationError):
        service.authenticate(session=db_session, username="duty1", password=PW, policy=POLICY)


def _fail(engine: Engine, username: str = "duty1", ip: str | None = "10.0.0.1") -> None:
    # Each attempt in its own committed transaction, as separate requests (or processes) would.
    with pytest.raises(AuthenticationError), session_scope(engine) as session:
        try:
            service.authenticate(
                session=session,
                username=username,
                password="wrong-pass",
                client_ip=ip,
                policy=POLICY,
            )
        except AuthenticationError:
            session.commit()
            raise


def test_throttled_after_max_failures_even_with_right_password(
    engine: Engine, user_id: int
) -> None:
    """From the address that failed; other addresses are slowed, not locked
    (tests/org/test_org_accounts.py)."""
    for _ in range(POLICY.max_attempts):
        _fail(engine)
    with session_scope(engine) as session, pytest.raises(ThrottledError) as info:
        service.authenticate(
            session=session, username="duty1", password=PW, client_ip="10.0.0.1", policy=POLICY
        )
    assert 1 <= info.value.retry_after_s <= POLICY.window_s + 1
    # Another user is not affected.
    with session_scope(engine) as session:
        service.create_user(
            session=session,
            user_in=UserCreate(username="other", password=PW, role=Role.viewer),
            actor=None,
        )
    with session_scope(engine) as session:
        service.authenticate(session=session, username="other", password=PW, policy=POLICY)


def test_throttle_expires_after_the_window(engine: Engine, user_id: int) -> None:
    for _ in range(POLICY.max_attempts):
        _fail(engine)
    with session_scope(engine) as session:
        # Age the failures past the window instead of sleeping.
        for attempt in session.scalars(select(LoginAttempt)):
            attempt.attempted_at = attempt.attempted_at - timedelta(seconds=POLICY.window_s + 1)
    with session_scope(engine) as session:
        user = service.authenticate(
            session=session, username="duty1", password=PW, client_ip="10.0.0.1", policy=POLICY
        )
        assert (user.id, user.username) == (user_id, "duty1")


def test_success_resets_the_username_count(engine: Engine, user_id: int) -> None:
    for _ in range(POLICY.max_attempts - 1):
        _fail(engine)
    with session_scope(engine) as session:
        first = service.authenticate(session=session, username="duty1", password=PW, policy=POLICY)
        assert first.id == user_id
    for _ in range(POLICY.max_attempts - 1):
        _fail(engine)
    with session_scope(engine) as session:
        again = service.authenticate(session=session, username="duty1", password=PW, policy=POLICY)
        assert again.id == user_id


def test_throttled_per_client_address(engine: Engine, user_id: int) -> None:
    for i in range(POLICY.max_attempts_per_ip):
        _fail(engine, username=f"guess{i}", ip="10.9.9.9")
    with session_scope(engine) as session, pytest.raises(ThrottledError):
        service.authenticate(
            session=session, username="duty1", password=PW, client_ip="10.9.9.9", policy=POLICY
        )
    with session_scope(engine) as session:
        service.authenticate(
            session=session, username="duty1", password=PW, client_ip="10.1.1.1", policy=POLICY
        )


def test_token_is_stored_hashed_and_resolves(db_session: Session, user_id: int) -> None:
    user = service.authenticate(session=db_session, username="duty1", password=PW, policy=POLICY)
    token = service.issue_token(session=db_session, user=user, ttl_s=60)
    rows = list(db_session.scalars(select(AuthToken)))
    assert len(rows) == 1
    assert rows[0].token_hash == security.token_digest(token) != token
    assert service.user_for_token(session=db_session, token=token).id == user_id
    with pytest.raises(AuthenticationError):
        service.user_for_token(session=db_session, token=token, purpose="web")


def test_token_expiry_and_revocation(db_session: Session, user_id: int) -> None:
    user = service.authenticate(session=db_session, username="duty1", password=PW, policy=POLICY)
    expired = service.issue_token(session=db_session, user=user, ttl_s=60)
    row = db_session.scalars(
        select(AuthToken).where(AuthToken.token_hash == security.token_digest(expired))
    ).one()
    row.expires_at = utcnow() - timedelta(seconds=1)
    with pytest.raises(AuthenticationError, match="expired"):
        service.user_for_token(session=db_session, token=expired)
    revoked = service.issue_token(session=db_session, user=user)
    service.revoke_token(session=db_session, token=revoked)
    service.revoke_token(session=db_session, token=revoked)  # twice is fine
    with pytest.raises(AuthenticationError):
        service.user_for_token(session=db_session, token=revoked)
    with pytest.raises(AuthenticationError):
        service.user_for_token(session=db_session, token="not-a-token")


def test_password_change_revokes_tokens(db_session: Session, user_id: int) -> None:
    user = service.authenticate(session=db_session, username="duty1", password=PW, policy=POLICY)
    token = service.issue_token(session=db_session, user=user)
    service.update_user(
        session=db_session, user_id=user_id, user_in=UserUpdate(password="new-password"), actor=None
    )
    with pytest.raises(AuthenticationError):
        service.user_for_token(session=db_session, token=token)


def test_old_login_attempts_are_pruned(engine: Engine, user_id: int) -> None:
    with session_scope(engine) as session:
        long_ago = utcnow() - timedelta(seconds=service.LOGIN_ATTEMPT_RETENTION_S + 60)
        session.add(LoginAttempt(username="ghost", attempted_at=long_ago, succeeded=False))
    _fail(engine)
    with session_scope(engine) as session:
        names = list(session.scalars(select(LoginAttempt.username)))
    assert names == ["duty1"]
