"""Web forms check what the API's schemas check, with the numbers in one place (the schema), and
the pages' day windows are settings."""

from __future__ import annotations

import math

import pytest
from pydantic import BaseModel, Field

from fangxun.config import load_settings
from fangxun.errors import ConfigError
from fangxun.forecast.schemas import DesignRain, ForecastRunCreate
from fangxun.web import forecast_pages
from fangxun.web.forms import field_bounds


class _Sample(BaseModel):
    a: float = Field(gt=0, le=10)
    b: int = Field(ge=1, lt=5)
    c: float = 0.0


def test_field_bounds_reads_the_constraints() -> None:
    assert field_bounds(_Sample, "a") == (0.0, 10.0)
    assert field_bounds(_Sample, "b") == (1.0, 5.0)
    assert field_bounds(_Sample, "c") == (-math.inf, math.inf)


def test_forecast_form_bounds_are_the_schemas() -> None:
    assert forecast_pages.FORM_MAX_MEMBERS == 200
    assert field_bounds(ForecastRunCreate, "members") == (1.0, 200.0)
    assert forecast_pages._P_MAX == field_bounds(DesignRain, "return_period_years")[1] == 1000.0
    assert forecast_pages._DURATION_MAX_MIN == 2880.0
    assert forecast_pages._HORIZON_MAX_MIN == 2880.0


def test_page_windows_are_settings() -> None:
    s = load_settings()
    assert (s.duty_page_days, s.roster_export_days) == (7, 31)
    assert (s.supplies_expiring_days, s.rectification_default_days) == (30, 7)
    assert load_settings(roster_export_days=62).roster_export_days == 62
    with pytest.raises(ConfigError, match="ROSTER_EXPORT_DAYS"):
        load_settings(roster_export_days=0)
