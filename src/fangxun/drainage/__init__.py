"""fangxun.drainage: the drainage network (EPA SWMM via pyswmm) and its coupling to the surface.

* :mod:`.network` — a ``.inp`` file into plain dataclasses (nodes with rims, links, coordinates).
* :mod:`.checks` — the network against a terrain grid (nodes off the grid, rims vs ground,
  parts that reach no outfall), as a report.
* :mod:`.coupler` — the 1-D/2-D coupler: arrays in, arrays out, no database.
* :mod:`.run` — a coupled run from files (what ``fangxun drainage run`` calls).
"""

from .checks import TerrainCheck, check_against_terrain
from .coupler import Coupler, CouplingResult, ExchangeParams, exchange_capacity
from .network import Link, Network, NetworkError, Node, read_inp

__all__ = [
    "Coupler",
    "CouplingResult",
    "ExchangeParams",
    "Link",
    "Network",
    "NetworkError",
    "Node",
    "TerrainCheck",
    "check_against_terrain",
    "exchange_capacity",
    "read_inp",
]
