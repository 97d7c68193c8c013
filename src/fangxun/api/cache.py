"""A short-lived, per-jurisdiction cache of the map's heavy read responses (storm-day load).

On a storm day every open map polls the same few documents (hazard points, stations with their
latest values) many times a second, and building them costs far more than sending them. The
cache keeps the *encoded* body for ``Settings.response_cache_ttl_s`` seconds (default 2 s; 0
turns it off), keyed by the request path and query and by what decides what the user may see
(role and unit). Authentication still runs on every request; only building the body is shared.
Concurrent misses of one key build it once: the others wait when nothing is cached yet, and
are served the previous body while a newer one is being built (stale-while-revalidate).

Data can be at most ``ttl`` seconds older than the database: sensors report every few minutes,
so 2 s is invisible to a reader but turns hundreds of builds per second into one.

>>> cache = ResponseCache(ttl_s=60)
>>> calls = []
>>> body = cache.get_or_build(("k",), lambda: calls.append(1) or {"a": 1})
>>> body == cache.get_or_build(("k",), lambda: calls.append(1) or {"a": 1}), len(calls)
(True, 1)
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import Response

#: Most entries kept; the oldest are dropped beyond (one per jurisdiction × document).
MAX_ENTRIES = 512


class ResponseCache:
    """Encoded JSON bodies by key, each valid ``ttl_s`` seconds (0: never cached)."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._entries: dict[Hashable, tuple[float, bytes]] = {}
        self._locks: dict[Hashable, threading.Lock] = {}
        self._guard = threading.Lock()

    def clear(self) -> None:
        """Forget every entry (after a change made in this process, for instance)."""
        with self._guard:
            self._entries.clear()

    def get_or_build(self, key: Hashable, build: Callable[[], Any]) -> bytes:
        """The encoded body for ``key``: cached when fresh, else ``build()`` encoded as JSON."""
        if self.ttl_s <= 0:
            return _encode(build())
        hit = self._entries.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        if hit is not None and not lock.acquire(blocking=False):
            # Another request is rebuilding this document: serve the previous one rather than
            # queue behind the build (a queue of waiters holding DB connections starves the pool).
            return hit[1]
        if hit is None:
            lock.acquire()
        try:
            hit = self._entries.get(key)  # built by another thread while this one waited
            if hit is not None and hit[0] > time.monotonic():
                return hit[1]
            body = _encode(build())
            with self._guard:
                if len(self._entries) >= MAX_ENTRIES:
                    oldest = min(self._entries, key=lambda k: self._entries[k][0])
                    del self._entries[oldest]
                self._entries[key] = (time.monotonic() + self.ttl_s, body)
            return body
        finally:
            lock.release()


def _encode(value: Any) -> bytes:
    return json.dumps(jsonable_encoder(value), ensure_ascii=False, separators=(",", ":")).encode()


def cached_json(
    request: Request,
    user: Any,
    build: Callable[[], Any],
    *,
    media_type: str = "application/json",
) -> Response:
    """A JSON response for ``request`` built once per TTL per jurisdiction (role, unit).

    Falls back to building every time when the app has no cache (``app.state.response_cache``).
    """
    cache: ResponseCache | None = getattr(request.app.state, "response_cache", None)
    key = (
        request.url.path,
        tuple(sorted(request.query_params.multi_items())),
        str(getattr(user, "role", "")),
        getattr(user, "unit_id", None),
    )
    body = cache.get_or_build(key, build) if cache is not None else _encode(build())
    return Response(body, media_type=media_type)


__all__ = ["ResponseCache", "cached_json"]
