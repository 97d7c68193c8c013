"""Hazard ledger services: points, attachments, point plans, inspections, rectifications, stats.

Keyword-only functions that check role and jurisdiction, record every change in the audit log and
never commit (the caller's scope does). Objects of points outside the actor's jurisdiction are
"not found" (404); a point, person or unit named in a request body that the actor cannot see is
an invalid field (422), as in :mod:`fangxun.org.service`.

Who may do what (``admin`` and the system may do everything):

========================  ==========================================================
read                      every role (a ``unit`` user only inside its jurisdiction)
points, plan drafts,      ``district``, ``unit``
inspection plans
approve point plans       ``district``
inspection records        ``district``, ``unit``, ``inspector``
open a rectification      ``district``, ``unit``, ``inspector``
start / submit / resume   ``unit`` (the owning unit moves its rectification forward)
verify / reject / close   ``district``
========================  ==========================================================
"""

from __future__ import annotations

from fangxun.hazards.service.attachments import (
    add_attachment,
    get_attachment,
    list_attachments,
)
from fangxun.hazards.service.common import (
    DEFAULT_COVERAGE_WINDOW_S,
    OPEN_STATES,
    ROLE_ACTIONS,
    HazardAction,
    can,
)
from fangxun.hazards.service.common import (
    _require as _require,
)
from fangxun.hazards.service.inspections import (
    create_inspection,
    create_inspection_plan,
    delete_inspection_plan,
    get_inspection,
    get_inspection_plan,
    inspection_plan_read,
    list_inspection_plans,
    list_inspections,
    overdue_inspections,
    update_inspection_plan,
)
from fangxun.hazards.service.plans import (
    approve_plan,
    create_plan,
    current_plan,
    get_plan,
    list_plans,
)
from fangxun.hazards.service.points import (
    MapPoint,
    PointFilter,
    create_point,
    default_thresholds_cm,
    delete_point,
    get_point,
    list_points,
    map_points,
    map_points_version,
    point_feature,
    point_read,
    points_read,
    rectification_counts,
    thresholds_of,
    update_point,
)
from fangxun.hazards.service.rectifications import (
    TRANSITIONS,
    allowed_actions,
    create_rectification,
    get_rectification,
    is_overdue,
    list_rectifications,
    rectification_read,
    transition_rectification,
)
from fangxun.hazards.service.stats import (
    ledger_stats,
)

__all__ = [
    "DEFAULT_COVERAGE_WINDOW_S",
    "OPEN_STATES",
    "ROLE_ACTIONS",
    "TRANSITIONS",
    "HazardAction",
    "MapPoint",
    "PointFilter",
    "add_attachment",
    "allowed_actions",
    "approve_plan",
    "can",
    "create_inspection",
    "create_inspection_plan",
    "create_plan",
    "create_point",
    "create_rectification",
    "current_plan",
    "default_thresholds_cm",
    "delete_inspection_plan",
    "delete_point",
    "get_attachment",
    "get_inspection",
    "get_inspection_plan",
    "get_plan",
    "get_point",
    "get_rectification",
    "inspection_plan_read",
    "is_overdue",
    "ledger_stats",
    "list_attachments",
    "list_inspection_plans",
    "list_inspections",
    "list_plans",
    "list_points",
    "list_rectifications",
    "map_points",
    "map_points_version",
    "overdue_inspections",
    "point_feature",
    "point_read",
    "points_read",
    "rectification_counts",
    "rectification_read",
    "thresholds_of",
    "transition_rectification",
    "update_inspection_plan",
    "update_point",
]
