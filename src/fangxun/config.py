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
    basemap_url: str | None = None
    data_dir: Path = Path("./var")
    #: API bearer token lifetime, s.
    token_ttl_s: int = Field(default=12 * 3600, gt=0)
    #: Web session cookie lifetime, s.
    session_ttl_s: int = Field(default=12 * 3600, gt=0)
    #: Failed logins per username (or client IP) tolerated within ``login_window_s``.
    login_max_attempts: int = Field(default=5, gt=0)
    #: Sliding window for counting failed logins, s.
    login_window_s: int = Field(default=15 * 60, gt=0)
    #: Failed logins tolerated from one client address within the window (offices share NAT).
    login_max_attempts_per_ip: int = Field(default=50, gt=0)
    #: Log SQL statements (debugging only).
    sql_echo: bool = False
    #: Duty: a shift nobody has checked in to this long after its start raises an alarm, s.
    duty_check_in_grace_s: int = Field(default=30 * 60, gt=0)
    #: Incidents: public reports accepted per client address within ``public_report_window_s``.
    public_report_max: int = Field(default=5, gt=0)
    #: Incidents: sliding window of the public form's rate limit, s.
    public_report_window_s: int = Field(default=3600, gt=0)
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
        default_factory=lambda: {"default": 0.03, "road": 0.016, "green": 0.1, "building": 0.2}
    )
    #: Drainage design return period (years): pipes take the design storm's mean intensity.
    forecast_drainage_return_period_years: float = Field(default=1.0, gt=0.0)
    #: Drainage design duration (time of concentration), s.
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
