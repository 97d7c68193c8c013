"""One time module: the district's zone is a setting, one formatter, one Jinja filter."""

from __future__ import annotations

import doctest
from collections.abc import Iterator
from datetime import UTC, datetime

import jinja2
import pytest

from fangxun import times
from fangxun.config import get_settings, load_settings
from fangxun.errors import ConfigError

MOMENT = datetime(2026, 7, 20, 8, 30, 15, tzinfo=UTC)


@pytest.fixture
def fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_doctests() -> None:
    result = doctest.testmod(times)
    assert result.attempted > 0 and result.failed == 0


def test_default_zone_is_shanghai(fresh_settings: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FANGXUN_DISPLAY_TIMEZONE", raising=False)
    assert times.local_zone().key == "Asia/Shanghai" == times.DEFAULT_ZONE
    assert times.local(MOMENT) == "2026-07-20 16:30"
    assert times.local(MOMENT, times.SHORT_SECONDS) == "07-20 16:30:15"
    assert times.local("2026-07-20T08:30:15+00:00", times.SHORT) == "07-20 16:30"
    assert times.local(None) == "" and times.local(None, empty="—") == "—"


def test_the_zone_is_a_setting(fresh_settings: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FANGXUN_DISPLAY_TIMEZONE", "Europe/London")
    assert times.local_zone().key == "Europe/London"
    assert times.local(MOMENT) == "2026-07-20 09:30"  # BST, UTC+1
    assert times.to_local(MOMENT).utcoffset() is not None


def test_an_unknown_zone_is_refused() -> None:
    with pytest.raises(ConfigError, match="DISPLAY_TIMEZONE"):
        load_settings(display_timezone="Mars/Olympus_Mons")


def test_jinja_filter(fresh_settings: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FANGXUN_DISPLAY_TIMEZONE", raising=False)
    env = jinja2.Environment(autoescape=True)
    times.install_filters(env, empty="—")
    out = env.from_string("{{ t | local }}|{{ t | local('%H:%M') }}|{{ none | local }}").render(
        t=MOMENT, none=None
    )
    assert out == "2026-07-20 16:30|16:30|—"


def test_parse_instant_wants_an_offset() -> None:
    from fangxun.errors import ValidationFailed

    assert times.parse_instant(None, "--since") is None
    assert times.parse_instant("2026-07-20T16:30+08:00", "--since") == MOMENT.replace(second=0)
    with pytest.raises(ValidationFailed, match="no time zone offset") as info:
        times.parse_instant("2026-07-20T16:30", "--since")
    assert info.value.problems[0].loc == ("--since",)
    with pytest.raises(ValidationFailed, match="not an ISO 8601 time"):
        times.parse_instant("tomorrow", "--until")
