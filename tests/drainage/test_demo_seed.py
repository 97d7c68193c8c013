"""The demo loader imports the demo network and links it to the seed's stations, so that the
replay's pump power failure turns that station's SWMM pumps off in the next forecast."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from fangxun.config import Settings
from fangxun.demo.drainage_seed import seed_drainage
from fangxun.demo.files import ensure_terrain_files
from fangxun.demo.monitoring_seed import seed_monitoring
from fangxun.demo.network import PUMP_STATION_OF
from fangxun.demo.terrain import demo_terrain, grid_transform
from fangxun.drainage import service
from fangxun.drainage.models import DrainageStationLink, StationRole
from fangxun.inundation import Grid
from fangxun.monitoring.models import Datastream


def _grid() -> Grid:
    t = demo_terrain()
    return Grid(
        elevation=t.elevation.astype(float),
        cell_size=t.cell_size_m,
        transform=grid_transform(),
        crs=t.crs,
    )


def test_demo_network_is_imported_once_and_driven_by_the_pump_stations(
    db_session: Session, settings: Settings
) -> None:
    ensure_terrain_files(settings.data_dir)  # as the loader does before
    seed_monitoring(session=db_session)
    first = seed_drainage(session=db_session, settings=settings)
    again = seed_drainage(session=db_session, settings=settings)
    assert first.created and not again.created and again.network_id == first.network_id
    row = service.active_network(session=db_session)
    assert row is not None and row.check_report is not None and row.check_report["ok"]
    links = list(db_session.scalars(select(DrainageStationLink)))
    pump_links = [lk for lk in links if lk.role == StationRole.pump]
    assert len(pump_links) == 3 * len(PUMP_STATION_OF)
    assert sum(lk.role == StationRole.outfall for lk in links) == row.outfall_count
    assert first.links_created == len(links)

    # before the failure: every pump as the .inp has it
    grid = _grid()
    net = service.forecast_network(session=db_session, settings=settings, grid=grid)
    assert net is not None and net.pumps_off == ()
    # the replay reports the second station's power lost (power = 0), its pumps stopped
    power = db_session.scalar(select(Datastream).where(Datastream.code == "PS02-power"))
    assert power is not None
    power.last_value = 0.0
    db_session.flush()
    net = service.forecast_network(session=db_session, settings=settings, grid=grid)
    assert net is not None
    underpass = PUMP_STATION_OF["PS02"]
    assert net.pumps_off == tuple(f"{underpass}-P{j}" for j in (1, 2, 3))
    assert any("PS02" in note and "no power" in note for note in net.notes)
