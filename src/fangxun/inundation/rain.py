"""Rain inputs of the model, from :mod:`rainkit` (the pure rain toolkit, outside fangxun).

The core keeps this name so that ``from fangxun.inundation.rain import Hyetograph`` goes on working;
code outside forecast takes storm formulas and design storms from :mod:`rainkit` directly.
"""

from __future__ import annotations

from rainkit import (
    EXAMPLE_FORMULA_UNVERIFIED,
    MM_H_TO_M_S,
    FloatArray,
    GriddedRain,
    Hyetograph,
    RainScenario,
    StormFormula,
    chicago_hyetograph,
    idw_gridded_rain,
    zhengzhou_720_reconstruction,
)

__all__ = [
    "EXAMPLE_FORMULA_UNVERIFIED",
    "MM_H_TO_M_S",
    "FloatArray",
    "GriddedRain",
    "Hyetograph",
    "RainScenario",
    "StormFormula",
    "chicago_hyetograph",
    "idw_gridded_rain",
    "zhengzhou_720_reconstruction",
]
