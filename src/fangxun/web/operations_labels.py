"""Labels shared by the command-operation pages (incidents, duty, supplies): incident kinds,
severities and states, team readiness, roster gaps and the next-step buttons, as msgids that the
templates translate."""

from __future__ import annotations

from typing import Any, Final

from fangxun.incidents.models import IncidentKind, IncidentStatus, Severity
from fangxun.supplies.models import Readiness
from fangxun.web.i18n import N_

#: Labels of incident kinds, severities and states (msgids).
KIND_LABELS: Final[dict[str, str]] = {
    IncidentKind.ponding: N_("Ponding on a road"),
    IncidentKind.underpass_flooding: N_("Flooded underpass"),
    IncidentKind.building_flooding: N_("Water entering buildings"),
    IncidentKind.embankment: N_("Embankment danger"),
    IncidentKind.landslide: N_("Landslide or collapse"),
    IncidentKind.trapped_people: N_("People trapped"),
    IncidentKind.vehicle_trapped: N_("Vehicle trapped"),
    IncidentKind.power: N_("Power installation"),
    IncidentKind.other: N_("Other"),
}
SEVERITY_LABELS: Final[dict[str, str]] = {
    Severity.minor: N_("Minor"),
    Severity.moderate: N_("Moderate"),
    Severity.major: N_("Major"),
    Severity.critical: N_("Critical"),
}
STATUS_LABELS: Final[dict[str, str]] = {
    IncidentStatus.reported: N_("Reported"),
    IncidentStatus.dispatched: N_("Dispatched"),
    IncidentStatus.on_site: N_("On site"),
    IncidentStatus.controlled: N_("Controlled"),
    IncidentStatus.closed: N_("Closed"),
}
READINESS_LABELS: Final[dict[str, str]] = {
    Readiness.standby: N_("On standby"),
    Readiness.deployed: N_("Deployed"),
    Readiness.resting: N_("Resting"),
    Readiness.unavailable: N_("Unavailable"),
}
GAP_LABELS: Final[dict[str, str]] = {
    "uncovered": N_("No shift"),
    "no_leader": N_("No leader on duty"),
    "no_check_in": N_("Nobody checked in"),
}
#: The button that moves an incident on from each state (next state, msgid).
NEXT_STEP: Final[dict[str, tuple[str, str]]] = {
    IncidentStatus.dispatched: (IncidentStatus.on_site, N_("Team on site")),
    IncidentStatus.on_site: (IncidentStatus.controlled, N_("Under control")),
    IncidentStatus.controlled: (IncidentStatus.closed, N_("Close")),
}
LABELS: Final[dict[str, Any]] = {
    "kinds": KIND_LABELS,
    "severities": SEVERITY_LABELS,
    "statuses": STATUS_LABELS,
    "readiness": READINESS_LABELS,
    "gaps": GAP_LABELS,
    "next_step": NEXT_STEP,
}


__all__ = ["LABELS"]
