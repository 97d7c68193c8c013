"""The navigation of the web shell: one entry per domain, built or still to come.

A section whose page is not built yet is served by a "coming" placeholder page (never a 404). When a
domain gets its own page, set ``built=True`` on its entry here and include the domain's web router
*before* ``fangxun.web.pages.router``'s placeholders would be reached (a built section has no
placeholder route, so the order does not matter once the flag is set).

>>> [s.slug for s in SECTIONS][:3]
['map', 'monitoring', 'forecast']
>>> section_by_slug("hazards").label
'Hazard ledger'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from fangxun.web.i18n import N_


@dataclass(frozen=True)
class Section:
    """One entry of the navigation.

    ``label`` and ``summary`` are msgids (English; translated when rendered). ``roles`` limits who
    sees the entry (``None`` = every role); ``built`` says whether the domain serves its own page.
    """

    slug: str
    label: str
    summary: str
    built: bool = False
    roles: frozenset[str] | None = None

    @property
    def path(self) -> str:
        """URL path of the section's page."""
        return f"/{self.slug}"

    def visible_to(self, role: str) -> bool:
        """True when a user with ``role`` sees this entry."""
        return self.roles is None or role in self.roles


SECTIONS: Final[tuple[Section, ...]] = (
    Section(
        "map",
        N_("Map"),
        N_("One map of the district: terrain, hazard points, gauges, forecast ponding."),
        built=True,
    ),
    Section(
        "monitoring",
        N_("Rain & water"),
        N_("Rain gauges, ponding depth, river levels and pump stations, live and past."),
        built=True,
    ),
    Section(
        "forecast",
        N_("Forecast"),
        N_("Forecast runs: rain in, predicted ponding depth at every hazard point out."),
        built=True,
    ),
    Section(
        "warnings",
        N_("Warnings"),
        N_("Warning rules and the lifecycle of each warning: issued, upgraded, lifted."),
        built=True,
    ),
    Section(
        "notifications",
        N_("Notifications"),
        N_("Notifications sent by webhook, WeCom, DingTalk and e-mail, and who acknowledged."),
        built=True,
    ),
    Section(
        "response",
        N_("Response"),
        N_("Emergency response levels IV to I and the actions of the contingency plans."),
        built=True,
    ),
    Section(
        "hazards",
        N_("Hazard ledger"),
        N_("Hazard points, point plans, inspections and rectifications."),
        built=True,
    ),
    Section(
        "field",
        N_("Field work"),
        N_("Phone forms for inspections, patrols, incidents and stocktakes, online or not."),
        built=True,
        roles=frozenset({"admin", "district", "duty", "unit", "inspector"}),
    ),
    Section(
        "duty",
        N_("Duty"),
        N_("The 24-hour duty roster, leaders on duty, handovers and check-ins."),
        built=True,
    ),
    Section(
        "incidents",
        N_("Incidents"),
        N_("Reports of danger, their dispatch, handling and closure."),
        built=True,
    ),
    Section(
        "supplies",
        N_("Supplies & teams"),
        N_("Flood-control supplies, stocktaking against quotas, emergency teams."),
        built=True,
    ),
    Section(
        "briefings",
        N_("Briefings"),
        N_("Consultations: the situation, the assessment and the decisions taken."),
        built=True,
    ),
    Section(
        "reports",
        N_("Reports"),
        N_("Post-event statistics, causes and the post-event review."),
        built=True,
    ),
    Section(
        "admin",
        N_("Administration"),
        N_("Units, people, users and roles, and the audit log."),
        built=True,
        roles=frozenset({"admin"}),
    ),
)

_BY_SLUG: Final[dict[str, Section]] = {s.slug: s for s in SECTIONS}


def section_by_slug(slug: str) -> Section:
    """The section named ``slug``; ``KeyError`` names the unknown slug."""
    try:
        return _BY_SLUG[slug]
    except KeyError:
        raise KeyError(f"no navigation section {slug!r}") from None


def visible_sections(role: str) -> Sequence[Section]:
    """The sections a user with ``role`` sees, in navigation order."""
    return [s for s in SECTIONS if s.visible_to(role)]


__all__ = ["SECTIONS", "Section", "section_by_slug", "visible_sections"]
