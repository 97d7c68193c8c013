"""Uploads are judged by their bytes, not by the declared type or the name: incident photos and
hazard-point attachments refuse what is not a JPEG, PNG or WebP image (attachments: or a PDF),
store what is one under the type its bytes show, and refuse what is too large."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import Engine, func, select

from fangxun.api.app import create_app
from fangxun.config import Settings
from fangxun.db import session_scope
from fangxun.incidents.models import IncidentPhoto


def _image(fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buffer, format=fmt)
    return buffer.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


#: A valid PNG header that claims 100 000 × 100 000 pixels (a decompression bomb, 80 bytes).
PNG_BOMB = (
    b"\x89PNG\r\n\x1a\n"
    + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0))
    + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 10))
    + _png_chunk(b"IEND", b"")
)

#: Bytes that a client may declare as a photo. Each must be refused with a reason.
NOT_PHOTOS = {
    "html": b"<html><script>alert(1)</script></html>",
    "exe": b"MZ\x90\x00" + b"\x00" * 64,
    "svg": b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
    "gif": b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",
    "pdf": b"%PDF-1.7\n%%EOF",
    "jpeg-magic-only": b"\xff\xd8\xff\xe0" + b"\x00" * 64,
    "png-magic-only": b"\x89PNG\r\n\x1a\n" + b"junk" * 16,
    "png-bomb": PNG_BOMB,
}


@pytest.fixture
def incident(
    client: TestClient, make_unit: object, make_user: object
) -> tuple[int, dict[str, str]]:
    district = make_unit("D")  # type: ignore[operator]
    office = make_unit("S1", "street_office", parent=district)  # type: ignore[operator]
    boss = make_user("district", district)  # type: ignore[operator]
    headers = boss.headers(client)
    made = client.post(
        "/api/v1/incidents",
        json={"kind": "ponding", "title": "下穿积水", "unit_id": office},
        headers=headers,
    )
    assert made.status_code == 201, made.text
    return made.json()["id"], headers


@pytest.mark.parametrize("name", sorted(NOT_PHOTOS))
def test_photo_declared_as_jpeg_but_not_an_image_is_refused(
    client: TestClient, engine: Engine, incident: tuple[int, dict[str, str]], name: str
) -> None:
    incident_id, headers = incident
    response = client.post(
        f"/api/v1/incidents/{incident_id}/photos",
        files={"file": (f"{name}.jpg", NOT_PHOTOS[name], "image/jpeg")},
        headers=headers,
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["errors"][0]["loc"] == ["body", "file"]
    assert "JPEG, PNG or WebP" in problem["detail"] or "cannot be read" in problem["detail"]
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(IncidentPhoto)) == 0


@pytest.mark.parametrize(("fmt", "media_type"), [("PNG", "image/png"), ("WEBP", "image/webp")])
def test_photo_stored_and_served_under_the_type_its_bytes_show(
    client: TestClient,
    settings: Settings,
    incident: tuple[int, dict[str, str]],
    fmt: str,
    media_type: str,
) -> None:
    incident_id, headers = incident
    data = _image(fmt)
    response = client.post(
        f"/api/v1/incidents/{incident_id}/photos",
        # Declared wrongly on purpose: a phone app that always says JPEG.
        files={"file": ("photo.jpg", data, "image/jpeg")},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["content_type"] == media_type
    served = client.get(
        f"/api/v1/incidents/{incident_id}/photos/{response.json()['id']}", headers=headers
    )
    assert served.status_code == 200
    assert served.headers["content-type"] == media_type and served.content == data
    stored = list(Path(settings.data_dir, "incidents", str(incident_id)).iterdir())
    assert [p.suffix for p in stored] == [".png" if fmt == "PNG" else ".webp"]


def test_real_jpeg_accepted(client: TestClient, incident: tuple[int, dict[str, str]]) -> None:
    incident_id, headers = incident
    response = client.post(
        f"/api/v1/incidents/{incident_id}/photos",
        files={"file": ("现场.jpeg", _image("JPEG"), "application/octet-stream")},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["content_type"] == "image/jpeg"


def test_oversized_photo_refused_before_it_is_read(
    settings: Settings, engine: Engine, incident: tuple[int, dict[str, str]]
) -> None:
    incident_id, headers = incident
    limited = settings.model_copy(update={"max_upload_bytes": 64 * 1024})
    with TestClient(create_app(limited, engine=engine)) as small:
        response = small.post(
            f"/api/v1/incidents/{incident_id}/photos",
            files={"file": ("big.png", _image("PNG") + b"\x00" * 100_000, "image/png")},
            headers=headers,
        )
    assert response.status_code == 413, response.text


@pytest.mark.parametrize("name", ["html", "exe", "svg", "gif"])
def test_attachment_declared_as_image_but_not_one_is_refused(
    client: TestClient, make_unit: object, make_user: object, name: str
) -> None:
    from fangxun.hazards.attachments import detect_type

    assert detect_type(NOT_PHOTOS[name]) is None
    district = make_unit("D")  # type: ignore[operator]
    admin = make_user("admin", district)  # type: ignore[operator]
    headers = admin.headers(client)
    point = client.post(
        "/api/v1/hazard-points",
        json={
            "code": "HP-U1",
            "name": "下穿",
            "kind": "underpass",
            "lon": 113.6,
            "lat": 34.8,
            "unit_id": district,
        },
        headers=headers,
    )
    assert point.status_code == 201, point.text
    response = client.post(
        f"/api/v1/hazard-points/{point.json()['id']}/attachments",
        files={"file": (f"{name}.png", NOT_PHOTOS[name], "image/png")},
        headers=headers,
    )
    assert response.status_code == 422, response.text
