"""A per-jurisdiction cache of the map's hot read documents, as encoded (and gzipped) bytes.

On a storm day every open map polls the same few documents (hazard points, stations with their
latest values, active warnings) many times a second, and building them costs far more than
sending them. :func:`cached_json` keeps the *encoded* body, its gzip twin and its ``ETag``,
keyed by the request path and query and by what decides what the user may see (role and unit),
so a user is never served another jurisdiction's bytes. Authentication still runs on every
request; only building the body is shared.

An entry is used while both hold:

* its **data version** matches: the caller passes ``version``, a cheap query (the newest audit
  entry, row and observation ids: primary-key lookups, one round trip) that changes whenever an
  edit or an ingest changes the document. It runs on every request, in every worker process, so
  an edit is visible on the very next request whichever worker serves it;
* it is younger than ``Settings.response_cache_ttl_s`` (default 2 s; 0 turns caching off), which
  bounds how stale whatever the version does not see can be (time-dependent parts such as
  "overdue").

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
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pydantic_core
from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import Response
from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)

#: Most entries kept; the oldest are dropped beyond (one per jurisdiction × document).
MAX_ENTRIES = 512
#: Bodies at least this long are also kept gzipped, bytes (smaller ones gain nothing).
GZIP_MIN_BYTES = 1024
#: gzip level: 6 compresses a 1 MB GeoJSON to about a seventh in ~10 ms, once per build.
GZIP_LEVEL = 6


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

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._entries: dict[Hashable, CachedBody] = {}
        self._locks: dict[Hashable, threading.Lock] = {}
        self._guard = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None

    def clear(self) -> None:
        """Forget every entry (after a change made in this process, for instance)."""
        with self._guard:
            self._entries.clear()

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
        if hit is not None and hit.version == version and hit.expires > time.monotonic():
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
            if hit is not None and hit.version == version and hit.expires > time.monotonic():
                return hit
            return self._store(key, build(), version, hit)
        finally:
            lock.release()

    def _store(
        self, key: Hashable, value: Any, version: Hashable, hit: CachedBody | None
    ) -> CachedBody:
        entry = CachedBody.encode(value, version, time.monotonic() + self.ttl_s, hit)
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


def cached_json(
    request: Request,
    user: Any,
    session: Session,
    build: Callable[[Session, Any], Any],
    *,
    version: Callable[[Session], Hashable] | None = None,
    media_type: str = "application/json",
) -> Response:
    """A JSON response for ``request``, built once per data version and TTL per jurisdiction.

    ``build(session, user)`` returns the document (plain JSON types, Pydantic models, or
    pre-encoded bytes); ``version(session)``, a cheap query whose result changes whenever the
    document's data does. When only the TTL ran out, the rebuild runs in the background with
    its own session (from ``app.state.session_factory``) and the user loaded again there.
    Answers ``304`` to a matching ``If-None-Match`` and sends the gzipped bytes to clients that
    accept them. Builds every time when the app has no cache (``app.state.response_cache``).
    """
    cache: ResponseCache | None = getattr(request.app.state, "response_cache", None)
    if cache is None:
        cache = ResponseCache(0.0)
    key = (
        request.url.path,
        tuple(sorted(request.query_params.multi_items())),
        str(getattr(user, "role", "")),
        getattr(user, "unit_id", None),
    )
    current = version(session) if version is not None and cache.ttl_s > 0 else None
    factory = getattr(request.app.state, "session_factory", None)
    refresh: Callable[[], Any] | None = None
    if factory is not None and getattr(user, "id", None) is not None:
        user_type, user_id = type(user), user.id

        def rebuild_with_own_session() -> Any:
            with factory() as own:
                actor = own.get(user_type, user_id)
                if actor is None:  # deleted meanwhile: nothing to build for
                    raise LookupError(f"user {user_id} is gone")
                try:
                    return build(own, actor)
                finally:
                    own.rollback()

        refresh = rebuild_with_own_session

    entry = cache.get_or_build(key, lambda: build(session, user), version=current, refresh=refresh)
    # Private: the body depends on who asks; no-cache: a client may keep it but must revalidate
    # (cheap: a 304), since the map polls for the latest values.
    headers = {"ETag": entry.etag, "Cache-Control": "private, no-cache", "Vary": "Accept-Encoding"}
    if _etag_matches(request.headers.get("if-none-match"), entry.etag):
        return Response(status_code=304, headers=headers)
    if entry.gzipped is not None and _accepts_gzip(request.headers.get("accept-encoding")):
        headers["Content-Encoding"] = "gzip"
        return Response(entry.gzipped, media_type=media_type, headers=headers)
    return Response(entry.body, media_type=media_type, headers=headers)


__all__ = ["GZIP_MIN_BYTES", "CachedBody", "ResponseCache", "cached_json"]
