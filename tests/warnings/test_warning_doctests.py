"""The runnable examples in the warnings modules' docstrings."""

from __future__ import annotations

import doctest
from types import ModuleType

import pytest

from fangxun import warning_rules as config
from fangxun.warnings import cap, impact, rules, verification


@pytest.mark.parametrize(
    "module", [cap, config, impact, rules, verification], ids=lambda m: m.__name__
)
def test_doctests(module: ModuleType) -> None:
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
