"""The response rules are configuration: defaults from facts.md, a bad value stops the program
with a message that names the variable, and level I is never a rule's."""

from __future__ import annotations

import pytest

from fangxun.config import load_settings
from fangxun.errors import ConfigError


def test_defaults_follow_zhengzhou_practice() -> None:
    settings = load_settings(environment="test", database_url="sqlite://")
    assert settings.response_level_rules == {"yellow": "IV", "orange": "III", "red": "II"}
    assert settings.response_rule_mode == "propose"


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ({"red": "I"}, "level I starts only by decision"),
        ({"purple": "IV"}, "unknown colour"),
        ({"yellow": "V"}, "level must be IV, III or II"),
    ],
)
def test_bad_rules_name_the_variable(rules: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(environment="test", database_url="sqlite://", response_level_rules=rules)
    assert "FANGXUN_RESPONSE_LEVEL_RULES" in str(err.value) and message in str(err.value)


def test_rules_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FANGXUN_RESPONSE_LEVEL_RULES", '{"blue": "IV", "yellow": "III"}')
    monkeypatch.setenv("FANGXUN_RESPONSE_RULE_MODE", "start")
    settings = load_settings(environment="test", database_url="sqlite://")
    assert settings.response_level_rules == {"blue": "IV", "yellow": "III"}
    assert settings.response_rule_mode == "start"
