"""File downloads served by the API and the web shell: one place for media types and headers."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Response

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
GEOJSON = "application/geo+json"
ICALENDAR = "text/calendar; charset=utf-8"
PDF = "application/pdf"


def download(
    content: bytes | str, media_type: str, filename: str, *, inline: bool = False
) -> Response:
    """``content`` as a file named ``filename`` (``inline``: shown by the browser, else saved)."""
    disposition = "inline" if inline else "attachment"
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f'{disposition}; filename="{filename}"'},
    )


def geojson_download(body: dict[str, Any], filename: str) -> Response:
    """A GeoJSON object as a file (UTF-8, Chinese kept readable, indented for people)."""
    return download(json.dumps(body, ensure_ascii=False, indent=1), GEOJSON, filename)
