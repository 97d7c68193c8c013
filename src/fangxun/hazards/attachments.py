"""Attachment storage: files on disk under ``<data_dir>/attachments/``, named by SHA-256.

The type is decided from the file's first bytes (its magic number), never from the name or the
declared media type, and the size is limited, so a renamed executable is not stored as a photo.

>>> detect_type(b"%PDF-1.7 ...")
'application/pdf'
>>> detect_type(b"MZ...") is None
True
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Final

from fangxun.errors import ValidationFailed

#: Largest attachment accepted, bytes (10 MiB: a phone photo, a scanned page).
MAX_ATTACHMENT_BYTES: Final = 10 * 1024 * 1024
#: Media types accepted, with their magic numbers.
ALLOWED_TYPES: Final[dict[str, str]] = {
    "image/jpeg": "JPEG photo",
    "image/png": "PNG image",
    "image/webp": "WebP image",
    "application/pdf": "PDF document",
}


def detect_type(content: bytes) -> str | None:
    """The media type of ``content`` from its first bytes, or None when it is not accepted."""
    if content.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(content) >= 12 and content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    if content.startswith(b"%PDF-"):
        return "application/pdf"
    return None


def attachments_dir(data_dir: Path) -> Path:
    """Where attachments are kept: ``<data_dir>/attachments``."""
    return Path(data_dir) / "attachments"


def path_for(data_dir: Path, sha256: str) -> Path:
    """The file of the attachment with hash ``sha256`` (two-level fan-out keeps folders small)."""
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
    return attachments_dir(data_dir) / sha256[:2] / sha256


def check_content(content: bytes, *, filename: str) -> str:
    """Check size and type; returns the detected media type or raises :class:`ValidationFailed`."""
    if not content:
        raise ValidationFailed(f"{filename}: the file is empty", loc=("body", "file"))
    if len(content) > MAX_ATTACHMENT_BYTES:
        raise ValidationFailed(
            f"{filename}: {len(content)} bytes is more than the limit of "
            f"{MAX_ATTACHMENT_BYTES} bytes",
            loc=("body", "file"),
        )
    media_type = detect_type(content)
    if media_type is None:
        raise ValidationFailed(
            f"{filename}: not an accepted file type (accepted: "
            f"{', '.join(ALLOWED_TYPES.values())}; "
            "the type is read from the content, not the name)",
            loc=("body", "file"),
        )
    return media_type


def store(data_dir: Path, content: bytes) -> str:
    """Write ``content`` (if not already there) and return its SHA-256 hex digest."""
    digest = hashlib.sha256(content).hexdigest()
    target = path_for(data_dir, digest)
    if target.exists():
        return digest
    target.parent.mkdir(parents=True, exist_ok=True)
    # Temporary file and rename: a reader never sees half a photo.
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, target)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    return digest
