"""The API documentation page (Swagger UI) served entirely from this server, so it works offline
(a command room's network may be cut in a storm) and under a CSP that allows no other origin.

The Swagger UI assets come from the ``fastapi-offline`` wheel's static folder (Swagger UI 5, which
reads the OpenAPI 3.1 documents FastAPI writes); the start-up script is our own static file
because the CSP forbids inline scripts.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Final

import fastapi_offline
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

#: Swagger UI's files (swagger-ui-bundle.js, swagger-ui.css, favicon.png).
ASSETS_DIR: Final = Path(fastapi_offline.__file__).resolve().parent / "static"
DOCS_URL: Final = "/api/docs"
ASSETS_URL: Final = f"{DOCS_URL}/assets"
INIT_SCRIPT_URL: Final = "/static/js/api_docs.js"


def docs_html(*, title: str, openapi_url: str) -> str:
    """The page: local CSS and scripts only; the OpenAPI URL passed in a data attribute."""
    t = html.escape(title)
    return f"""<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>{t} · API</title>
<link rel="icon" href="{ASSETS_URL}/favicon.png">
<link rel="stylesheet" href="{ASSETS_URL}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{html.escape(openapi_url)}"></div>
<script src="{ASSETS_URL}/swagger-ui-bundle.js"></script>
<script src="{INIT_SCRIPT_URL}"></script>
</body>
</html>
"""


def install_docs(app: FastAPI, *, openapi_url: str) -> None:
    """Serve ``/api/docs`` and its assets (create the app with ``docs_url=None``)."""
    page = docs_html(title=app.title, openapi_url=openapi_url)

    @app.get(DOCS_URL, include_in_schema=False)
    async def api_docs() -> HTMLResponse:
        return HTMLResponse(page)

    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="api-docs-assets")
