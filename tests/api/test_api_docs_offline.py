"""The API docs page is served from this server alone: it references only local assets, they load,
the CSP allows no other origin, and in Chromium (no network needed) Swagger UI draws the
operations."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

_REF = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", re.I)


def test_docs_page_uses_only_local_assets(client: TestClient) -> None:
    response = client.get("/api/docs")
    assert response.status_code == 200
    page = response.text
    refs = _REF.findall(page)
    assert any(r.endswith("swagger-ui-bundle.js") for r in refs), refs
    assert any(r.endswith("swagger-ui.css") for r in refs), refs
    for ref in refs:
        assert ref.startswith("/") and not ref.startswith("//"), f"non-local asset {ref}"
        asset = client.get(ref)
        assert asset.status_code == 200, ref
        assert len(asset.content) > 0, ref
    assert "<script>" not in page  # no inline script: the CSP forbids it
    csp = response.headers["content-security-policy"]
    assert "https:" not in csp and "http://" not in csp and "cdn" not in csp
    assert "script-src 'self';" in csp
    assert "openapi.json" in page
    assert client.get("/api/openapi.json").status_code == 200


@pytest.mark.browser
def test_docs_page_renders_in_chromium(page: Any, live_server: Any) -> None:
    failed: list[str] = []
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.on(
        "console", lambda m: failed.append(m.text) if "Content Security Policy" in m.text else None
    )
    page.goto(live_server.url + "/api/docs")
    page.wait_for_selector(".opblock", timeout=20_000)
    assert page.locator(".opblock").count() > 10
    assert not page.locator(".errors-wrapper").is_visible()
    assert failed == []
