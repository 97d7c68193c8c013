"""ASGI middleware of the whole application: security headers and request-body limits.

Both are plain ASGI (no ``BaseHTTPMiddleware``) so they add microseconds, not a task per request.

* :class:`SecurityHeadersMiddleware` adds ``Content-Security-Policy`` (scripts only from this
  site: no inline scripts, no ``eval``; ``frame-ancestors 'none'``), ``X-Content-Type-Options``,
  ``Referrer-Policy``, ``X-Frame-Options`` and ``Permissions-Policy`` to every response. The
  Swagger UI at ``/api/docs`` loads its code from a CDN with an inline bootstrap script, so it
  gets a policy of its own that allows exactly that.
* :class:`BodyLimitMiddleware` refuses a body larger than its limit with 413 (declared
  ``Content-Length`` first, then the bytes actually received, for chunked uploads), and a JSON
  body nested deeper than ``max_json_depth`` with 422, both as RFC 9457 problems, before any
  handler or parser sees them. JSON and form bodies have a small limit, multipart uploads a large
  one (the upload routes add their own per-file limits and type checks).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final
from urllib.parse import urlsplit

from starlette.exceptions import HTTPException

from fangxun.jsonsafe import json_depth

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_DOCS_PREFIX: Final = "/api/docs"


def content_security_policy(basemap_url: str | None = None) -> str:
    """The CSP of the web pages and API. An online basemap's origin is allowed for images.

    >>> "script-src 'self'" in content_security_policy()
    True
    >>> "https://tiles.example" in content_security_policy("https://tiles.example/{z}/{x}/{y}.png")
    True
    """
    img = ["'self'", "data:", "blob:"]
    if basemap_url and basemap_url.startswith(("http://", "https://")):
        parts = urlsplit(basemap_url.replace("{s}", "a"))
        host = parts.netloc.replace("a.", "*.", 1) if "{s}" in basemap_url else parts.netloc
        img.append(f"{parts.scheme}://{host}")
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            # Inline style attributes are used by templates and Leaflet; styles cannot run code.
            "style-src 'self' 'unsafe-inline'",
            f"img-src {' '.join(img)}",
            "connect-src 'self'",
            "font-src 'self' data:",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


#: The Swagger UI page (fangxun.api.docs): every asset from this server; Swagger UI sets inline
#: styles and shows data: images.
DOCS_CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; object-src 'none'; "
    "base-uri 'self'"
)


class SecurityHeadersMiddleware:
    """Adds the security headers to every HTTP response (headers a handler set are kept)."""

    def __init__(self, app: ASGIApp, *, csp: str, hsts_max_age_s: int = 0) -> None:
        self.app = app
        self.headers: list[tuple[bytes, bytes]] = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"strict-origin-when-cross-origin"),
            (b"x-frame-options", b"DENY"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=(self)"),
            (b"cross-origin-opener-policy", b"same-origin"),
        ]
        if hsts_max_age_s > 0:
            # HTTPS only from now on (browsers ignore it on plain HTTP, so a demo on http://
            # localhost is unaffected); the app chooses when (outside development).
            value = f"max-age={hsts_max_age_s}; includeSubDomains"
            self.headers.append((b"strict-transport-security", value.encode("latin-1")))
        self.csp = csp.encode("latin-1")
        self.docs_csp = DOCS_CSP.encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = self.docs_csp if scope.get("path", "").startswith(_DOCS_PREFIX) else self.csp

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in [*self.headers, (b"content-security-policy", csp)]:
                    if name not in present:
                        headers.append((name, value))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _send_problem(
    send: Send, *, status: int, code: str, title: str, detail: str, path: str
) -> None:
    body = json.dumps(
        {
            "type": f"urn:fangxun:problem:{code}",
            "title": title,
            "status": status,
            "detail": detail,
            "code": code,
            "instance": path,
        },
        ensure_ascii=False,
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    """Refuses oversized bodies (413) and over-deep JSON (422) before the application reads them.

    ``max_body_bytes`` applies to JSON, form and any other non-multipart body;
    ``max_upload_bytes`` to ``multipart/form-data``; ``max_json_depth`` counts nested
    arrays/objects.
    """

    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, max_upload_bytes: int, max_json_depth: int
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes
        self.max_json_depth = max_json_depth

    def _limit_for(self, content_type: str) -> int:
        if content_type.startswith("multipart/form-data"):
            return self.max_upload_bytes
        return self.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        content_type = headers.get(b"content-type", b"").decode("latin-1").lower()
        limit = self._limit_for(content_type)
        path = scope.get("path", "")
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            logger.warning(
                "refused %s %s: body of %s bytes > %d",
                scope["method"],
                path,
                declared.decode(),
                limit,
            )
            await _send_problem(
                send,
                status=413,
                code="content_too_large",
                title="Content too large",
                detail=f"the request body is {int(declared)} bytes; at most {limit} are accepted",
                path=path,
            )
            return
        is_json = "json" in content_type
        if is_json:
            # Read the (small) JSON body whole, check its depth, then hand it on.
            chunks: list[bytes] = []
            size = 0
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    await _send_problem(
                        send,
                        status=413,
                        code="content_too_large",
                        title="Content too large",
                        detail=f"the request body is over {limit} bytes",
                        path=path,
                    )
                    return
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
            body = b"".join(chunks)
            depth = json_depth(body)
            if depth > self.max_json_depth:
                logger.warning("refused %s %s: JSON nested %d deep", scope["method"], path, depth)
                await _send_problem(
                    send,
                    status=422,
                    code="json_too_deep",
                    title="Validation failed",
                    detail=(
                        f"the JSON body is nested {depth} levels deep; "
                        f"at most {self.max_json_depth} are accepted"
                    ),
                    path=path,
                )
                return
            sent = False

            async def replay() -> Message:
                nonlocal sent
                if not sent:
                    sent = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            await self.app(scope, replay, send)
            return

        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    logger.warning(
                        "refused %s %s: streamed body over %d bytes", scope["method"], path, limit
                    )
                    # An HTTPException passes FastAPI's body parsing unchanged and is rendered
                    # as a problem by the app's handlers.
                    raise HTTPException(413, f"the request body is over {limit} bytes")
            return message

        await self.app(scope, counting_receive, send)


__all__ = [
    "DOCS_CSP",
    "BodyLimitMiddleware",
    "SecurityHeadersMiddleware",
    "content_security_policy",
    "json_depth",
]
