"""The demo district's drainage network: imported as the active network and driven by telemetry.

The synthetic ``.inp`` of :mod:`fangxun.demo.network` is written to ``<data_dir>/demo/network.inp``
and imported (:func:`fangxun.drainage.service.import_network`, checked against the demo terrain),
then linked to the monitoring seed's stations: each pump station drives the three SWMM pumps of
the underpass it serves (:data:`~fangxun.demo.network.PUMP_STATION_OF`), and each outfall takes
the level of the river gauge nearest to it along the river as its tailwater. With that, the 7·20
replay's pump power failure turns the station's pumps off in the next forecasts.

Idempotent: when the active network is already this file (same SHA-256), nothing is created.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from fangxun.config import Settings
from fangxun.demo.actor import DEMO_ACTOR
from fangxun.demo.monitoring_seed import RIVER_GAUGES
from fangxun.demo.network import PUMP_STATION_OF, PUMPS_PER_STATION, demo_network_inp
from fangxun.demo.terrain import CELL_SIZE_M, N_ROWS, demo_terrain, grid_transform
from fangxun.drainage import service
from fangxun.drainage.models import StationRole
from fangxun.drainage.network import read_inp
from fangxun.monitoring.models import Station

log = logging.getLogger(__name__)

NETWORK_FILE = "network.inp"
NETWORK_NAME = "演示排水管网(合成)"


@dataclass
class DrainageSeedSummary:
    """What :func:`seed_drainage` did."""

    network_id: int | None = None
    created: bool = False
    links_created: int = 0


def seed_drainage(*, session: Session, settings: Settings) -> DrainageSeedSummary:
    """Write, import and link the demo network (see the module docstring); never commits."""
    summary = DrainageSeedSummary()
    terrain = demo_terrain()
    folder = Path(settings.data_dir) / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / NETWORK_FILE
    text = demo_network_inp(terrain)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    active = service.active_network(session=session)
    if active is not None and active.sha256 == digest:
        summary.network_id = active.id
        return summary
    grid = service.district_terrain(settings)  # the demo terrain written by the loader
    row = service.import_network(
        session=session,
        settings=settings,
        inp_path=path,
        name=NETWORK_NAME,
        actor=DEMO_ACTOR,
        terrain=grid,
    )
    summary.network_id, summary.created = row.id, True
    codes = set(session.scalars(select(Station.code)))
    links: list[tuple[str, StationRole, str]] = []
    for station, underpass in PUMP_STATION_OF.items():
        links += [
            (station, StationRole.pump, f"{underpass}-P{j}")
            for j in range(1, PUMPS_PER_STATION + 1)
        ]
    south = grid_transform().f - N_ROWS * CELL_SIZE_M
    parsed = read_inp(path)
    for outfall in parsed.outfalls:
        s = (outfall.y or south) - south
        gauge = min(RIVER_GAUGES, key=lambda g: abs(g[3] - s))[0]
        links.append((gauge, StationRole.outfall, outfall.name))
    for code, role, swmm_name in links:
        if code not in codes:  # the monitoring seed was not loaded: nothing to drive it
            continue
        service.link_station(
            session=session,
            network=row,
            station_code=code,
            role=role,
            swmm_name=swmm_name,
            actor=DEMO_ACTOR,
            settings=settings,
            parsed=parsed,
        )
        summary.links_created += 1
    log.info("demo network %s imported with %d station links", row.id, summary.links_created)
    return summary
