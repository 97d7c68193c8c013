"""The warning rules' configuration, kept beside the settings in :mod:`fangxun.warning_rules` (the
settings import no domain); re-exported here for the warnings domain."""

from __future__ import annotations

from fangxun.warning_rules import (
    ALL_RULES,
    CAP_SEVERITIES,
    COLOURS,
    RainRule,
    RuleKind,
    WarningRules,
)

__all__ = ["ALL_RULES", "CAP_SEVERITIES", "COLOURS", "RainRule", "RuleKind", "WarningRules"]
