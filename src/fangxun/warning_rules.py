"""Warning rules as configuration, with defaults from ``shared/reference/facts.md``.

:class:`WarningRules` is the ``warning_rules`` field of :class:`fangxun.config.Settings`;
override it as JSON, e.g. ``FANGXUN_WARNING_RULES='{"min_hold_s": 600, "rain_margin_mm": 3}'``
(fields left out keep their defaults). Amounts written by people stay in their everyday units
(rain in mm, windows in seconds, depths and levels in m).

>>> r = WarningRules()
>>> r.rain["yellow"].window_s, r.rain["yellow"].amount_mm
(21600, 50.0)
>>> r.cap_severity["red"]
'Extreme'
"""

from __future__ import annotations

from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: Warning colours, lowest first.
COLOURS: Final[tuple[str, ...]] = ("blue", "yellow", "orange", "red")
#: Severity values CAP 1.2 allows.
CAP_SEVERITIES: Final[frozenset[str]] = frozenset(
    {"Extreme", "Severe", "Moderate", "Minor", "Unknown"}
)
RuleKind = Literal[
    "rainstorm", "ponding", "predicted_ponding", "river_level", "pump_failure", "stale_sensor"
]
ALL_RULES: Final[tuple[str, ...]] = (
    "rainstorm",
    "ponding",
    "predicted_ponding",
    "river_level",
    "pump_failure",
    "stale_sensor",
)


class RainRule(BaseModel):
    """A rainstorm signal: at least ``amount_mm`` of rain within ``window_s`` seconds."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    window_s: int = Field(gt=0, le=48 * 3600)
    amount_mm: float = Field(gt=0)


def _default_rain() -> dict[str, RainRule]:
    # CMA Order No. 16 (2007): blue ≥ 50 mm/12 h, yellow ≥ 50 mm/6 h, orange ≥ 50 mm/3 h,
    # red ≥ 100 mm/3 h.
    return {
        "blue": RainRule(window_s=12 * 3600, amount_mm=50.0),
        "yellow": RainRule(window_s=6 * 3600, amount_mm=50.0),
        "orange": RainRule(window_s=3 * 3600, amount_mm=50.0),
        "red": RainRule(window_s=3 * 3600, amount_mm=100.0),
    }


class WarningRules(BaseModel):
    """Every number the warning rules use. Durations in s, rain in mm, depths and levels in m."""

    model_config = ConfigDict(extra="forbid")

    #: Rules evaluated by :func:`fangxun.warnings.service.evaluate`.
    enabled: list[RuleKind] = Field(default_factory=lambda: list(ALL_RULES))  # type: ignore[arg-type]
    #: Rainstorm signals per colour (CMA Order No. 16, 2007).
    rain: dict[str, RainRule] = Field(default_factory=_default_rain)
    #: Hysteresis of the rain rules: a signal is lowered or lifted only when its amount is this far
    #: below its threshold, mm.
    rain_margin_mm: float = Field(default=5.0, ge=0)
    #: Also signal rain that is *expected*: observed rain plus the current forecast run's rain
    #: series (only runs whose rain is an uploaded series), this far ahead, s (0 = observed only).
    rain_forecast_lead_s: int = Field(default=3 * 3600, ge=0)
    #: Hysteresis of ponding depth rules (observed and predicted), m.
    depth_margin_m: float = Field(default=0.03, ge=0)
    #: A ponding sensor value older than this is not used, s.
    depth_max_age_s: int = Field(default=30 * 60, gt=0)
    #: Predicted ponding: the forecast must reach the threshold within this lead time, s.
    predicted_lead_s: int = Field(default=2 * 3600, gt=0)
    #: Predicted ponding from an ensemble: the probability of reaching a threshold must be at least
    #: this (0–1). A single-member run counts as probability 1 when it reaches the threshold.
    predicted_min_probability: float = Field(default=0.5, gt=0, le=1)
    #: River levels: colour at the warning level (警戒水位) and at the guarantee level (保证水位).
    river_warning_colour: str = "orange"
    river_guarantee_colour: str = "red"
    #: Hysteresis of river levels, m.
    river_margin_m: float = Field(default=0.1, ge=0)
    #: A river level older than this is not used, s.
    river_max_age_s: int = Field(default=30 * 60, gt=0)
    #: Colour of a pump station failure (power off while the station is active).
    pump_failure_colour: str = "orange"
    #: Colour of a stale critical sensor (an open ``stale`` monitoring alarm).
    stale_colour: str = "blue"
    #: Station kinds whose silence is critical (a station with ``properties.critical`` true is
    #: critical whatever its kind).
    critical_station_kinds: list[str] = Field(
        default_factory=lambda: ["ponding", "river_gauge", "pump_station"]
    )
    #: Minimum hold time: a warning is lowered or lifted by the rules only this long after its
    #: last change, s. Raising is never delayed.
    min_hold_s: int = Field(default=30 * 60, ge=0)
    #: Forecaster approval: the rules whose changes wait for a duty officer's approval (as one
    #: proposal per forecast run) instead of going out at once. Drills never wait.
    approval_kinds: list[RuleKind] = Field(default_factory=lambda: ["predicted_ponding"])  # type: ignore[arg-type]
    #: Colours that go out automatically all the same (issue or raise to them); the others wait
    #: (e.g. ``["red"]``: red automatic, blue to orange on approval). All four: fully automatic.
    approval_auto_colours: list[str] = Field(default_factory=lambda: ["red"])
    #: Lowering and lifting a waiting kind's warning goes out automatically (else on approval).
    approval_auto_lower: bool = False
    #: An unapproved proposal escalates to the leader on duty this long after it was first made
    #: (a newer run's proposal keeps the earlier deadline), s.
    approval_deadline_s: int = Field(default=15 * 60, gt=0)
    #: CAP 1.2 ``sender`` (an e-mail-like identifier of the issuing office).
    cap_sender: str = Field(default="fangxun@district.example", pattern=r"^[^\s,<&]+$")
    #: Prefix of CAP identifiers (no spaces, commas, < or &).
    cap_identifier_prefix: str = Field(default="cn.fangxun.warning", pattern=r"^[^\s,<&]+$")
    #: Colour → CAP severity. A CONVENTION, [unverified] (facts.md): configure per city.
    cap_severity: dict[str, str] = Field(
        default_factory=lambda: {
            "blue": "Minor",
            "yellow": "Moderate",
            "orange": "Severe",
            "red": "Extreme",
        }
    )
    #: Radius of the CAP circle around a point without an outline, km.
    cap_circle_radius_km: float = Field(default=0.3, gt=0)
    #: The district outline for district-wide warnings, as a closed lon/lat ring; None = a
    #: circle around the monitoring stations (or area description only).
    cap_district_ring: list[tuple[float, float]] | None = None
    #: Names of the district in the CAP area description.
    cap_district_name_zh: str = "全区"
    cap_district_name_en: str = "the whole district"
    #: CAP alerts stay valid this long after they are sent unless changed, s.
    cap_expires_s: int = Field(default=24 * 3600, gt=0)

    @field_validator(
        "river_warning_colour", "river_guarantee_colour", "pump_failure_colour", "stale_colour"
    )
    @classmethod
    def _colour(cls, value: str) -> str:
        if value not in COLOURS:
            raise ValueError(f"unknown colour {value!r}; use one of {', '.join(COLOURS)}")
        return value

    @field_validator("approval_auto_colours")
    @classmethod
    def _auto_colours(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(COLOURS))
        if unknown:
            raise ValueError(f"unknown colour(s) {', '.join(unknown)}; use {', '.join(COLOURS)}")
        return value

    @field_validator("rain")
    @classmethod
    def _rain(cls, value: dict[str, RainRule]) -> dict[str, RainRule]:
        unknown = sorted(set(value) - set(COLOURS))
        if unknown:
            raise ValueError(f"unknown colour(s) {', '.join(unknown)}; use {', '.join(COLOURS)}")
        return value

    @field_validator("cap_severity")
    @classmethod
    def _severity(cls, value: dict[str, str]) -> dict[str, str]:
        if set(value) != set(COLOURS):
            raise ValueError(f"give a severity for each of {', '.join(COLOURS)}")
        bad = sorted(v for v in value.values() if v not in CAP_SEVERITIES)
        if bad:
            raise ValueError(
                f"not CAP severities: {', '.join(bad)}; use {', '.join(sorted(CAP_SEVERITIES))}"
            )
        return value

    @field_validator("cap_district_ring")
    @classmethod
    def _ring(cls, value: list[tuple[float, float]] | None) -> list[tuple[float, float]] | None:
        if value is None:
            return None
        if len(value) < 4 or tuple(value[0]) != tuple(value[-1]):
            raise ValueError("a ring needs at least 4 lon/lat pairs and must end where it starts")
        for lon, lat in value:
            if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                raise ValueError(f"({lon}, {lat}) is not a lon/lat pair")
        return value

    @model_validator(mode="after")
    def _river(self) -> WarningRules:
        if COLOURS.index(self.river_guarantee_colour) < COLOURS.index(self.river_warning_colour):
            raise ValueError("river_guarantee_colour must not be below river_warning_colour")
        return self
