"""Organisation services: units, people, users, login and tokens.

Keyword-only functions; they check permission and jurisdiction, record every change in the audit
log, and never commit (the caller's scope does). ``actor=None`` or a ``SystemActor`` is the system
(CLI, loaders), which may do everything.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, func, select
from sqlalchemy.orm import Session

from fangxun.audit.models import AuditAction
from fangxun.audit.service import (
    record_change,
    record_create,
    record_delete,
    record_update,
    snapshot,
)
from fangxun.db.queries import flush_or_conflict, paginate
from fangxun.db.types import utcnow
from fangxun.errors import (
    AuthenticationError,
    ConflictError,
    PermissionDeniedError,
    ThrottledError,
    ValidationFailed,
)
from fangxun.org import passwords, security
from fangxun.org.jurisdiction import (
    descendant_unit_ids,
    get_in_jurisdiction,
    get_named_in_body,
    scope_query,
    unit_in_body,
    visible_unit_ids,
)
from fangxun.org.models import AuthToken, LoginAttempt, Person, Role, Unit, UnitKind, User
from fangxun.org.permissions import Actor, Permission, has_permission, require_permission
from fangxun.org.schemas import (
    PersonCreate,
    PersonUpdate,
    UnitCreate,
    UnitUpdate,
    UserCreate,
    UserUpdate,
)

__all__ = [
    "DEFAULT_TOKEN_TTL_S",
    "LoginPolicy",
    "authenticate",
    "create_person",
    "create_unit",
    "create_user",
    "delete_person",
    "delete_unit",
    "delete_user",
    "get_person",
    "get_unit",
    "get_user",
    "get_user_by_username",
    "issue_token",
    "list_people",
    "list_units",
    "list_users",
    "revoke_token",
    "update_person",
    "update_unit",
    "update_user",
    "user_for_token",
    "visible_unit_ids",
]

#: Bearer token lifetime when the caller gives none, s (the API passes ``settings.token_ttl_s``).
DEFAULT_TOKEN_TTL_S = 12 * 3600
logger = logging.getLogger(__name__)

#: Login attempts are kept at least this long (for people reading the table), s.
LOGIN_ATTEMPT_RETENTION_S = 24 * 3600


def _require_visible_unit(
    session: Session, actor: Actor, unit_id: int | None, loc: tuple[str, ...]
) -> Unit | None:
    """A unit named in a request body: missing or outside the jurisdiction → 422 on that field."""
    return None if unit_id is None else unit_in_body(session, actor, unit_id, loc)


# --- units -------------------------------------------------------------------------------------


def _check_unit_shape(
    session: Session, *, unit: Unit | None, kind: UnitKind, parent_id: int | None
) -> None:
    if kind is UnitKind.district and parent_id is not None:
        raise ValidationFailed("a district has no parent unit", loc=("body", "parent_id"))
    if kind is not UnitKind.district and parent_id is None:
        raise ValidationFailed(
            f"a {kind.value.replace('_', ' ')} needs a parent unit", loc=("body", "parent_id")
        )
    if (
        unit is not None
        and parent_id is not None
        and parent_id in descendant_unit_ids(session=session, unit_id=unit.id)
    ):
        raise ValidationFailed(
            "a unit cannot be moved below itself or one of its own units", loc=("body", "parent_id")
        )


def create_unit(*, session: Session, unit_in: UnitCreate, actor: Actor) -> Unit:
    """Create a unit (admin, district)."""
    require_permission(actor, Permission.manage_units)
    _require_visible_unit(session, actor, unit_in.parent_id, ("body", "parent_id"))
    _check_unit_shape(session, unit=None, kind=unit_in.kind, parent_id=unit_in.parent_id)
    if session.scalar(select(exists().where(Unit.code == unit_in.code))):
        raise ConflictError(f"a unit with code {unit_in.code!r} already exists")
    unit = Unit(**unit_in.model_dump())
    session.add(unit)
    flush_or_conflict(session, f"unit {unit_in.code!r}")
    record_create(session=session, actor=actor, obj=unit)
    return unit


def get_unit(*, session: Session, unit_id: int, actor: Actor) -> Unit:
    """A unit inside the actor's jurisdiction, else :class:`NotFoundError`."""
    require_permission(actor, Permission.read_org)
    return get_in_jurisdiction(
        session=session, user=actor, model=Unit, obj_id=unit_id, unit_attr="id", label="unit"
    )


def unit_id_by_code(*, session: Session, code: str) -> int | None:
    """The id of the unit with ``code``, or None: how the command line names units (``--unit``).

    The CLI runs as the system, so there is no jurisdiction to check; callers say what a missing
    unit means for their command.
    """
    return session.scalar(select(Unit.id).where(Unit.code == code))


def list_units(
    *,
    session: Session,
    actor: Actor,
    kind: UnitKind | None = None,
    parent_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[Unit], int]:
    """Units in the actor's jurisdiction, by code, with the total count."""
    require_permission(actor, Permission.read_org)
    stmt = scope_query(select(Unit), Unit.id, session=session, user=actor)
    if kind is not None:
        stmt = stmt.where(Unit.kind == kind)
    if parent_id is not None:
        stmt = stmt.where(Unit.parent_id == parent_id)
    return paginate(session, stmt.order_by(Unit.code), limit, offset)


def _rings(geometry: dict[str, Any] | None) -> list[list[list[float]]]:
    """The outer rings of a GeoJSON Polygon/MultiPolygon (WGS 84 lon/lat)."""
    if not geometry:
        return []
    coords = geometry.get("coordinates") or []
    if geometry.get("type") == "Polygon":
        return [coords[0]] if coords else []
    if geometry.get("type") == "MultiPolygon":
        return [poly[0] for poly in coords if poly]
    return []


def unit_boundaries(*, session: Session, actor: Actor) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of the boundaries of the units in the actor's jurisdiction
    (those that have one), with ``code``, ``name`` and ``kind``: the map's jurisdiction layer."""
    require_permission(actor, Permission.read_org)
    stmt = scope_query(select(Unit), Unit.id, session=session, user=actor)
    features = [
        {
            "type": "Feature",
            "geometry": unit.geometry,
            "properties": {"code": unit.code, "name": unit.name_zh, "kind": unit.kind.value},
        }
        for unit in session.scalars(stmt.where(Unit.geometry.is_not(None)).order_by(Unit.code))
    ]
    return {"type": "FeatureCollection", "features": features}


def district_extent(*, session: Session) -> tuple[float, float, float, float] | None:
    """(south, west, north, east) in degrees of the district's boundary (else of all unit
    boundaries), for the map's first view; None when no unit has a boundary."""
    units = list(session.scalars(select(Unit).where(Unit.geometry.is_not(None))))
    districts = [u for u in units if u.kind is UnitKind.district] or units
    points = [p for u in districts for ring in _rings(u.geometry) for p in ring]
    if not points:
        return None
    lons, lats = [float(p[0]) for p in points], [float(p[1]) for p in points]
    return min(lats), min(lons), max(lats), max(lons)


def update_unit(*, session: Session, unit_id: int, unit_in: UnitUpdate, actor: Actor) -> Unit:
    """Change a unit (admin, district)."""
    unit = get_unit(session=session, unit_id=unit_id, actor=actor)
    require_permission(actor, Permission.manage_units)
    changes = unit_in.model_dump(exclude_unset=True)
    for field in ("code", "name_zh", "kind"):
        if field in changes and changes[field] is None:
            raise ValidationFailed("must not be null", loc=("body", field))
    if "parent_id" in changes:
        _require_visible_unit(session, actor, changes["parent_id"], ("body", "parent_id"))
    _check_unit_shape(
        session,
        unit=unit,
        kind=changes.get("kind", unit.kind),
        parent_id=changes.get("parent_id", unit.parent_id),
    )
    if (
        "code" in changes
        and changes["code"] != unit.code
        and session.scalar(select(exists().where(Unit.code == changes["code"])))
    ):
        raise ConflictError(f"a unit with code {changes['code']!r} already exists")
    before = snapshot(unit)
    for key, value in changes.items():
        setattr(unit, key, value)
    flush_or_conflict(session, f"unit {unit.code!r}")
    record_update(session=session, actor=actor, obj=unit, before=before)
    return unit


def delete_unit(*, session: Session, unit_id: int, actor: Actor) -> None:
    """Delete an empty unit (admin, district); one with sub-units, people or users is refused."""
    unit = get_unit(session=session, unit_id=unit_id, actor=actor)
    require_permission(actor, Permission.manage_units)
    for column, what in (
        (Unit.parent_id, "sub-units"),
        (Person.unit_id, "people"),
        (User.unit_id, "users"),
    ):
        if session.scalar(select(exists().where(column == unit.id))):
            raise ConflictError(f"unit {unit.code!r} still has {what}; move or delete them first")
    before = snapshot(unit)
    session.delete(unit)
    flush_or_conflict(session, f"unit {unit.code!r}")
    record_delete(session=session, actor=actor, obj=unit, before=before)


# --- people ------------------------------------------------------------------------------------


def create_person(*, session: Session, person_in: PersonCreate, actor: Actor) -> Person:
    """Create a person (admin, district; a ``unit`` user inside its jurisdiction)."""
    require_permission(actor, Permission.manage_people)
    _require_visible_unit(session, actor, person_in.unit_id, ("body", "unit_id"))
    person = Person(**person_in.model_dump())
    session.add(person)
    flush_or_conflict(session, f"person {person_in.name!r}")
    record_create(session=session, actor=actor, obj=person)
    return person


def get_person(*, session: Session, person_id: int, actor: Actor) -> Person:
    """A person inside the actor's jurisdiction, else :class:`NotFoundError`."""
    require_permission(actor, Permission.read_org)
    return get_in_jurisdiction(
        session=session, user=actor, model=Person, obj_id=person_id, label="person"
    )


def list_people(
    *,
    session: Session,
    actor: Actor,
    unit_id: int | None = None,
    q: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[Person], int]:
    """People in the actor's jurisdiction (optionally one unit, or a name search), by name."""
    require_permission(actor, Permission.read_org)
    stmt = scope_query(select(Person), Person.unit_id, session=session, user=actor)
    if unit_id is not None:
        stmt = stmt.where(Person.unit_id == unit_id)
    if q:
        stmt = stmt.where(Person.name.contains(q.strip(), autoescape=True))
    return paginate(session, stmt.order_by(Person.name, Person.id), limit, offset)


def update_person(
    *, session: Session, person_id: int, person_in: PersonUpdate, actor: Actor
) -> Person:
    """Change a person (admin, district; a ``unit`` user inside its jurisdiction)."""
    person = get_person(session=session, person_id=person_id, actor=actor)
    require_permission(actor, Permission.manage_people)
    changes = person_in.model_dump(exclude_unset=True)
    for field in ("name", "unit_id"):
        if field in changes and changes[field] is None:
            raise ValidationFailed("must not be null", loc=("body", field))
    if "unit_id" in changes:
        _require_visible_unit(session, actor, changes["unit_id"], ("body", "unit_id"))
    before = snapshot(person)
    for key, value in changes.items():
        setattr(person, key, value)
    flush_or_conflict(session, f"person {person.name!r}")
    record_update(session=session, actor=actor, obj=person, before=before)
    return person


def delete_person(*, session: Session, person_id: int, actor: Actor) -> None:
    """Delete a person; a login linked to them stays, unlinked."""
    person = get_person(session=session, person_id=person_id, actor=actor)
    require_permission(actor, Permission.manage_people)
    for user in session.scalars(select(User).where(User.person_id == person.id)):
        before = snapshot(user)
        user.person_id = None
        record_update(session=session, actor=actor, obj=user, before=before)
    before = snapshot(person)
    session.delete(person)
    flush_or_conflict(session, f"person {person.name!r}")
    record_delete(session=session, actor=actor, obj=person, before=before)


# --- users -------------------------------------------------------------------------------------


def _check_user_shape(
    session: Session,
    actor: Actor,
    *,
    role: Role,
    unit_id: int | None,
    person_id: int | None,
    district_wide: bool = False,
) -> None:
    if role is Role.admin and not has_permission(actor, Permission.grant_admin):
        raise PermissionDeniedError("only an admin may create or change admin users")
    if role is Role.unit and unit_id is None:
        raise ValidationFailed("a user with role 'unit' needs a unit", loc=("body", "unit_id"))
    if role is Role.inspector and unit_id is None and not district_wide:
        raise ValidationFailed(
            "an inspector needs a unit, or district_wide for an inspector of every unit",
            loc=("body", "unit_id"),
        )
    if district_wide and role is not Role.inspector:
        raise ValidationFailed(
            "only an inspector is marked district_wide (the other roles are not scoped "
            "or always scoped)",
            loc=("body", "district_wide"),
        )
    if person_id is not None:
        get_named_in_body(
            session=session,
            user=actor,
            model=Person,
            obj_id=person_id,
            loc=("body", "person_id"),
            label="person",
        )


def _check_password(session: Session, password: str, username: str, person_id: int | None) -> None:
    """Refuse a common password or one made of the user's own names (fangxun.org.passwords)."""
    names = [username]
    person = session.get(Person, person_id) if person_id is not None else None
    if person is not None:
        names.append(person.name)
    reason = passwords.problem(password, names=names)
    if reason is not None:
        raise ValidationFailed(f"password {reason}", loc=("body", "password"))


def get_user_by_username(*, session: Session, username: str) -> User | None:
    """The user with ``username`` (case-insensitive), or None. No permission check: internal use."""
    return session.scalar(select(User).where(User.username == username.strip().lower()))


def create_user(*, session: Session, user_in: UserCreate, actor: Actor) -> User:
    """Create a login (admin, district; only an admin may create an admin)."""
    require_permission(actor, Permission.manage_users)
    _require_visible_unit(session, actor, user_in.unit_id, ("body", "unit_id"))
    _check_user_shape(
        session,
        actor,
        role=user_in.role,
        unit_id=user_in.unit_id,
        person_id=user_in.person_id,
        district_wide=user_in.district_wide,
    )
    if user_in.password.strip().lower() == user_in.username:
        raise ValidationFailed("password must differ from the username", loc=("body", "password"))
    _check_password(session, user_in.password, user_in.username, user_in.person_id)
    if get_user_by_username(session=session, username=user_in.username) is not None:
        raise ConflictError(f"username {user_in.username!r} is taken")
    user = User(
        username=user_in.username,
        password_hash=security.hash_password(user_in.password),
        role=user_in.role,
        unit_id=user_in.unit_id,
        person_id=user_in.person_id,
        is_active=user_in.is_active,
        district_wide=user_in.district_wide,
    )
    session.add(user)
    flush_or_conflict(session, f"user {user_in.username!r}")
    record_create(session=session, actor=actor, obj=user)
    return user


def get_user(*, session: Session, user_id: int, actor: Actor) -> User:
    """A user inside the actor's jurisdiction (a ``unit`` user sees its unit's users)."""
    require_permission(actor, Permission.read_org)
    return get_in_jurisdiction(
        session=session, user=actor, model=User, obj_id=user_id, label="user"
    )


def list_users(
    *,
    session: Session,
    actor: Actor,
    role: Role | None = None,
    unit_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[User], int]:
    """Users in the actor's jurisdiction, by username."""
    require_permission(actor, Permission.read_org)
    stmt = scope_query(select(User), User.unit_id, session=session, user=actor)
    if role is not None:
        stmt = stmt.where(User.role == role)
    if unit_id is not None:
        stmt = stmt.where(User.unit_id == unit_id)
    return paginate(session, stmt.order_by(User.username), limit, offset)


def update_user(*, session: Session, user_id: int, user_in: UserUpdate, actor: Actor) -> User:
    """Change a user (admin, district; admins only by an admin). A new password revokes tokens."""
    user = get_user(session=session, user_id=user_id, actor=actor)
    require_permission(actor, Permission.manage_users)
    if user.role is Role.admin and not has_permission(actor, Permission.grant_admin):
        raise PermissionDeniedError("only an admin may change an admin user")
    changes = user_in.model_dump(exclude_unset=True)
    for field in ("role", "is_active", "district_wide"):
        if field in changes and changes[field] is None:
            raise ValidationFailed("must not be null", loc=("body", field))
    if "unit_id" in changes:
        _require_visible_unit(session, actor, changes["unit_id"], ("body", "unit_id"))
    _check_user_shape(
        session,
        actor,
        role=changes.get("role", user.role),
        unit_id=changes.get("unit_id", user.unit_id),
        person_id=changes.get("person_id") if "person_id" in changes else None,
        district_wide=changes.get("district_wide", user.district_wide),
    )
    if (
        isinstance(actor, User)
        and actor.id == user.id
        and (changes.get("is_active") is False or changes.get("role", user.role) != user.role)
    ):
        # Locking yourself out (or demoting yourself) is almost always a mistake.
        raise ValidationFailed(
            "you cannot deactivate or change the role of your own account",
            loc=("body", "is_active" if "is_active" in changes else "role"),
        )
    before = snapshot(user)
    new_password = changes.pop("password", None)
    if new_password is not None:
        _check_password(
            session, new_password, user.username, changes.get("person_id", user.person_id)
        )
    for key, value in changes.items():
        setattr(user, key, value)
    if new_password is not None:
        user.password_hash = security.hash_password(new_password)
    if new_password is not None or changes.get("is_active") is False:
        _revoke_all_tokens(session, user)
    flush_or_conflict(session, f"user {user.username!r}")
    after = snapshot(user)
    if new_password is not None:
        # The hash is never logged; the fact that the password changed is.
        after["password_changed"] = True
    record_change(
        session=session,
        actor=actor,
        action=AuditAction.update,
        obj=user,
        before=before,
        after=after,
    )
    return user


def delete_user(*, session: Session, user_id: int, actor: Actor) -> None:
    """Delete a login and its tokens (admin, district; admins only by an admin; never yourself)."""
    user = get_user(session=session, user_id=user_id, actor=actor)
    require_permission(actor, Permission.manage_users)
    if user.role is Role.admin and not has_permission(actor, Permission.grant_admin):
        raise PermissionDeniedError("only an admin may delete an admin user")
    if isinstance(actor, User) and actor.id == user.id:
        raise ConflictError("you cannot delete your own account")
    before = snapshot(user)
    session.execute(delete(AuthToken).where(AuthToken.user_id == user.id))
    session.delete(user)
    flush_or_conflict(session, f"user {user.username!r}")
    record_delete(session=session, actor=actor, obj=user, before=before)


# --- login and tokens --------------------------------------------------------------------------


@dataclass(frozen=True)
class LoginPolicy:
    """Login throttling, by source address **and** username together, so nobody can lock out a
    user they know the name of (issue 20, item 12):

    * ``max_attempts`` failures of one username from one client address within ``window_s``
      seconds: that address is refused for that username (429) until the oldest expires;
    * ``max_attempts_per_ip`` failures from one address (any usernames, offices share NAT): the
      address is refused;
    * ``max_attempts`` failures of one username from anywhere (guessing from many addresses):
      every further attempt on that username waits ``delay_s``, doubling with each failure up to
      ``delay_max_s``, **before** the password is checked, and the right password still gets in.

    ``clock`` and ``sleep`` are injected so tests move time instead of waiting.
    """

    max_attempts: int = 5
    window_s: int = 15 * 60
    max_attempts_per_ip: int = 50
    delay_s: float = 1.0
    delay_max_s: float = 5.0
    clock: Callable[[], datetime] = utcnow
    sleep: Callable[[float], None] = time.sleep

    @classmethod
    def from_settings(cls, settings: Any) -> LoginPolicy:
        """Build from :class:`fangxun.config.Settings`."""
        return cls(
            max_attempts=settings.login_max_attempts,
            window_s=settings.login_window_s,
            max_attempts_per_ip=settings.login_max_attempts_per_ip,
            delay_s=settings.login_delay_s,
            delay_max_s=settings.login_delay_max_s,
        )


def _failures(session: Session, where: Any, since: datetime, limit: int) -> list[datetime]:
    """Times of the newest ``limit`` failures matching ``where`` since ``since``, newest first."""
    return list(
        session.scalars(
            select(LoginAttempt.attempted_at)
            .where(where, LoginAttempt.succeeded.is_(False), LoginAttempt.attempted_at >= since)
            .order_by(LoginAttempt.attempted_at.desc())
            .limit(limit)
        )
    )


def _retry_after(
    session: Session, where: Any, since: datetime, limit: int, window: timedelta, now: datetime
) -> int | None:
    """Seconds until failures matching ``where`` since ``since`` drop below ``limit``, or None."""
    times = _failures(session, where, since, limit)
    if len(times) < limit:
        return None
    # The limit-th newest failure is the one whose expiry lets the next attempt through.
    return max(1, int((times[-1] + window - now).total_seconds()) + 1)


def check_throttle(
    *,
    session: Session,
    username: str,
    client_ip: str | None,
    policy: LoginPolicy,
    now: datetime | None = None,
) -> float:
    """Raise :class:`ThrottledError` when ``client_ip`` has failed too often (for ``username``,
    or at all); else return the seconds an attempt on ``username`` must wait (0 when it has not
    failed ``max_attempts`` times since its last success)."""
    now = now or policy.clock()
    window = timedelta(seconds=policy.window_s)
    since = now - window
    last_ok = session.scalar(
        select(func.max(LoginAttempt.attempted_at)).where(
            LoginAttempt.username == username, LoginAttempt.succeeded.is_(True)
        )
    )
    user_since = max(since, last_ok) if last_ok is not None else since
    same_source = (
        LoginAttempt.client_ip == client_ip if client_ip else LoginAttempt.client_ip.is_(None)
    )
    wait = _retry_after(
        session,
        (LoginAttempt.username == username) & same_source,
        user_since,
        policy.max_attempts,
        window,
        now,
    )
    if wait is None and client_ip:
        wait = _retry_after(
            session,
            LoginAttempt.client_ip == client_ip,
            since,
            policy.max_attempts_per_ip,
            window,
            now,
        )
    if wait is not None:
        raise ThrottledError(f"too many failed logins; try again in {wait} s", retry_after_s=wait)
    # Enough doublings to reach the cap; no need to count further back.
    cap = policy.max_attempts + 32
    failed = len(_failures(session, LoginAttempt.username == username, user_since, cap))
    if failed < policy.max_attempts:
        return 0.0
    return float(min(policy.delay_s * 2.0 ** (failed - policy.max_attempts), policy.delay_max_s))


def authenticate(
    *,
    session: Session,
    username: str,
    password: str,
    client_ip: str | None = None,
    policy: LoginPolicy | None = None,
) -> User:
    """Check a username and password and return the active user.

    Raises :class:`ThrottledError` when this address failed too often (:class:`LoginPolicy`), and
    :class:`AuthenticationError` (one message for every cause) otherwise. A username that failed
    often from elsewhere is slowed down, never locked. The attempt is added to the session **also
    when it fails**: the caller must commit the session before turning the error into a
    response, or throttling never sees the failures.
    """
    policy = policy or LoginPolicy()
    name = username.strip().lower()[:64]
    now = policy.clock()
    delay = check_throttle(
        session=session, username=name, client_ip=client_ip, policy=policy, now=now
    )
    if delay > 0:
        # Before the check, for right and wrong passwords alike: the wait tells nothing.
        logger.info("login for %r slowed by %.1f s after repeated failures", name, delay)
        policy.sleep(delay)
        now = policy.clock()
    # Attempts matter only inside the window: prune older ones as we go, so guessing at many
    # usernames cannot grow the table without bound.
    keep_s = max(policy.window_s, LOGIN_ATTEMPT_RETENTION_S)
    session.execute(
        delete(LoginAttempt).where(LoginAttempt.attempted_at < now - timedelta(seconds=keep_s))
    )
    user = get_user_by_username(session=session, username=name) if name else None
    if user is None:
        security.burn_verify(password)
        ok = False
    else:
        ok = security.verify_password(user.password_hash, password) and user.is_active
    session.add(LoginAttempt(username=name, client_ip=client_ip, attempted_at=now, succeeded=ok))
    session.flush()
    if not ok or user is None:
        raise AuthenticationError("wrong username or password")
    if security.needs_rehash(user.password_hash):
        user.password_hash = security.hash_password(password)
    user.last_login_at = now
    return user


def issue_token(
    *, session: Session, user: User, ttl_s: int | None = None, purpose: str = "api"
) -> str:
    """Create an opaque token for ``user`` valid ``ttl_s`` seconds; only its hash is stored.

    ``purpose`` separates API bearer tokens ("api") from browser sessions ("web").
    """
    if ttl_s is not None and ttl_s <= 0:
        raise ValueError(f"ttl_s must be positive, got {ttl_s}")
    now = utcnow()
    token = security.new_token()
    session.execute(
        delete(AuthToken).where(AuthToken.user_id == user.id, AuthToken.expires_at < now)
    )
    session.add(
        AuthToken(
            token_hash=security.token_digest(token),
            user_id=user.id,
            purpose=purpose,
            created_at=now,
            expires_at=now + timedelta(seconds=ttl_s or DEFAULT_TOKEN_TTL_S),
        )
    )
    session.flush()
    return token


def _token_row(session: Session, token: str) -> AuthToken | None:
    if not token or len(token) > 256:
        return None
    return session.scalar(
        select(AuthToken).where(AuthToken.token_hash == security.token_digest(token))
    )


def user_for_token(*, session: Session, token: str, purpose: str | None = None) -> User:
    """The active user a live token belongs to; :class:`AuthenticationError` if expired,
    revoked, unknown, of another purpose, or the user is inactive."""
    return user_and_expiry_for_token(session=session, token=token, purpose=purpose)[0]


def user_and_expiry_for_token(
    *, session: Session, token: str, purpose: str | None = None
) -> tuple[User, datetime]:
    """:func:`user_for_token` and the token's expiry (UTC), from one joined query (token and
    user in one round trip: this runs on every authenticated request that misses the
    in-process principal cache, :mod:`fangxun.api.principal`)."""
    if not token or len(token) > 256:
        raise AuthenticationError("token is invalid or has expired")
    found = session.execute(
        select(AuthToken, User)
        .join(User, User.id == AuthToken.user_id)
        .where(AuthToken.token_hash == security.token_digest(token))
    ).first()
    if found is None:
        raise AuthenticationError("token is invalid or has expired")
    row, user = found
    if (
        row.revoked_at is not None
        or row.expires_at <= utcnow()
        or (purpose is not None and row.purpose != purpose)
        or not user.is_active
    ):
        raise AuthenticationError("token is invalid or has expired")
    return user, row.expires_at


def revoke_token(*, session: Session, token: str) -> None:
    """Revoke a token (logout). Unknown tokens are ignored: logging out twice is not an error."""
    row = _token_row(session, token)
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
        session.flush()


def _revoke_all_tokens(session: Session, user: User) -> None:
    now = utcnow()
    for row in session.scalars(
        select(AuthToken).where(AuthToken.user_id == user.id, AuthToken.revoked_at.is_(None))
    ):
        row.revoked_at = now
