"""Settings for Fangxun, read from the environment (prefix ``FANGXUN_``) and an optional ``.env``.

No settings object is built at import time: call :func:`get_settings` (cached) at the edge (CLI
command, app factory) and pass the object down. A bad setting fails at start with a
:class:`ConfigError` whose message names the ``FANGXUN_...`` variable.

>>> s = Settings(environment="test", database_url="sqlite://")
>>> s.port
8000
"""

from __future__ import annotations

import warnings
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from fangxun.errors import ConfigError
from fangxun.warning_rules import WarningRules

ENV_PREFIX = "FANGXUN_"

Environment = Literal["development", "demo", "test", "production"]
Language = Literal["zh", "en"]

#: Used only outside production so that a fresh checkout runs; never accepted in production.
DEV_SECRET_KEY = "fangxun-dev-only-secret-key-do-not-use-in-production"

#: The shortest secret key accepted in production (characters).
MIN_SECRET_KEY_LENGTH = 32

#: Default ponding thresholds of hazard points by kind, cm of water: (blue, yellow, orange, red).
#: A LOCAL CHOICE, not a national standard: roads follow 15/27/40/50 (15 cm is the one-lane
#: limit of MOHURD 2014 and GB 50318-2017); every other value is [unverified] configuration.
#: Override with FANGXUN_HAZARD_THRESHOLDS_CM='{"underpass": [10, 20, 30, 40]}' (kinds not named
#: keep these defaults).
DEFAULT_HAZARD_THRESHOLDS_CM: dict[str, tuple[float, float, float, float]] = {
    "low_lying_road": (15.0, 27.0, 40.0, 50.0),
    "underpass": (15.0, 27.0, 40.0, 50.0),
    "residential_compound": (10.0, 20.0, 30.0, 50.0),
    "river_embankment": (20.0, 40.0, 60.0, 80.0),
    "pump_station": (10.0, 20.0, 30.0, 40.0),
    "construction_site": (15.0, 30.0, 45.0, 60.0),
    "bridge_culvert": (15.0, 27.0, 40.0, 50.0),
    "channel": (20.0, 40.0, 60.0, 80.0),
    "other": (15.0, 27.0, 40.0, 50.0),
}

#: Rainstorm signal colour → response level started or proposed by rule (facts.md: Zhengzhou
#: yellow → IV, orange → III; red → II a local choice; blue starts nothing; I only by decision).
DEFAULT_RESPONSE_LEVEL_RULES: dict[str, str] = {"yellow": "IV", "orange": "III", "red": "II"}


class Settings(BaseSettings):
    """All runtime configuration. Durations are in seconds (SI); ``port`` is a TCP port number."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
    )

    environment: Environment = "development"
    database_url: str = "sqlite:///./var/fangxun.db"
    secret_key: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    language: Language = "zh"
    #: The district's time zone (IANA name): times are stored in UTC and shown, and local days and
    #: shifts counted, in this zone (:mod:`fangxun.times`).
    display_timezone: str = "Asia/Shanghai"
    # --- windows of the pages (policy, not code): days ------------------------------------------
    #: The duty page's coming shifts and gaps.
    duty_page_days: int = Field(default=7, ge=1, le=62)
    #: The roster downloads (Excel, iCalendar) from today.
    roster_export_days: int = Field(default=31, ge=1, le=366)
    #: Supplies listed as expiring within this many days.
    supplies_expiring_days: int = Field(default=30, ge=1, le=366)
    #: The deadline a new rectification is offered on the point page, days from today.
    rectification_default_days: int = Field(default=7, ge=1, le=365)
    basemap_url: str | None = None
    data_dir: Path = Path("./var")
    #: API bearer token lifetime, s.
    token_ttl_s: int = Field(default=12 * 3600, gt=0)
    #: Web session cookie lifetime, s.
    session_ttl_s: int = Field(default=12 * 3600, gt=0)
    #: Failed logins of one username from one client address tolerated within ``login_window_s``
    #: (that address is then refused for that username); as many from anywhere slow further
    #: attempts on the username down (``login_delay_s``) but never lock its owner out.
    login_max_attempts: int = Field(default=5, gt=0)
    #: Sliding window for counting failed logins, s.
    login_window_s: int = Field(default=15 * 60, gt=0)
    #: Failed logins tolerated from one client address within the window (offices share NAT).
    login_max_attempts_per_ip: int = Field(default=50, gt=0)
    #: Wait before checking a password of a username that failed ``login_max_attempts`` times
    #: (from any address), s; doubles with each further failure up to ``login_delay_max_s``.
    login_delay_s: float = Field(default=1.0, ge=0.0)
    #: Longest such wait, s (kept short: the request holds a worker thread while it waits).
    login_delay_max_s: float = Field(default=5.0, ge=0.0, le=60.0)
    #: Log SQL statements (debugging only).
    sql_echo: bool = False
    #: Duty: a shift nobody has checked in to this long after its start raises an alarm, s.
    duty_check_in_grace_s: int = Field(default=30 * 60, gt=0)
    #: Incidents: public reports accepted per client address within ``public_report_window_s``.
    public_report_max: int = Field(default=5, gt=0)
    #: Incidents: sliding window of the public form's rate limit, s.
    public_report_window_s: int = Field(default=3600, gt=0)
    # --- hardening (issue 11; fangxun.api.middleware, fangxun.api.metrics) ---
    #: Largest JSON, form or other non-multipart request body accepted, bytes (413 above).
    max_body_bytes: int = Field(default=1024 * 1024, gt=0)
    #: Largest multipart upload accepted, bytes (each upload route also limits its files).
    max_upload_bytes: int = Field(default=25 * 1024 * 1024, gt=0)
    #: Deepest nesting of JSON arrays/objects accepted in a request body (422 above).
    max_json_depth: int = Field(default=32, ge=2, le=1000)
    # --- hardening II (issue 20; fangxun.geo, hazard imports, accounts) ---
    #: Most vertices one geometry may have, all its rings together (a hazard point's outline);
    #: more is refused (a 450 k-vertex polygon once slowed every map request).
    geometry_max_vertices: int = Field(default=10_000, ge=4)
    #: Most rows one import file may hold (hazard ledger); a larger file is refused whole.
    import_max_rows: int = Field(default=20_000, gt=0)
    #: Problems an import lists one by one (the first ones); the rest are counted.
    import_max_problems: int = Field(default=100, gt=0)
    #: When set, ``GET /metrics`` needs ``Authorization: Bearer <token>``.
    metrics_token: str | None = None
    #: Without a token, ``/metrics`` answers only loopback clients (127.0.0.0/8, ::1) unless this is
    #: set. Behind a reverse proxy on the same host every client looks local: set a token there.
    metrics_allow_remote: bool = False
    #: ``Strict-Transport-Security`` max-age sent outside development, s (0: never sent).
    hsts_max_age_s: int = Field(default=365 * 24 * 3600, ge=0)
    #: The health endpoint also checks the MQTT broker (``mqtt_host``:``mqtt_port``).
    health_check_broker: bool = False
    #: How long the health endpoint waits for the broker, s.
    health_timeout_s: float = Field(default=2.0, gt=0.0, le=30.0)
    #: The map's heavy documents (hazard points, stations, latest values) are rebuilt at least
    #: once per this many seconds per jurisdiction even when their data version did not change
    #: (fangxun.api.cache): the bound for what the version cannot see (commits out of id order,
    #: writes around the services); 0 = always build, s.
    response_cache_ttl_s: float = Field(default=10.0, ge=0.0, le=60.0)
    # --- monitoring (issue 5) ---
    #: MQTT broker the ingest service subscribes to.
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = Field(default=1883, ge=1, le=65535)
    #: Fixed client id: the broker keeps this session's queue while ingest is down.
    mqtt_client_id: str = "fangxun-ingest"
    #: How long the broker keeps the session of a disconnected ingest service, s.
    mqtt_session_expiry_s: int = Field(default=7 * 24 * 3600, gt=0)
    #: Most observations written in one transaction by the ingest service.
    ingest_batch_size: int = Field(default=2000, gt=0)
    #: Longest wait before a partial batch is written, s.
    ingest_flush_s: float = Field(default=0.2, gt=0)
    #: A station with no data for this long is stale and raises a monitoring alarm, s.
    monitoring_stale_s: int = Field(default=30 * 60, gt=0)
    #: Observation times further ahead of the server clock than this are flagged "future", s.
    qc_future_tolerance_s: int = Field(default=5 * 60, ge=0)
    #: Observation times further ahead of the server clock than this are dead letters, not
    #: stored (no sender's clock is that wrong; a stored 2099 reading would freeze the station's
    #: latest value), s. At least ``qc_future_tolerance_s``.
    qc_future_dead_letter_s: int = Field(default=10 * 60, ge=0)
    #: Observation times older than this on arrival are flagged "too old", s.
    qc_max_age_s: int = Field(default=30 * 24 * 3600, gt=0)
    #: A dry spell this long ends a rain event (event totals), s.
    rain_event_gap_s: int = Field(default=6 * 3600, gt=0)
    #: Ponding thresholds by hazard-point kind, cm (blue, yellow, orange, red); see
    #: :data:`DEFAULT_HAZARD_THRESHOLDS_CM`. Kinds left out keep their defaults.
    hazard_thresholds_cm: dict[str, tuple[float, float, float, float]] = Field(
        default_factory=lambda: dict(DEFAULT_HAZARD_THRESHOLDS_CM)
    )

    # --- forecast (fangxun.forecast; see its module docstrings for the methods) ----------------
    #: Minutes between scheduled forecast runs while it rains or a warning is in force, s.
    forecast_interval_s: int = Field(default=15 * 60, gt=0)
    #: How far ahead a forecast runs, s.
    forecast_horizon_s: int = Field(default=3 * 3600, gt=0)
    #: Ensemble members (1 = a single deterministic run).
    forecast_members: int = Field(default=1, ge=1, le=200)
    #: Lognormal rain-amount perturbation: ln(scale) ~ N(0, sigma²), dimensionless.
    forecast_rain_sigma: float = Field(default=0.3, ge=0.0, le=2.0)
    #: Timing perturbation: shift ~ N(0, sd²), s (rounded to whole seconds).
    forecast_shift_sd_s: float = Field(default=900.0, ge=0.0)
    #: Seed of the ensemble perturbations (same seed → same members).
    forecast_seed: int = 20260722
    #: dask.distributed scheduler address ("tcp://host:8786"); empty = local processes.
    forecast_dask_address: str = ""
    #: Model cell size, m; coarser than the terrain aggregates it by block means (0 = native).
    forecast_resolution_m: float = Field(default=0.0, ge=0.0)
    #: Manning's n by land use, s/m^(1/3); "default" applies where no land-use raster is given.
    forecast_manning: dict[str, float] = Field(
        default_factory=lambda: {
            "default": 0.03,
            "road": 0.016,
            "green": 0.1,
            "building": 0.2,
            "water": 0.03,
        }
    )
    #: Land-use raster: GeoTIFF of integer class codes on the terrain's grid; empty =
    #: ``landuse.tif`` next to the terrain when there is one, else ``default`` n everywhere.
    forecast_landuse_path: Path | None = None
    #: Land-use class code → class name (a key of ``forecast_manning``).
    forecast_landuse_classes: dict[int, str] = Field(
        default_factory=lambda: {1: "road", 2: "building", 3: "green", 4: "water", 5: "default"}
    )
    #: Drainage catchments GeoJSON (WGS 84 polygons, each with ``return_period_years`` or
    #: ``capacity_mm_h``); empty = ``catchments.geojson`` next to the terrain when there is one.
    forecast_catchments_path: Path | None = None
    #: Warm start from ponding sensors: use readings at most this old at the forecast start, s.
    forecast_obs_warm_start_max_age_s: float = Field(default=900.0, gt=0.0)
    #: Warm start from ponding sensors: a sensor's water spreads at most this far, m.
    forecast_obs_spread_radius_m: float = Field(default=300.0, gt=0.0)
    #: Drainage design return period (years): pipes take the design storm's mean intensity
    #: (cells outside every catchment of ``forecast_catchments_path``).
    forecast_drainage_return_period_years: float = Field(default=1.0, gt=0.0)
    #: Drainage design duration (time of concentration; catchments without their own), s.
    forecast_drainage_duration_s: float = Field(default=30 * 60, gt=0.0)
    #: Storm intensity formula (a mm/min·min^n, b min, C, n); default is the UNVERIFIED example.
    forecast_storm_formula: tuple[float, float, float, float] = (
        3073.0 / (10_000.0 / 60.0),
        15.1,
        0.892,
        0.824,
    )
    #: Nowcast: e-folding time of the persistence decay, s.
    forecast_nowcast_decay_s: float = Field(default=3600.0, gt=0.0)
    #: Nowcast: gauge window whose mean intensity is persisted, s.
    forecast_nowcast_window_s: float = Field(default=3600.0, gt=0.0)
    #: Rain grids feeding the forecast's fallback chain: the radar QPE feed and the QPF feed in the
    #: rain frame store (empty = the gauges only, as before).
    rain_radar_feed: str | None = None
    rain_qpf_feed: str | None = None
    #: A radar frame older than this at the forecast start is not nowcast from, s.
    rain_max_radar_age_s: float = Field(default=900.0, gt=0.0)
    #: Numerical backend of the inundation core ("numba" or "numpy").
    forecast_backend: str = "numba"
    #: District terrain GeoTIFF (m, projected CRS); empty = ``<data_dir>/demo/terrain.tif``.
    forecast_terrain_path: Path | None = None
    #: Depth (m) whose first arrival the arrival-time raster maps (15 cm: one traffic lane).
    forecast_arrival_depth_m: float = Field(default=0.15, gt=0.0)
    #: How often depths at hazard points are recorded, s.
    forecast_output_interval_s: float = Field(default=300.0, gt=0.0)
    #: Time between map frames (time slider), s.
    forecast_frame_interval_s: float = Field(default=1800.0, gt=0.0)
    #: A warm start uses the last run's state only when that run was issued this recently, s.
    forecast_warm_start_max_age_s: float = Field(default=2 * 3600.0, gt=0.0)

    # --- warnings (fangxun.warnings; defaults from shared/reference/facts.md) ---------------
    #: Every number of the warning rules and the CAP output (see fangxun.warning_rules).
    #: Override as JSON: FANGXUN_WARNING_RULES='{"min_hold_s": 600, "rain_margin_mm": 3}'.
    warning_rules: WarningRules = Field(default_factory=WarningRules)

    # --- reports (fangxun.reports; storm events use rain_event_gap_s as their dry gap) ----------
    #: A rain event counts as a storm event from this total at its heaviest gauge, mm.
    report_event_min_mm: float = Field(default=10.0, ge=0.0)
    #: Ponding criterion of the statistics, m (15 cm: one traffic lane, MOHURD 2014).
    report_ponding_depth_m: float = Field(default=0.15, gt=0.0)
    #: A point counts as drained once its depth is back at or below this, m (local choice).
    report_drained_depth_m: float = Field(default=0.05, ge=0.0)
    #: Depths are followed this long after the last rain of an event, s.
    report_recession_s: int = Field(default=6 * 3600, ge=0)
    #: Cause analysis: the fixed list of causes a person picks from ("other" must be in it).
    report_causes: tuple[str, ...] = (
        "drainage_capacity",
        "blocked_inlets",
        "pump_failure",
        "river_backwater",
        "construction_works",
        "terrain_low_point",
        "other",
    )
    #: Cause suggestion: a point still wet this long after its peak hints at blocked inlets, s.
    report_slow_drain_s: int = Field(default=2 * 3600, gt=0)
    #: Cause suggestion: depth above which the pumps serving a point should be running, m.
    report_pump_expected_depth_m: float = Field(default=0.10, gt=0.0)
    #: Worst points drawn with their depth curves in the event report.
    report_worst_points: int = Field(default=4, ge=1, le=20)
    #: Deadline of the rectifications a review opens, s after it is opened.
    report_rectification_deadline_s: int = Field(default=30 * 24 * 3600, gt=0)

    # --- notifications (fangxun.notify) ---------------------------------------------------------
    #: Base URL of this server as recipients reach it, for acknowledgement links.
    notify_public_url: str = "http://127.0.0.1:8000"
    #: An acknowledgement link stays valid this long, s.
    notify_ack_link_ttl_s: int = Field(default=7 * 24 * 3600, gt=0)
    #: Unacknowledged notifications go to the leader on duty after this long (unless enqueued
    #: with their own time), s.
    notify_escalate_after_s: float = Field(default=15 * 60, gt=0)
    #: Attempts per delivery before it is given up (dead).
    #: Messages to one address per local day before informational ones (those that need no
    #: acknowledgement) are held for the digest; ones that need acknowledgement always go out.
    notify_daily_cap: int = Field(default=30, ge=1)
    #: Held messages go out as one digest per address once the oldest has waited this long, s.
    notify_digest_every_s: float = Field(default=3600.0, gt=0)
    notify_max_attempts: int = Field(default=8, ge=1)
    #: First retry delay, doubled per attempt (plus jitter), s.
    notify_backoff_base_s: float = Field(default=30.0, gt=0)
    #: Longest retry delay, s.
    notify_backoff_max_s: float = Field(default=1800.0, gt=0)
    #: Random extra delay as a fraction of the backoff (spreads retries), dimensionless.
    notify_backoff_jitter: float = Field(default=0.2, ge=0.0, le=1.0)
    #: A claim older than this is taken to be from a crashed sender and is sent again, s.
    notify_claim_lease_s: float = Field(default=120.0, gt=0)
    #: Deliveries claimed per transaction.
    notify_batch_size: int = Field(default=20, ge=1)
    #: Pause of the sender loop when nothing is due, s.
    notify_poll_interval_s: float = Field(default=5.0, gt=0)
    #: Timeout of one HTTP send (webhook, robots), s.
    notify_http_timeout_s: float = Field(default=10.0, gt=0)
    #: SMTP server for e-mail notifications.
    notify_smtp_host: str = "127.0.0.1"
    notify_smtp_port: int = Field(default=25, ge=1, le=65535)
    notify_smtp_username: str | None = None
    notify_smtp_password: str | None = None
    notify_smtp_starttls: bool = False
    notify_smtp_from: str = "fangxun@localhost"
    #: SMS (短信) gateway: the URL the messages are POSTed to (None: the SMS channel is off and
    #: its deliveries fail permanently, saying so).
    notify_sms_gateway_url: str | None = None
    #: The request shape of the gateway: ``generic`` (JSON), ``form`` (mobile=&content=, the
    #: common in-house 短信平台), ``aliyun`` or ``tencent`` (their SendSms bodies); see
    #: ``fangxun.notify.sms.PRESETS``.
    notify_sms_preset: str = "generic"
    #: 短信签名, the sender name in 【】 that Chinese operators require.
    notify_sms_sign: str = "防汛"
    #: The provider's template id (aliyun TemplateCode, tencent TemplateId) and app id (tencent).
    notify_sms_template_id: str = ""
    notify_sms_app_id: str = ""
    #: Sent as the ``Authorization`` header when set (an in-house gateway's token).
    notify_sms_authorization: str | None = None
    #: Longest SMS text, characters (a long SMS is split by the operator into 67-character parts).
    notify_sms_max_chars: int = Field(default=300, ge=40, le=1000)
    #: Rainstorm signal colour → emergency response level a rule proposes or starts (Zhengzhou
    #: practice: yellow → IV, orange → III; red → II is a local choice; level I only by decision).
    #: Override with FANGXUN_RESPONSE_LEVEL_RULES='{"yellow": "IV", "orange": "III", "red": "II"}'.
    response_level_rules: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_RESPONSE_LEVEL_RULES)
    )
    #: What a rule does: "propose" (a person confirms) or "start" (the level starts at once).
    response_rule_mode: Literal["propose", "start"] = "propose"

    @field_validator("display_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (an IANA name such as Asia/Shanghai)"
            ) from None
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be empty")
        if value.startswith(("postgres://", "postgresql://")):
            # The bare scheme picks psycopg2, which is not installed; say what to write instead.
            raise ValueError(
                "use the psycopg 3 driver: write 'postgresql+psycopg://user@host:port/db'"
            )
        if not value.startswith(("sqlite://", "postgresql+psycopg://")):
            raise ValueError(
                "must start with 'sqlite://' or 'postgresql+psycopg://' "
                f"(got {value.split(':', 1)[0]!r})"
            )
        return value

    @field_validator("hazard_thresholds_cm")
    @classmethod
    def _check_hazard_thresholds(
        cls, value: dict[str, tuple[float, float, float, float]]
    ) -> dict[str, tuple[float, float, float, float]]:
        unknown = sorted(set(value) - set(DEFAULT_HAZARD_THRESHOLDS_CM))
        if unknown:
            raise ValueError(
                f"unknown hazard kind(s) {', '.join(unknown)}; "
                f"known: {', '.join(DEFAULT_HAZARD_THRESHOLDS_CM)}"
            )
        for kind, levels in value.items():
            if levels[0] <= 0 or any(b <= a for a, b in pairwise(levels)):
                raise ValueError(
                    f"{kind}: thresholds must be positive and rise blue < yellow < orange < red "
                    f"(got {list(levels)})"
                )
        return {**DEFAULT_HAZARD_THRESHOLDS_CM, **value}

    @field_validator("response_level_rules")
    @classmethod
    def _check_response_level_rules(cls, value: dict[str, str]) -> dict[str, str]:
        colours = ("blue", "yellow", "orange", "red")
        unknown = sorted(set(value) - set(colours))
        if unknown:
            raise ValueError(f"unknown colour(s) {', '.join(unknown)}; known: {', '.join(colours)}")
        for colour, level in value.items():
            if level == "I":
                raise ValueError(f"{colour}: level I starts only by decision, never by a rule")
            if level not in ("IV", "III", "II"):
                raise ValueError(f"{colour}: level must be IV, III or II (got {level!r})")
        return dict(value)

    @field_validator("report_causes")
    @classmethod
    def _check_report_causes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        codes = tuple(c.strip() for c in value)
        bad = [c for c in codes if not c or not c.replace("_", "").isalnum() or not c.isascii()]
        if bad:
            raise ValueError(f"cause codes must be ASCII letters, digits and '_' (got {bad})")
        if "other" not in codes:
            raise ValueError("the list of causes must include 'other'")
        if len(set(codes)) != len(codes):
            raise ValueError("cause codes must be unique")
        return codes

    @field_validator("basemap_url")
    @classmethod
    def _check_basemap_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if not value.startswith(("http://", "https://", "/")):
            raise ValueError(
                "must be an http(s) tile URL template such as https://host/{z}/{x}/{y}.png"
            )
        if not all(part in value for part in ("{z}", "{x}", "{y}")):
            raise ValueError("must contain the {z}, {x} and {y} placeholders")
        return value

    @model_validator(mode="after")
    def _check_secret_key(self) -> Settings:
        if self.environment == "production":
            if not self.secret_key:
                raise ValueError("secret_key: required when FANGXUN_ENVIRONMENT=production")
            if self.secret_key == DEV_SECRET_KEY:
                raise ValueError("secret_key: the development key is refused in production")
            if len(self.secret_key) < MIN_SECRET_KEY_LENGTH:
                raise ValueError(
                    f"secret_key: must be at least {MIN_SECRET_KEY_LENGTH} characters in production"
                )
        elif not self.secret_key:
            # Allowed outside production; create_app logs a warning so it is never silent.
            self.secret_key = DEV_SECRET_KEY
        return self

    @property
    def effective_secret_key(self) -> str:
        """The secret key, never None after validation."""
        assert self.secret_key is not None  # guaranteed by _check_secret_key
        return self.secret_key

    @property
    def is_sqlite(self) -> bool:
        """True when the database is SQLite."""
        return self.database_url.startswith("sqlite")


def _env_name(loc: tuple[Any, ...]) -> str:
    """Map a pydantic error location to the environment variable the user sets."""
    if not loc:
        return ENV_PREFIX + "*"
    return ENV_PREFIX + str(loc[0]).upper()


def load_settings(**overrides: Any) -> Settings:
    """Build :class:`Settings`, turning a validation failure into a :class:`ConfigError`.

    The message lists each bad variable by its ``FANGXUN_...`` name and says what was wrong.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Settings(**overrides)
    except ValidationError as exc:
        problems: list[str] = []
        for err in exc.errors():
            loc = tuple(err.get("loc", ()))
            msg = str(err.get("msg", "invalid"))
            if not loc and msg.startswith("Value error, secret_key:"):
                # Model-level validator: recover the field name from the message.
                loc = ("secret_key",)
                msg = msg.removeprefix("Value error, secret_key:").strip()
            msg = msg.removeprefix("Value error, ")
            problems.append(f"{_env_name(loc)}: {msg}")
        raise ConfigError("Invalid configuration: " + "; ".join(problems)) from exc


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, built on first call and cached. Raises :class:`ConfigError`."""
    return load_settings()
