"""Settings: defaults, validation, and errors that name the FANGXUN_ variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from fangxun.config import DEV_SECRET_KEY, Settings, get_settings, load_settings
from fangxun.errors import ConfigError

GOOD_KEY = "k" * 40


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Tests must not see a developer's FANGXUN_* variables or .env file.
    import os

    for name in list(os.environ):
        if name.startswith("FANGXUN_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()


def test_defaults() -> None:
    s = load_settings()
    assert s.environment == "development"
    assert s.database_url == "sqlite:///./var/fangxun.db"
    assert s.port == 8000
    assert s.language == "zh"
    assert s.basemap_url is None
    assert s.data_dir == Path("./var")
    assert s.token_ttl_s > 0 and s.session_ttl_s > 0
    assert s.login_max_attempts > 0 and s.login_window_s > 0


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FANGXUN_PORT", "9123")
    monkeypatch.setenv("FANGXUN_LANGUAGE", "en")
    monkeypatch.setenv("FANGXUN_DATABASE_URL", "postgresql+psycopg://u@db:5432/fx")
    s = load_settings()
    assert (s.port, s.language, s.database_url) == (9123, "en", "postgresql+psycopg://u@db:5432/fx")


def test_dev_key_outside_production() -> None:
    for env in ("development", "demo", "test"):
        assert load_settings(environment=env).secret_key == DEV_SECRET_KEY


@pytest.mark.parametrize(
    ("overrides", "variable", "words"),
    [
        ({"environment": "production"}, "FANGXUN_SECRET_KEY", "required"),
        ({"environment": "production", "secret_key": "short"}, "FANGXUN_SECRET_KEY", "at least"),
        (
            {"environment": "production", "secret_key": DEV_SECRET_KEY},
            "FANGXUN_SECRET_KEY",
            "development key",
        ),
        ({"port": "eighty"}, "FANGXUN_PORT", "integer"),
        ({"port": 70000}, "FANGXUN_PORT", "65535"),
        ({"database_url": "mysql://x@y/z"}, "FANGXUN_DATABASE_URL", "sqlite"),
        ({"database_url": "postgresql://x@y/z"}, "FANGXUN_DATABASE_URL", "psycopg"),
        ({"language": "fr"}, "FANGXUN_LANGUAGE", "zh"),
        ({"environment": "staging"}, "FANGXUN_ENVIRONMENT", "production"),
        ({"basemap_url": "https://tiles.example/{z}/{x}.png"}, "FANGXUN_BASEMAP_URL", "{y}"),
        ({"login_max_attempts": 0}, "FANGXUN_LOGIN_MAX_ATTEMPTS", "greater than 0"),
    ],
)
def test_bad_setting_names_the_variable(
    overrides: dict[str, object], variable: str, words: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(**overrides)
    assert variable in info.value.detail
    assert words in info.value.detail


def test_bad_environment_variable_fails_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FANGXUN_ENVIRONMENT", "production")
    monkeypatch.setenv("FANGXUN_TOKEN_TTL_S", "-5")
    monkeypatch.setenv("FANGXUN_SECRET_KEY", GOOD_KEY)
    with pytest.raises(ConfigError, match="FANGXUN_TOKEN_TTL_S"):
        get_settings()


def test_production_with_a_real_key() -> None:
    s = load_settings(environment="production", secret_key=GOOD_KEY)
    assert s.effective_secret_key == GOOD_KEY


def test_basemap_url_accepts_a_template_and_blank_means_offline() -> None:
    url = "https://tile.example.org/{z}/{x}/{y}.png"
    assert load_settings(basemap_url=url).basemap_url == url
    assert load_settings(basemap_url="  ").basemap_url is None


def test_settings_are_cached_not_built_at_import() -> None:
    import fangxun.config as config

    assert not any(isinstance(v, Settings) for v in vars(config).values())
    assert get_settings() is get_settings()
