"""A per-jurisdiction cache of the map's hot read documents, as encoded (and gzipped) bytes.

On a storm day every open map polls the same few documents (hazard points, stations with their
latest values, active warnings) many times a second, and building them costs far more than
sending them. :func:`cached_json` keeps the *encoded* body, its gzip twin and its ``ETag``,
keyed by the request path and query and by what decides what the user may see (role and unit),
so a user is never served another jurisdiction's bytes. Authentication still runs on every
request (from the short principal cache of :mod:`fangxun.api.principal`); only building the body
is shared.

An entry is used while both hold:

* its **data version** matches: the caller names ``version``, a cheap query (the newest audit
  entry, row and observation ids, the overdue count: one round trip) that changes whenever an
  edit or an ingest changes the document. Each worker process memoises it for
  :data:`VERSION_MEMO_S` (0.5 s), so a cache hit asks the database nothing; a write committed
  through this process's engine drops the memo at once (:func:`watch_writes`), one from another
  process shows within the memo interval;
* it is younger than ``Settings.response_cache_ttl_s`` (default 10 s; 0 turns caching off), which
  bounds how stale whatever the version does not see can be (transactions committed out of id
  order, writes around the services).

Concurrent misses of one key build it once: the others wait when the version changed (they must
not see the old data). When only the time ran out, every request is served the previous body
while one rebuild runs on the cache's background thread with its own database session
(stale-while-revalidate, at most a build's duration past the TTL): no reader pays for a
rebuild that the data did not ask for.

Clients that send ``If-None-Match`` with the current ``ETag`` get ``304 Not Modified`` and no
body; clients that accept gzip get the pre-compressed bytes of documents over
:data:`GZIP_MIN_BYTES` (compressed once per build, not per request).

>>> cache = ResponseCache(ttl_s=60)
>>> calls = []
>>> entry = cache.get_or_build(("k",), lambda: calls.append(1) or {"a": 1}, version=1)
>>> entry.body, entry == cache.get_or_build(("k",), lambda: {"a": 2}, version=1), len(calls)
(b'{"a":1}', True, 1)
>>> cache.get_or_build(("k",), lambda: {"a": 2}, version=2).body  # the data changed
b'{"a":2}'
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import sys
import threading
import time
import weakref
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pydantic_core
from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import Response
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from fangxun.api.principal import Principal

logger = logging.getLogger(__name__)

#: Most entries kept; the oldest are dropped beyond (one per jurisdiction × document).
MAX_ENTRIES = 512
#: Bodies at least this long are also kept gzipped, bytes (smaller ones gain nothing).
GZIP_MIN_BYTES = 1024
#: gzip level: 6 compresses a 1 MB GeoJSON to about a seventh in ~10 ms, once per build.
GZIP_LEVEL = 6
#: How long a worker trusts a data version it read, s: the bound on how late a write made by
#: *another* process shows (writes through this process's engine bump it at once, see
#: :func:`watch_writes`). Within it a cache hit touches no database at all.
VERSION_MEMO_S = 0.5
#: GIL switch interval while background rebuilds may run, s (CPython's default: 0.005).
GIL_SWITCH_INTERVAL_S = 0.0005


@dataclass(frozen=True)
class CachedBody:
    """One encoded document: its bytes, their gzip twin (``None`` when small) and ``ETag``."""

    body: bytes
    gzipped: bytes | None
    etag: str
    version: Hashable
    expires: float

    @classmethod
    def encode(
        cls, value: Any, version: Hashable, expires: float, previous: CachedBody | None = None
    ) -> CachedBody:
        """Encode ``value`` as compact UTF-8 JSON (bytes are taken as already encoded); the
        gzip and ETag of ``previous`` are reused when the bytes did not change."""
        body = value if isinstance(value, bytes) else _encode(value)
        if previous is not None and previous.body == body:
            return cls(previous.body, previous.gzipped, previous.etag, version, expires)
        gzipped = gzip.compress(body, GZIP_LEVEL, mtime=0) if len(body) >= GZIP_MIN_BYTES else None
        etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
        return cls(body, gzipped, etag, version, expires)


class ResponseCache:
    """Encoded JSON bodies by key, each valid ``ttl_s`` seconds and while its version holds."""

    def __init__(self, ttl_s: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        #: Seconds on a monotonic clock; tests pass a clock they advance instead of sleeping.
        self.clock = clock
        self._entries: dict[Hashable, CachedBody] = {}
        self._locks: dict[Hashable, threading.Lock] = {}
        self._guard = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self.version_memo_s = min(VERSION_MEMO_S, ttl_s)
        self._versions: dict[Hashable, tuple[Hashable, float]] = {}
        #: Bumped by every write committed in this process: a version read that started before
        #: it must not be memoised after it.
        self._generation = 0

    def clear(self) -> None:
        """Forget every entry (after a change made in this process, for instance)."""
        with self._guard:
            self._entries.clear()
            self._versions.clear()
            self._generation += 1

    def on_write(self, *, auth: bool) -> None:
        """A write was committed through this process's engine: forget the memoised data
        versions, so the next request reads them again (:func:`watch_writes`)."""
        self._generation += 1
        self._versions.clear()

    def memoised_version(self, name: Hashable) -> tuple[bool, Hashable]:
        """``(True, version)`` when the version named ``name`` was read less than
        :attr:`version_memo_s` ago and no write of this process came since; else ``(False,
        None)``."""
        found = self._versions.get(name)
        if found is not None and found[1] > self.clock():
            return True, found[0]
        return False, None

    def read_version(self, name: Hashable, read: Callable[[], Hashable]) -> Hashable:
        """Call ``read()`` (a database query) and memoise its result under ``name`` unless a
        write of this process landed meanwhile."""
        generation = self._generation
        value = read()
        if generation == self._generation and self.version_memo_s > 0:
            self._versions[name] = (value, self.clock() + self.version_memo_s)
        return value

    def lookup(
        self, key: Hashable, version: Hashable, refresh: Callable[[], Any]
    ) -> CachedBody | None:
        """The entry for ``key`` when it has ``version``, else None; never blocks (safe on the
        event loop). When its TTL ran out, ``refresh()`` is scheduled on the background thread
        (unless a rebuild of it already runs) and the entry is served meanwhile, as in
        :meth:`get_or_build`."""
        hit = self._entries.get(key)
        if hit is None or hit.version != version:
            return None
        if hit.expires > self.clock():
            return hit
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        if lock.acquire(blocking=False):
            try:
                self._background().submit(self._refresh, key, refresh, version, lock)
            except RuntimeError:  # the executor is shut down (the app is stopping)
                lock.release()
        return hit

    def get_or_build(
        self,
        key: Hashable,
        build: Callable[[], Any],
        *,
        version: Hashable = None,
        refresh: Callable[[], Any] | None = None,
    ) -> CachedBody:
        """The document for ``key`` at data ``version``: cached when fresh, else ``build()``.

        When only the TTL ran out (same version) and ``refresh`` is given, the previous body is
        served at once and ``refresh()`` (a build that needs nothing from the caller's request,
        e.g. its own database session) runs on the cache's background thread; without it the
        caller rebuilds. ``ttl_s`` 0 builds every time (still with ``ETag`` and gzip).
        """
        if self.ttl_s <= 0:
            return CachedBody.encode(build(), version, 0.0)
        hit = self._entries.get(key)
        if hit is not None and hit.version == version and hit.expires > self.clock():
            return hit
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        same_data = hit is not None and hit.version == version
        if same_data and not lock.acquire(blocking=False):
            # Only the time ran out and another request is rebuilding: serve the previous body
            # rather than queue behind the build (waiters holding DB connections starve the pool).
            assert hit is not None
            return hit
        if same_data and refresh is not None:
            # Rebuild off the request: no reader pays for a build the data did not ask for.
            assert hit is not None
            try:
                self._background().submit(self._refresh, key, refresh, version, lock)
            except RuntimeError:  # the executor is shut down (the app is stopping)
                lock.release()
            return hit
        if not same_data:
            lock.acquire()  # the data changed: nobody may be served the old body
        try:
            hit = self._entries.get(key)  # built by another thread while this one waited
            if hit is not None and hit.version == version and hit.expires > self.clock():
                return hit
            return self._store(key, build(), version, hit)
        finally:
            lock.release()

    def _store(
        self, key: Hashable, value: Any, version: Hashable, hit: CachedBody | None
    ) -> CachedBody:
        entry = CachedBody.encode(value, version, self.clock() + self.ttl_s, hit)
        with self._guard:
            if key not in self._entries and len(self._entries) >= MAX_ENTRIES:
                oldest = min(self._entries, key=lambda k: self._entries[k].expires)
                del self._entries[oldest]
                self._locks.pop(oldest, None)
            self._entries[key] = entry
        return entry

    def _refresh(
        self, key: Hashable, refresh: Callable[[], Any], version: Hashable, lock: threading.Lock
    ) -> None:
        try:
            hit = self._entries.get(key)
            if hit is None or hit.version == version:  # not replaced by newer data meanwhile
                self._store(key, refresh(), version, hit)
        except Exception:
            # The previous body stays in use; the next expiry tries again.
            logger.exception("background rebuild of %r failed", key)
        finally:
            lock.release()

    def _background(self) -> ThreadPoolExecutor:
        with self._guard:
            if self._executor is None:
                # A rebuild is pure Python for tens of ms; with CPython's default 5 ms switch
                # interval the event loop waits up to 5 ms for the GIL after every system call
                # while one runs (the convoy effect), which made the map's p99 latency. A
                # shorter interval hands the GIL back to the request path sooner; the rebuild,
                # which nobody waits for, takes a little longer.
                if sys.getswitchinterval() > GIL_SWITCH_INTERVAL_S:
                    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
                self._executor = ThreadPoolExecutor(1, thread_name_prefix="response-cache")
            return self._executor


def _encode(value: Any) -> bytes:
    """Compact UTF-8 JSON. pydantic-core's serializer (Rust) takes plain data and Pydantic
    models alike, ~7x faster than :func:`json.dumps` on a 1 MB GeoJSON, with the same bytes;
    NaN and infinities become ``null`` (JSON has neither)."""
    try:
        return pydantic_core.to_json(value, inf_nan_mode="null")
    except pydantic_core.PydanticSerializationError:
        text = json.dumps(jsonable_encoder(value), ensure_ascii=False, separators=(",", ":"))
        return text.encode()


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    # Weak comparison (RFC 9110 §13.1.2): W/"x" matches "x" (a proxy may have weakened it).
    return any(tag.strip().removeprefix("W/") == etag for tag in header.split(","))


def _accepts_gzip(header: str | None) -> bool:
    for part in (header or "").lower().split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip() == "gzip":
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


async def cached_json(
    request: Request,
    principal: Principal,
    build: Callable[[Session, Any], Any],
    *,
    version: Callable[..., Hashable] | None = None,
    media_type: str = "application/json",
) -> Response:
    """A JSON response for ``request``, built once per data version and TTL per jurisdiction.

    For ``async`` endpoints whose user is a :class:`~fangxun.api.principal.Principal`: a hit
    runs entirely on the event loop (no thread-pool hop, no database session), since the data
    version is memoised per worker for :data:`VERSION_MEMO_S`. On a miss the work runs in the
    thread pool with its own session and the user loaded again there (inactive or deleted: 401).

    ``build(session, user)`` returns the document (plain JSON types, Pydantic models, or
    pre-encoded bytes); ``version(session=...)`` a cheap query whose result changes whenever
    the document's data does (a module-level function: it names the memo). When only the TTL ran
    out, the rebuild runs in the background. Answers ``304`` to a matching ``If-None-Match`` and
    sends the gzipped bytes to clients that accept them. Builds every time when the app has no
    cache (``app.state.response_cache``).
    """
    cache: ResponseCache | None = getattr(request.app.state, "response_cache", None)
    if cache is None:
        cache = ResponseCache(0.0)
    factory = request.app.state.session_factory
    key = (
        request.url.path,
        tuple(sorted(request.query_params.multi_items())),
        str(principal.role),
        principal.unit_id,
        principal.district_wide,  # a scoped and a district-wide inspector see different data
    )

    def build_with_own_session() -> Any:
        with factory() as own:
            try:
                return build(own, principal.load(own))
            finally:
                own.rollback()

    entry: CachedBody | None = None
    if cache.ttl_s <= 0:
        entry = await run_in_threadpool(
            lambda: CachedBody.encode(build_with_own_session(), None, 0.0)
        )
    else:
        current: Hashable = None
        if version is not None:
            read_version = version

            def version_with_own_session() -> Hashable:
                with factory() as own:
                    try:
                        return read_version(session=own)
                    finally:
                        own.rollback()

            known, current = cache.memoised_version(version)
            if not known:
                current = await run_in_threadpool(
                    cache.read_version, version, version_with_own_session
                )
        # A hit, even one whose TTL ran out (its rebuild goes to the background), is answered
        # here on the event loop: a thread-pool hop per request while a rebuild holds the GIL
        # made the latency tail.
        entry = cache.lookup(key, current, build_with_own_session)
        if entry is None:  # missing or changed: wait for the one build, off the loop
            entry = await run_in_threadpool(
                lambda: cache.get_or_build(
                    key,
                    build_with_own_session,
                    version=current,
                    refresh=build_with_own_session,
                )
            )
    # Private: the body depends on who asks; no-cache: a client may keep it but must revalidate
    # (cheap: a 304), since the map polls for the latest values.
    headers = {"ETag": entry.etag, "Cache-Control": "private, no-cache", "Vary": "Accept-Encoding"}
    if _etag_matches(request.headers.get("if-none-match"), entry.etag):
        return Response(status_code=304, headers=headers)
    if entry.gzipped is not None and _accepts_gzip(request.headers.get("accept-encoding")):
        headers["Content-Encoding"] = "gzip"
        return Response(entry.gzipped, media_type=media_type, headers=headers)
    return Response(entry.body, media_type=media_type, headers=headers)


# --- writes made through this process --------------------------------------------------------

_WRITE_FLAG = "fangxun_wrote"
_AUTH_FLAG = "fangxun_wrote_auth"
#: Statements that never write (anything else counts as a write: over-invalidating is safe).
_READ_ONLY_PREFIXES = ("SELECT", "SHOW", "BEGIN", "SAVEPOINT", "RELEASE", "ROLLBACK", "PRAGMA")
#: Tables whose rows decide who a token belongs to (fangxun.api.principal).
_AUTH_TABLES = ("org_auth_token", "org_user")
_watchers: weakref.WeakKeyDictionary[Engine, weakref.WeakSet[Any]] = weakref.WeakKeyDictionary()
_watchers_guard = threading.Lock()


def watch_writes(engine: Engine, subscriber: Any) -> None:
    """Call ``subscriber.on_write(auth=...)`` whenever a transaction that wrote commits on
    ``engine`` (``auth`` true when it wrote a user or token row), so this process's caches drop
    what the write may have changed at once. Called at the commit and again when the connection
    returns to the pool (after the commit has landed), so a reader racing the commit cannot
    keep the old version. Subscribers are held weakly. Writes by other processes are not seen:
    those show within :data:`VERSION_MEMO_S` (and the principal cache's TTL)."""
    with _watchers_guard:
        subscribers = _watchers.get(engine)
        if subscribers is None:
            subscribers = weakref.WeakSet()
            _watchers[engine] = subscribers
            _install_write_listeners(engine, subscribers)
        subscribers.add(subscriber)


def _install_write_listeners(engine: Engine, subscribers: weakref.WeakSet[Any]) -> None:
    def notify(auth: bool) -> None:
        for subscriber in list(subscribers):
            subscriber.on_write(auth=auth)

    def before_cursor_execute(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        head = statement.lstrip()[:9].upper()
        if head.startswith(_READ_ONLY_PREFIXES):
            return
        info = conn.info
        info[_WRITE_FLAG] = True
        if not info.get(_AUTH_FLAG) and any(t in statement for t in _AUTH_TABLES):
            info[_AUTH_FLAG] = True

    def commit(conn: Any) -> None:
        info = conn.info
        if info.get(_WRITE_FLAG):
            notify(bool(info.get(_AUTH_FLAG)))

    def rollback(conn: Any) -> None:
        info = conn.info
        info.pop(_WRITE_FLAG, None)
        info.pop(_AUTH_FLAG, None)

    def checkin(_dbapi_conn: Any, record: Any) -> None:
        info = record.info
        if info.pop(_WRITE_FLAG, None):
            notify(bool(info.pop(_AUTH_FLAG, None)))

    event.listen(engine, "before_cursor_execute", before_cursor_execute)
    event.listen(engine, "commit", commit)
    event.listen(engine, "rollback", rollback)
    event.listen(engine, "checkin", checkin)


__all__ = [
    "GZIP_MIN_BYTES",
    "VERSION_MEMO_S",
    "CachedBody",
    "ResponseCache",
    "cached_json",
    "watch_writes",
]
