"""Attachments of a point (photos and documents, stored by SHA-256)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from fangxun.audit.service import (
    record_create,
)
from fangxun.db.queries import flush_or_conflict
from fangxun.errors import (
    NotFoundError,
    ValidationFailed,
)
from fangxun.hazards import attachments as files
from fangxun.hazards.models import (
    HazardAttachment,
    InspectionRecord,
    Rectification,
)
from fangxun.hazards.service.common import (
    HazardAction,
    _require,
    can,
)
from fangxun.hazards.service.points import (
    get_point,
)
from fangxun.org.permissions import Actor


def add_attachment(
    *,
    session: Session,
    data_dir: Path,
    point_id: int,
    filename: str,
    content: bytes,
    actor: Actor,
    inspection_id: int | None = None,
    rectification_id: int | None = None,
) -> HazardAttachment:
    """Store a photo or document of a point (or of one of its inspections or rectifications).

    The type is read from the content (JPEG, PNG, WebP, PDF) and the size limited to
    :data:`fangxun.hazards.attachments.MAX_ATTACHMENT_BYTES` bytes.
    """
    point = get_point(session=session, point_id=point_id, actor=actor)
    if not (can(actor, HazardAction.manage_points) or can(actor, HazardAction.record_inspections)):
        _require(actor, HazardAction.manage_points, "add attachments")
    record = session.get(InspectionRecord, inspection_id) if inspection_id is not None else None
    rect = session.get(Rectification, rectification_id) if rectification_id is not None else None
    for obj_id, found, name in (
        (inspection_id, record, "inspection_id"),
        (rectification_id, rect, "rectification_id"),
    ):
        if obj_id is not None and (found is None or found.point_id != point.id):
            raise ValidationFailed(
                f"{name.removesuffix('_id')} {obj_id} does not exist on this point",
                loc=("body", name),
            )
    clean_name = Path(filename or "file").name[:255] or "file"
    media_type = files.check_content(content, filename=clean_name)
    digest = files.store(data_dir, content)
    attachment = HazardAttachment(
        point_id=point.id,
        inspection_id=inspection_id,
        rectification_id=rectification_id,
        sha256=digest,
        filename=clean_name,
        content_type=media_type,
        size_bytes=len(content),
        uploaded_by=actor.username if actor is not None else "system",
    )
    session.add(attachment)
    flush_or_conflict(session, "attachment")
    record_create(session=session, actor=actor, obj=attachment)
    return attachment


def list_attachments(*, session: Session, point_id: int, actor: Actor) -> list[HazardAttachment]:
    """The attachments of a point, oldest first."""
    point = get_point(session=session, point_id=point_id, actor=actor)
    stmt = select(HazardAttachment).where(HazardAttachment.point_id == point.id)
    return list(session.scalars(stmt.order_by(HazardAttachment.id)))


def get_attachment(*, session: Session, attachment_id: int, actor: Actor) -> HazardAttachment:
    """An attachment whose point is in the actor's jurisdiction."""
    attachment = session.get(HazardAttachment, attachment_id)
    if attachment is None:
        raise NotFoundError(f"attachment {attachment_id} not found")
    try:
        get_point(session=session, point_id=attachment.point_id, actor=actor)
    except NotFoundError:
        raise NotFoundError(f"attachment {attachment_id} not found") from None
    return attachment
