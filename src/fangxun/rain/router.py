"""HTTP routes of rain grids: upload a radar/QPF file into the frame store, list the index."""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile

from fangxun.api.deps import CurrentUser, SessionDep, SettingsDep, require_role
from fangxun.errors import ValidationFailed
from fangxun.org.models import Role, User
from fangxun.rain import service
from fangxun.rain.importers import IMPORTERS, parse_option
from fangxun.rain.schemas import IngestRead, RainFrameRead

router = APIRouter(prefix="/rain", tags=["rain"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not logged in"},
    403: {"description": "Role may not upload rain grids"},
    422: {"description": "File refused (named in the message)"},
}
_UPLOADERS = require_role(Role.admin, Role.district, Role.duty)


@router.post("/frames", response_model=IngestRead, responses=_ERRORS)
def upload_frames(
    user: Annotated[User, Depends(_UPLOADERS)],
    session: SessionDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="A radar composite or QPF grid file")],
    importer: Annotated[str, Form(description="Importer name, e.g. odim_hdf5, netcdf")],
    feed: Annotated[str, Form(min_length=1, max_length=64)],
    kind: Annotated[str, Form(pattern="^(QPE|QPF)$")] = "QPE",
    options: Annotated[list[str] | None, Form(description="KEY=VALUE importer options")] = None,
) -> IngestRead:
    """Store the frames of one uploaded file; a refused file answers 422 naming it."""
    if importer not in IMPORTERS:
        raise ValidationFailed(f"unknown importer {importer!r}", loc=("importer",))
    name = Path(file.filename or "upload").name
    opts = dict(parse_option(o) for o in options or [])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(file.file.read())
        result = service.ingest_file(
            session=session,
            data_dir=Path(settings.data_dir),
            path=path,
            importer=importer,
            feed=feed,
            kind=kind,  # type: ignore[arg-type]
            options=opts,
        )
    if result.error:
        raise ValidationFailed(result.error.replace(str(path), name), loc=("file", name))
    return IngestRead(file=name, stored=result.stored, repeated=result.repeated, error=None)


@router.get("/frames", response_model=list[RainFrameRead], responses=_ERRORS)
def list_frames(
    user: CurrentUser,
    session: SessionDep,
    feed: str | None = None,
    kind: Annotated[str | None, Query(pattern="^(QPE|QPF|nowcast)$")] = None,
    variant: Annotated[str, Query(pattern="^(raw|adjusted)$")] = "raw",
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[RainFrameRead]:
    """The frame index in valid-time order."""
    rows = service.list_frames(
        session=session, feed=feed, kind=kind, variant=variant, start=start, end=end
    )
    return [RainFrameRead.model_validate(r) for r in rows]
