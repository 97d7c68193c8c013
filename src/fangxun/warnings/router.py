"""HTTP routes of warnings (``/warnings``) and of their CAP 1.2 alerts (``/cap``): parse, call,
render. The CAP feed and alerts are public (CAP exists to be passed on); everything else needs
a login."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from feedgen.feed import FeedGenerator

from fangxun.api.cache import cached_json
from fangxun.api.deps import CurrentPrincipal, CurrentUser, SessionDep, SettingsDep
from fangxun.api.problems import error_responses
from fangxun.warnings import approval, service
from fangxun.warnings.models import ProposalStatus
from fangxun.warnings.schemas import (
    EvaluationRead,
    ProposalApproveIn,
    ProposalRead,
    ProposalRejectIn,
    WarningChangeIn,
    WarningChangeRead,
    WarningDetail,
    WarningIssue,
    WarningLiftIn,
    WarningRead,
)

router = APIRouter(tags=["warnings"])
cap_router = APIRouter(tags=["CAP"])

_ERRORS = error_responses(401, 403, 404, 409, s409="A warning is already in force, or was lifted")
CAP_MEDIA_TYPE = "application/cap+xml"
ATOM_MEDIA_TYPE = "application/atom+xml"


def _detail(w: Any) -> WarningDetail:
    out = WarningDetail.model_validate(
        {**WarningRead.model_validate(w).model_dump(), "changes": list(w.changes)}
    )
    return out


@router.get("/warnings", response_model=list[WarningRead], responses=_ERRORS)
async def active(request: Request, user: CurrentPrincipal) -> Response:
    """Warnings in force in your jurisdiction, highest colour first (from the response cache:
    per jurisdiction, rebuilt when any warning changes; ``ETag``, gzip). Async: a cache hit
    touches neither the database nor the thread pool."""
    return await cached_json(
        request,
        user,
        lambda db, actor: [
            WarningRead.model_validate(w) for w in service.active_warnings(session=db, actor=actor)
        ],
        version=service.warnings_version,
    )


@router.get("/warnings/history", response_model=list[WarningChangeRead], responses=_ERRORS)
def history(
    response: Response,
    user: CurrentUser,
    session: SessionDep,
    since: Annotated[datetime | None, Query(description="ISO 8601 with offset")] = None,
    until: Annotated[datetime | None, Query(description="ISO 8601 with offset")] = None,
    warning_id: Annotated[int | None, Query(description="Only this warning's changes")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Any:
    """Every change of every warning in your jurisdiction, newest first (``X-Total-Count``)."""
    rows, total = service.warning_history(
        session=session,
        actor=user,
        since=since,
        until=until,
        warning_id=warning_id,
        limit=limit,
        offset=offset,
    )
    response.headers["X-Total-Count"] = str(total)
    return rows


@router.get("/warnings/geojson", responses=_ERRORS)
def points_geojson(user: CurrentUser, session: SessionDep) -> Any:
    """Warnings in force at hazard points, as GeoJSON points (lon/lat)."""
    return service.point_warnings_geojson(session=session, actor=user)


@router.post("/warnings/evaluate", response_model=EvaluationRead, responses=_ERRORS)
def evaluate(user: CurrentUser, session: SessionDep, settings: SettingsDep) -> Any:
    """Run the warning rules now (``admin``, ``district``, ``duty``)."""
    from fangxun.db.types import utcnow

    now = utcnow()
    changes = service.evaluate_now(session=session, actor=user, settings=settings, now=now)
    return EvaluationRead(
        evaluated_at=now, changes=[WarningChangeRead.model_validate(c) for c in changes]
    )


@router.get("/warnings/proposals", response_model=list[ProposalRead], responses=_ERRORS)
def proposals(
    user: CurrentUser,
    session: SessionDep,
    status: Annotated[ProposalStatus | None, Query(description="Only this status")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> Any:
    """Forecast runs' predicted-ponding proposals, the pending one first (``admin``,
    ``district``, ``duty``)."""
    return approval.list_proposals(session=session, actor=user, status=status, limit=limit)


@router.get("/warnings/proposals/{proposal_id}", response_model=ProposalRead, responses=_ERRORS)
def proposal(proposal_id: int, user: CurrentUser, session: SessionDep) -> Any:
    """One proposal with its items and what changed since the last approved run."""
    return approval.get_proposal(session=session, proposal_id=proposal_id, actor=user)


@router.post(
    "/warnings/proposals/{proposal_id}/approve", response_model=ProposalRead, responses=_ERRORS
)
def approve(
    proposal_id: int,
    body: ProposalApproveIn,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
) -> Any:
    """Approve a pending proposal: its warnings go out now, under your name (audited)."""
    return approval.approve(
        session=session, proposal_id=proposal_id, actor=user, settings=settings, note=body.note
    )


@router.post(
    "/warnings/proposals/{proposal_id}/reject", response_model=ProposalRead, responses=_ERRORS
)
def reject(proposal_id: int, body: ProposalRejectIn, user: CurrentUser, session: SessionDep) -> Any:
    """Reject a pending proposal with a reason (audited); the run is not proposed again."""
    return approval.reject(session=session, proposal_id=proposal_id, actor=user, reason=body.reason)


@router.post("/warnings", response_model=WarningDetail, status_code=201, responses=_ERRORS)
def issue(body: WarningIssue, user: CurrentUser, session: SessionDep, settings: SettingsDep) -> Any:
    """Issue a warning by hand, with a reason (``admin``, ``district``, ``duty``)."""
    w = service.issue_warning(session=session, warning_in=body, actor=user, settings=settings)
    return _detail(w)


@router.get("/warnings/{warning_id}", response_model=WarningDetail, responses=_ERRORS)
def get_warning(warning_id: int, user: CurrentUser, session: SessionDep) -> Any:
    """One warning with its history."""
    return _detail(service.get_warning(session=session, warning_id=warning_id, actor=user))


@router.post("/warnings/{warning_id}/change", response_model=WarningDetail, responses=_ERRORS)
def change(
    warning_id: int,
    body: WarningChangeIn,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
) -> Any:
    """Change a warning's colour by hand, with a reason."""
    w = service.change_warning(
        session=session, warning_id=warning_id, change_in=body, actor=user, settings=settings
    )
    return _detail(w)


@router.post("/warnings/{warning_id}/lift", response_model=WarningDetail, responses=_ERRORS)
def lift(
    warning_id: int,
    body: WarningLiftIn,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
) -> Any:
    """Lift a warning by hand, with a reason."""
    w = service.lift_warning(
        session=session, warning_id=warning_id, lift_in=body, actor=user, settings=settings
    )
    return _detail(w)


# --- CAP ---------------------------------------------------------------------------------------


def feed_xml(*, request: Request, session: Any, limit: int = 50) -> bytes:
    """The Atom feed of the newest CAP alerts (each entry links its alert)."""
    base = str(request.base_url).rstrip("/")
    fg = FeedGenerator()
    fg.id(f"{base}/api/v1/cap/feed.atom")
    fg.title("防汛预警 CAP / Fangxun warnings (CAP 1.2)")
    fg.author({"name": "Fangxun"})
    fg.link(href=f"{base}/api/v1/cap/feed.atom", rel="self")
    fg.language("zh-CN")
    alerts = service.recent_alerts(session=session, limit=limit)
    latest = alerts[0].at if alerts else None
    for change in reversed(alerts):  # feedgen prepends: add oldest first
        w = change.warning
        url = f"{base}/api/v1/cap/{change.cap_identifier}.xml"
        colour = (change.to_colour or change.from_colour or w.colour).value
        kz, ke = service.KIND_NAMES[w.kind.value]
        cz, ce = service.COLOUR_NAMES[colour]
        chz, che = service.CHANGE_NAMES[change.change_type.value]
        fe = fg.add_entry()
        fe.id(url)
        fe.title(f"{w.place or '全区'}{kz}{cz}预警{chz} / {ce} {ke} warning {che}")
        fe.link(href=url, rel="alternate", type=CAP_MEDIA_TYPE)
        fe.updated(change.at)
        fe.published(change.at)
        fe.summary(service.change_summary(w, change)[0])
    if latest is not None:
        fg.updated(latest)
    return bytes(fg.atom_str(pretty=True))


@cap_router.get("/cap/feed.atom", response_class=Response)
def cap_feed(request: Request, session: SessionDep) -> Response:
    """Atom feed of the newest CAP 1.2 alerts (public)."""
    return Response(feed_xml(request=request, session=session), media_type=ATOM_MEDIA_TYPE)


@cap_router.get("/cap/{identifier}.xml", response_class=Response, responses={404: {}})
def cap_alert(identifier: str, session: SessionDep) -> Response:
    """One CAP 1.2 alert as it was sent (public)."""
    change = service.get_alert(session=session, identifier=identifier)
    assert change.cap_xml is not None
    return Response(change.cap_xml.encode("utf-8"), media_type=CAP_MEDIA_TYPE)
