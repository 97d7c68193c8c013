"""/metrics and HSTS (issue 20, item 12): without a token, /metrics answers loopback clients only
(configurable); a token opens it from anywhere; HSTS is sent outside development only."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from fangxun.api.app import create_app
from fangxun.config import Settings

REMOTE = ("198.51.100.7", 40000)
LOOPBACK = ("127.0.0.1", 40000)
LOOPBACK6 = ("::1", 40000)


def _get(settings: Settings, engine: Engine, client: tuple[str, int], **headers: str) -> int:
    with TestClient(create_app(settings, engine=engine), client=client) as c:
        return c.get("/metrics", headers=headers).status_code


def test_metrics_without_a_token_answer_loopback_only(settings: Settings, engine: Engine) -> None:
    assert settings.metrics_token is None
    assert _get(settings, engine, REMOTE) == 403
    assert _get(settings, engine, LOOPBACK) == 200
    assert _get(settings, engine, LOOPBACK6) == 200
    opened = settings.model_copy(update={"metrics_allow_remote": True})
    assert _get(opened, engine, REMOTE) == 200


def test_metrics_with_a_token_answer_the_token_from_anywhere(
    settings: Settings, engine: Engine
) -> None:
    guarded = settings.model_copy(update={"metrics_token": "scrape-me-0123456789"})
    assert _get(guarded, engine, REMOTE) == 401
    assert _get(guarded, engine, LOOPBACK) == 401
    good = "Bearer scrape-me-0123456789"
    assert _get(guarded, engine, REMOTE, Authorization=good) == 200


@pytest.mark.parametrize(
    ("environment", "sent"), [("production", True), ("test", True), ("development", False)]
)
def test_hsts_outside_development(
    settings: Settings, engine: Engine, environment: str, sent: bool
) -> None:
    update: dict[str, object] = {"environment": environment}
    with TestClient(create_app(settings.model_copy(update=update), engine=engine)) as client:
        for path in ("/api/v1/health", "/login"):
            value = client.get(path, follow_redirects=False).headers.get(
                "strict-transport-security"
            )
            if sent:
                assert value == f"max-age={settings.hsts_max_age_s}; includeSubDomains"
            else:
                assert value is None
    off = settings.model_copy(update={"environment": "production", "hsts_max_age_s": 0})
    with TestClient(create_app(off, engine=engine)) as client:
        assert "strict-transport-security" not in client.get("/api/v1/health").headers
