"""Network import, station links, and the network a forecast gets (telemetry and what-ifs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from drainage_cases import street_network, write_terrain
from sqlalchemy.orm import Session

from fangxun.audit.service import SystemActor
from fangxun.config import Settings
from fangxun.drainage import service
from fangxun.drainage.models import DrainageNetwork, StationRole
from fangxun.errors import ValidationFailed
from fangxun.forecast import engine
from fangxun.inundation import Hyetograph
from fangxun.inundation.io import read_terrain
from fangxun.monitoring.models import Datastream, ObservedProperty, Station, StationKind

ACTOR = SystemActor("test")


def _two_pump_network() -> str:
    text = street_network(pump=True)
    return text.replace(
        "P1 W1 O1 PC1 ON 0.3 0", "P1 W1 O1 PC1 ON 0.3 0\nP2 W1 O1 PC1 ON 0.3 0"
    ).replace("J1 8.4", "J1 8.4")


def _station(session: Session, code: str, kind: StationKind, props: dict[str, float]) -> None:
    st = Station(code=code, name_zh=code, kind=kind, lon=113.6, lat=34.7)
    session.add(st)
    session.flush()
    for prop, value in props.items():
        op = session.query(ObservedProperty).filter_by(code=prop).one_or_none()
        if op is None:
            op = ObservedProperty(code=prop, name_zh=prop, name_en=prop, si_unit="1")
            session.add(op)
            session.flush()
        session.add(
            Datastream(
                code=f"{code}-{prop}",
                name=prop,
                station_id=st.id,
                observed_property_id=op.id,
                unit="1",
                last_value=value,
                guarantee_level_m=11.0 if prop == "river_level" else None,
            )
        )
    session.flush()


@pytest.fixture
def imported(db_session: Session, settings: Settings, tmp_path: Path) -> DrainageNetwork:
    inp = tmp_path / "district.inp"
    inp.write_text(_two_pump_network())
    grid = read_terrain(write_terrain(tmp_path / "dem.tif"))
    return service.import_network(
        session=db_session, settings=settings, inp_path=inp, name="街区管网", actor=ACTOR,
        terrain=grid,
    )  # fmt: skip


def test_import_keeps_a_copy_and_the_check_report(
    imported: DrainageNetwork, settings: Settings, db_session: Session
) -> None:
    assert (settings.data_dir / imported.inp_file).read_text() == _two_pump_network()
    assert imported.pump_count == 2 and imported.outfall_count == 1
    assert imported.check_report is not None and imported.check_report["ok"] is True
    assert service.active_network(session=db_session) is imported


def test_bad_network_is_refused(db_session: Session, settings: Settings, tmp_path: Path) -> None:
    bad = tmp_path / "bad.inp"
    bad.write_text("[JUNCTIONS]\nJ1 x\n")
    with pytest.raises(ValidationFailed, match="SWMM cannot read"):
        service.import_network(
            session=db_session, settings=settings, inp_path=bad, name="x", actor=ACTOR
        )


def test_forecast_network_takes_pumps_and_river_from_telemetry(
    imported: DrainageNetwork, db_session: Session, settings: Settings, tmp_path: Path
) -> None:
    _station(db_session, "PS01", StationKind.pump_station, {"pumps_running": 1.0, "power": 1.0})
    _station(db_session, "RG01", StationKind.river_gauge, {"river_level": 9.2})
    for pump in ("P1", "P2"):
        service.link_station(
            session=db_session, network=imported, station_code="PS01", role=StationRole.pump,
            swmm_name=pump, actor=ACTOR, settings=settings,
        )  # fmt: skip
    service.link_station(
        session=db_session, network=imported, station_code="RG01", role=StationRole.outfall,
        swmm_name="O1", actor=ACTOR, settings=settings,
    )  # fmt: skip
    grid = read_terrain(tmp_path / "dem.tif")
    net = service.forecast_network(session=db_session, settings=settings, grid=grid)
    assert net is not None
    assert net.pumps_off == ("P2",)  # one of two running
    assert net.tailwater == {"O1": 9.2}
    assert set(net.cells) == {"J1", "J2", "J3", "W1"}

    whatif = service.DrainageWhatIf.from_params(
        {"pumps_off": ["PS01"], "inlet_factor": 0.5, "river_at_guarantee": True}
    )
    net = service.forecast_network(session=db_session, settings=settings, grid=grid, whatif=whatif)
    assert net is not None
    assert net.pumps_off == ("P1", "P2")
    assert net.tailwater == {"O1": 11.0}
    assert net.inlet_factor == dict.fromkeys(net.cells, 0.5)
    with pytest.raises(ValidationFailed, match="neither"):
        service.forecast_network(
            session=db_session, settings=settings, grid=grid,
            whatif=service.DrainageWhatIf(pumps_off=("NOPE",)),
        )  # fmt: skip


def test_link_station_checks_kind_and_name(
    imported: DrainageNetwork, db_session: Session, settings: Settings
) -> None:
    _station(db_session, "RG02", StationKind.river_gauge, {})
    with pytest.raises(ValidationFailed, match="not a"):
        service.link_station(
            session=db_session, network=imported, station_code="RG02", role=StationRole.pump,
            swmm_name="P1", actor=ACTOR, settings=settings,
        )  # fmt: skip
    with pytest.raises(ValidationFailed, match="is not a outfall"):
        service.link_station(
            session=db_session, network=imported, station_code="RG02", role=StationRole.outfall,
            swmm_name="J1", actor=ACTOR, settings=settings,
        )  # fmt: skip


def test_member_coupled_with_the_network_drains_the_street(tmp_path: Path) -> None:
    """The forecast engine runs a member coupled with the network: water leaves through it."""
    inp_text = street_network(diameter_m=0.5)
    dem = write_terrain(tmp_path / "dem.tif")
    district = engine.build_district(str(dem), resolution_m=2.0, manning=0.03, drainage_mm_h=0.0)
    grid = district.grid()
    from fangxun.drainage.checks import cell_of
    from fangxun.drainage.network import read_inp

    path = tmp_path / "n.inp"
    path.write_text(inp_text)
    net = read_inp(path)
    cells = {}
    for n in ("J1", "J2", "J3"):
        node = net.nodes[n]
        assert node.x is not None and node.y is not None
        cell = cell_of(grid, node.x, node.y)
        assert cell is not None
        cells[n] = cell
    spec = engine.MemberSpec(
        rain=Hyetograph([0.0, 900.0], [60.0, 0.0]),
        horizon_s=1800.0,
        output_interval_s=300.0,
        gauges={"J1": cells["J1"]},
        backend="numpy",
    )
    dry = engine.run_member(district, spec)
    coupled_district = engine.District(
        **{**district.__dict__, "network": engine.NetworkSpec(inp_text=inp_text, cells=cells)}
    )
    wet = engine.run_member(coupled_district, spec)
    # the district model has open edges: without pipes water stays or runs off at the edges
    assert float(np.nansum(wet.final_depth)) < 0.5 * float(np.nansum(dry.final_depth))
    assert wet.times_s[-1] == pytest.approx(1800.0, abs=5.0)
