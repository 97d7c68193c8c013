"""fangxun.inundation: a fast, validated 2-D surface-flow model for ponding forecasts.

Pure NumPy/Numba; imports nothing else from ``fangxun``. See :mod:`.model` for the scheme and an
example.
"""

from ._backend import available_backends, register_backend
from .config import FIELDS, NumericsConfig, OutputConfig
from .drainage import Horton, PointInflow, shared_inflow
from .grid import Grid
from .model import Model, ScheduledExchange
from .rain import GriddedRain, Hyetograph
from .subgrid import SubgridModel, SubgridTables, build_tables

__all__ = [
    "FIELDS",
    "Grid",
    "GriddedRain",
    "Horton",
    "Hyetograph",
    "Model",
    "NumericsConfig",
    "OutputConfig",
    "PointInflow",
    "ScheduledExchange",
    "SubgridModel",
    "SubgridTables",
    "available_backends",
    "build_tables",
    "register_backend",
    "shared_inflow",
]
