"""Times as people see them: the district's zone and one formatter.

Times are timezone-aware everywhere and stored in UTC; pages, exports, briefings and the command
line show them in the district's zone, the setting ``FANGXUN_DISPLAY_TIMEZONE`` (default
Asia/Shanghai). :func:`local` is the one formatter (also the Jinja filter ``local``, see
:func:`install_filters`); :func:`local_zone` is the zone itself, for local days and shifts.

>>> from datetime import UTC, datetime
>>> moment = datetime(2026, 7, 20, 8, 30, tzinfo=UTC)
>>> local(moment, zone=ZoneInfo("Asia/Shanghai"))
'2026-07-20 16:30'
>>> local(moment, SHORT, zone=ZoneInfo("Asia/Shanghai"))
'07-20 16:30'
>>> local(None, empty="—")
'—'
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Final
from zoneinfo import ZoneInfo

from fangxun.config import Settings

#: The zone when no setting says otherwise (the setting's default, DESIGN's Asia/Shanghai).
DEFAULT_ZONE: Final[str] = Settings.model_fields["display_timezone"].default

#: Display formats: date and time; month-day and time (tables); the same with seconds.
DATE_TIME: Final = "%Y-%m-%d %H:%M"
SHORT: Final = "%m-%d %H:%M"
SHORT_SECONDS: Final = "%m-%d %H:%M:%S"


@lru_cache(maxsize=8)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_zone() -> ZoneInfo:
    """The district's zone: the ``display_timezone`` setting (read when called, never at import)."""
    from fangxun.config import get_settings

    return _zone(get_settings().display_timezone)


def to_local(value: datetime, zone: ZoneInfo | None = None) -> datetime:
    """``value`` (aware) in the district's zone."""
    return value.astimezone(zone or local_zone())


def local(
    value: datetime | str | None,
    fmt: str = DATE_TIME,
    *,
    empty: str = "",
    zone: ZoneInfo | None = None,
) -> str:
    """``value`` (aware, or an ISO 8601 string with its offset) in the district's zone as ``fmt``;
    ``empty`` for None."""
    if value is None:
        return empty
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(zone or local_zone()).strftime(fmt)


def parse_instant(value: str | None, where: str) -> datetime | None:
    """An ISO 8601 time with its offset, as UTC (None for None): what people type on the command
    line. :class:`ValidationFailed` at ``where`` (the option) when it is not one, or has no
    offset (a bare local time is ambiguous)."""
    from fangxun.errors import ValidationFailed

    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValidationFailed(f"not an ISO 8601 time: {value!r}", loc=(where,)) from exc
    if moment.tzinfo is None:
        raise ValidationFailed(
            f"{value!r} has no time zone offset (e.g. 2026-07-20T08:00+08:00)", loc=(where,)
        )
    return moment.astimezone(UTC)


def install_filters(env: Any, *, empty: str = "") -> None:
    """Add the ``local`` filter to a Jinja environment: ``{{ t | local }}``,
    ``{{ t | local("%m-%d %H:%M") }}``."""

    def _filter(value: datetime | str | None, fmt: str = DATE_TIME) -> str:
        return local(value, fmt, empty=empty)

    env.filters["local"] = _filter


__all__ = [
    "DATE_TIME",
    "DEFAULT_ZONE",
    "SHORT",
    "SHORT_SECONDS",
    "install_filters",
    "local",
    "local_zone",
    "parse_instant",
    "to_local",
]
