"""fangxun.inundation: a fast, validated 2-D surface-flow model for ponding forecasts.

Pure NumPy/Numba; imports nothing else from ``fangxun``. See :mod:`.model` for the scheme and an
example.
"""

from ._backend import available_backends, register_backend
from .drainage import Horton, PointInflow, shared_inflow
from .grid import Grid
from .model import Model
from .rain import GriddedRain, Hyetograph
from .subgrid import SubgridModel, SubgridTables, build_tables

__all__ = [
    "Grid",
    "GriddedRain",
    "Horton",
    "Hyetograph",
    "Model",
    "PointInflow",
    "SubgridModel",
    "SubgridTables",
    "available_backends",
    "build_tables",
    "register_backend",
    "shared_inflow",
]
