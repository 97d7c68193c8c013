"""Who is asking, without a database round trip on every request: a short in-process cache from
a bearer token (or a web session's token) to its :class:`Principal`.

The map polls its documents several times a second per open screen; resolving the token took two
queries (token row, user row) plus a transaction and a thread-pool hop each time, more CPU than
serving the cached document itself. :class:`PrincipalCache` keeps what the answer depends on (user
id, role, unit) for at most ``ttl_s`` seconds (and never past the token's own expiry), keyed by a
hash of the token (the token itself is neither kept nor logged).

Revocation bounds: in *this* worker process, anything that writes the token or user tables
(logout, deactivation, a role or unit change, a new login) clears the cache when it commits
(:func:`fangxun.api.cache.watch_writes`), so the next request is checked against the database.
In *another* worker process, or after a write from another program, a revoked token, a
deactivated user or a changed role is honoured within ``ttl_s`` (:data:`PRINCIPAL_TTL_S`, 5 s) at
the latest. Unknown, expired and revoked tokens are never cached: each such request still asks the
database.

>>> from datetime import datetime, timedelta, UTC
>>> cache = PrincipalCache(ttl_s=5.0, clock=lambda: 100.0)
>>> p = Principal(id=1, username="duty", role="duty", unit_id=7)
>>> far = datetime.now(UTC) + timedelta(hours=1)
>>> cache.put("tok", "api", p, far); cache.get("tok", "api") == p, cache.get("tok", "web")
(True, None)
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from fangxun.api.ids import check_integer_params
from fangxun.db.types import utcnow
from fangxun.errors import AuthenticationError
from fangxun.org import service as org_service
from fangxun.org.models import User

#: How long a resolved token is trusted without asking the database again, s (bound on how late
#: another worker process notices a logout, deactivation or role change).
PRINCIPAL_TTL_S: Final = 5.0
#: Most tokens remembered per process; beyond, the cache starts afresh (cheap, and bounds memory
#: against clients cycling through many valid tokens).
MAX_PRINCIPALS: Final = 10_000


@dataclass(frozen=True)
class Principal:
    """The authenticated user as far as a cached read needs it: id, role and unit.

    Handlers that need the ORM :class:`~fangxun.org.models.User` load it with :meth:`load`
    in their own session."""

    id: int
    username: str
    role: Any
    unit_id: int | None
    #: An inspector of every unit (see :func:`fangxun.org.jurisdiction.is_scoped`).
    district_wide: bool = False

    @classmethod
    def of(cls, user: User) -> Principal:
        """The principal of a loaded user."""
        return cls(
            id=user.id,
            username=user.username,
            role=user.role,
            unit_id=user.unit_id,
            district_wide=bool(user.district_wide),
        )

    def load(self, session: Any) -> User:
        """This principal's user in ``session``; :class:`AuthenticationError` when deleted or
        deactivated meanwhile."""
        user = session.get(User, self.id)
        if user is None or not user.is_active:
            raise AuthenticationError("token is invalid or has expired")
        assert isinstance(user, User)
        return user


class PrincipalCache:
    """Token → :class:`Principal`, each entry valid ``ttl_s`` seconds (0 turns it off)."""

    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._entries: dict[tuple[bytes, str], tuple[Principal, float]] = {}
        self._guard = threading.Lock()
        #: Bumped by every eviction: a lookup that started before one must not store its
        #: (possibly revoked) answer after it.
        self.generation = 0

    @staticmethod
    def _key(token: str, purpose: str) -> tuple[bytes, str]:
        # A hash, not the token: a heap dump or a debugger's repr shows no usable secret.
        return hashlib.blake2b(token.encode(), digest_size=20).digest(), purpose

    def get(self, token: str, purpose: str) -> Principal | None:
        """The cached principal of ``token`` for ``purpose``, or None (unknown or expired)."""
        found = self._entries.get(self._key(token, purpose))
        if found is None:
            return None
        principal, expires = found
        if expires <= self._clock():
            self._entries.pop(self._key(token, purpose), None)
            return None
        return principal

    def put(
        self,
        token: str,
        purpose: str,
        principal: Principal,
        token_expires_at: datetime,
        generation: int | None = None,
    ) -> None:
        """Remember ``principal`` for ``ttl_s`` seconds, never past ``token_expires_at`` (UTC);
        not at all when an eviction happened since ``generation`` was read (the lookup may
        predate a logout)."""
        if self.ttl_s <= 0:
            return
        left_s = (token_expires_at - utcnow()).total_seconds()
        if left_s <= 0:
            return
        with self._guard:
            if generation is not None and generation != self.generation:
                return
            if len(self._entries) >= MAX_PRINCIPALS:
                self._entries.clear()
            self._entries[self._key(token, purpose)] = (
                principal,
                self._clock() + min(self.ttl_s, left_s),
            )

    def evict(self, token: str) -> None:
        """Forget ``token`` (every purpose): after a logout in this process."""
        digest = self._key(token, "")[0]
        with self._guard:
            self.generation += 1
            for key in [k for k in self._entries if k[0] == digest]:
                del self._entries[key]

    def clear(self) -> None:
        """Forget every token (a user or token row changed in this process)."""
        with self._guard:
            self.generation += 1
            self._entries.clear()

    def on_write(self, *, auth: bool) -> None:
        """Called by :func:`fangxun.api.cache.watch_writes` after a write was committed."""
        if auth:
            self.clear()

    def __len__(self) -> int:
        return len(self._entries)


def _resolve_in_db(factory: Any, token: str, purpose: str) -> tuple[Principal, datetime]:
    with factory() as session:
        try:
            user, expires_at = org_service.user_and_expiry_for_token(
                session=session, token=token, purpose=purpose
            )
            return Principal.of(user), expires_at
        finally:
            session.rollback()


async def resolve_principal(request: Request, token: str, purpose: str) -> Principal:
    """The principal of ``token`` (of ``purpose``: "api" or "web"): from the app's
    :class:`PrincipalCache` when known, else from the database in the thread pool (one joined
    query). :class:`AuthenticationError` when unknown, expired, revoked or the user inactive."""
    # An integer id beyond the database's range is a 422 before any query (fangxun.api.ids),
    # as in fangxun.api.deps.get_session, which these endpoints no longer use.
    check_integer_params(request)
    cache: PrincipalCache | None = getattr(request.app.state, "principal_cache", None)
    generation = 0
    if cache is not None:
        hit = cache.get(token, purpose)
        if hit is not None:
            return hit
        generation = cache.generation
    principal, expires_at = await run_in_threadpool(
        _resolve_in_db, request.app.state.session_factory, token, purpose
    )
    if cache is not None:
        cache.put(token, purpose, principal, expires_at, generation)
    return principal


__all__ = ["MAX_PRINCIPALS", "PRINCIPAL_TTL_S", "Principal", "PrincipalCache", "resolve_principal"]
