"""Units of measure at the edge of monitoring, and their conversion to SI inside.

Observations are stored in SI (metres, m³/s, dimensionless counts); a datastream names the unit
its sensor sends (``mm``, ``cm``, ``m``, ``m3/s``, ``1``), and values are converted once on the way
in and once on the way out.

>>> to_si(12.5, "mm")
0.0125
>>> round(from_si(0.3, "cm"), 9)
30.0
"""

from __future__ import annotations

from fangxun.errors import ValidationFailed

#: Multiply a value in this unit by the factor to get SI. Symbols follow UCUM where it has them.
SI_FACTORS: dict[str, float] = {
    "mm": 1e-3,
    "cm": 1e-2,
    "m": 1.0,
    "m3/s": 1.0,
    "1": 1.0,  # counts (pumps running) and on/off (1 = on)
}


def check_unit(unit: str) -> str:
    """Return ``unit`` if Fangxun knows it, else raise :class:`ValidationFailed` naming it."""
    if unit not in SI_FACTORS:
        raise ValidationFailed(
            f"unknown unit {unit!r}; use one of {', '.join(sorted(SI_FACTORS))}", loc=("unit",)
        )
    return unit


def to_si(value: float, unit: str) -> float:
    """``value`` given in ``unit`` expressed in SI (m, m³/s, 1)."""
    return value * SI_FACTORS[unit]


def from_si(value: float, unit: str) -> float:
    """``value`` in SI (m, m³/s, 1) expressed in ``unit``."""
    return value / SI_FACTORS[unit]
