"""Helpers of the report tests: a crafted district with one rain gauge, three ponding sensors at
hazard points, a pump station that loses power, a river gauge, a forecast run, an incident and (when
the warnings table exists) a warning — every series known in closed form so the tests can compute
the expected statistics on their own."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from factories import make_unit
from fangxun.audit.service import SystemActor
from fangxun.forecast.models import ForecastPointResult, ForecastRun, RainSource, RunStatus
from fangxun.hazards import service as hazards_service
from fangxun.hazards.models import HazardKind
from fangxun.hazards.schemas import HazardPointCreate, Thresholds
from fangxun.incidents import service as incidents_service
from fangxun.incidents.models import IncidentKind
from fangxun.incidents.schemas import IncidentCreate
from fangxun.monitoring import service as monitoring
from fangxun.monitoring.models import Observation
from fangxun.monitoring.schemas import DatastreamCreate, StationCreate
from fangxun.org import service as org_service
from fangxun.org.models import UnitKind
from fangxun.org.schemas import PersonCreate

SYSTEM = SystemActor(username="report-tests")
T0 = datetime(2026, 7, 10, 0, 0, tzinfo=UTC)  # 08:00 in Beijing
STEP = timedelta(minutes=5)
H = 3600.0


def rain_mm(k: int) -> float:
    """Rain of the 5-minute interval ending at T0 + k·5 min, mm: 5 mm for hour 1–2, 2 mm for
    hour 2–3, dry otherwise (84 mm in all)."""
    t = k * 300.0
    if H < t <= 2 * H:
        return 5.0
    if 2 * H < t <= 3 * H:
        return 2.0
    return 0.0


def depth_pd1(t_s: float) -> float:
    """Triangle at the underpass: 0 until 1 h, 0.5 m at 2.5 h, 0 at 5 h, m."""
    if t_s <= H:
        return 0.0
    if t_s <= 2.5 * H:
        return 0.5 * (t_s - H) / (1.5 * H)
    if t_s <= 5 * H:
        return 0.5 * (5 * H - t_s) / (2.5 * H)
    return 0.0


def depth_pd2(t_s: float) -> float:
    """The low road: rises to 0.3 m at 3 h, then stays at 0.25 m (never drains), m."""
    if t_s <= H:
        return 0.0
    if t_s <= 3 * H:
        return 0.3 * (t_s - H) / (2 * H)
    return 0.25


def depth_pd3(t_s: float) -> float:
    """The compound: never more than 5 cm, m."""
    return 0.05 if 2 * H <= t_s <= 3 * H else 0.0


@dataclass
class Crafted:
    """Ids of the crafted district."""

    district: int
    office: int
    person: int
    points: dict[str, int] = field(default_factory=dict)
    warnings_table: bool = False


def _obs(session: Session, code: str, series: list[tuple[datetime, float]]) -> None:
    ds = monitoring.get_datastream(session=session, code=code, actor=None)
    session.add_all(
        [Observation(datastream_id=ds.id, phenomenon_time=t, value=v, flags=0) for t, v in series]
    )


def build(session: Session) -> Crafted:
    """Create the crafted district in ``session`` (flushed, not committed)."""
    d = make_unit(session, "RPQ", UnitKind.district, name_zh="报表区", actor=SYSTEM)
    office = make_unit(
        session, "RPJD", UnitKind.street_office, d.id, name_zh="报表街道", actor=SYSTEM
    )
    person = org_service.create_person(
        session=session, person_in=PersonCreate(name="张责任", unit_id=office.id), actor=SYSTEM
    )
    c = Crafted(district=d.id, office=office.id, person=person.id)
    monitoring.ensure_observed_properties(session=session)
    kinds = {
        "PD1": HazardKind.underpass,
        "PD2": HazardKind.low_lying_road,
        "PD3": HazardKind.residential_compound,
    }
    for i, (code, kind) in enumerate(kinds.items()):
        lon, lat = 113.50 + 0.01 * i, 34.80
        c.points[code] = hazards_service.create_point(
            session=session,
            point_in=HazardPointCreate(
                code=f"HP-{code}",
                name=f"测试点{code}",
                kind=kind,
                lon=lon,
                lat=lat,
                unit_id=office.id,
                responsible_person_id=person.id,
                thresholds_cm=Thresholds(blue=15.0, yellow=27.0, orange=40.0, red=50.0),
            ),
            actor=SYSTEM,
        ).id
        monitoring.create_station(
            session=session,
            station_in=StationCreate(
                code=code,
                name_zh=f"积水站{code}",
                kind="ponding",
                lon=lon,
                lat=lat,
                elevation_m=100.0,
                unit_id=office.id,
                hazard_point_id=c.points[code],
            ),
            actor=None,
        )
        monitoring.create_datastream(
            session=session,
            datastream_in=DatastreamCreate(
                code=f"{code}-depth",
                name=f"{code} depth",
                station_code=code,
                observed_property="ponding_depth",
                unit="cm",
            ),
            actor=None,
        )
    stations = [
        ("RG1", "rain_gauge", 113.51, 34.80, None, {}),
        ("PS1", "pump_station", 113.50, 34.801, None, {"serves": "PD1"}),
        ("RV1", "river_gauge", 113.52, 34.81, 95.0, {"bank_m": 99.0}),
    ]
    for code, kind, lon, lat, elev, props in stations:
        monitoring.create_station(
            session=session,
            station_in=StationCreate(
                code=code,
                name_zh=f"站{code}",
                kind=kind,
                lon=lon,
                lat=lat,
                elevation_m=elev,
                properties=props,
            ),
            actor=None,
        )
    for code, station, prop, unit, interval in (
        ("RG1-rain", "RG1", "rainfall", "mm", 300),
        ("PS1-pumps", "PS1", "pumps_running", "1", None),
        ("PS1-power", "PS1", "power", "1", None),
        ("RV1-level", "RV1", "river_level", "m", None),
    ):
        monitoring.create_datastream(
            session=session,
            datastream_in=DatastreamCreate(
                code=code,
                name=code,
                station_code=station,
                observed_property=prop,
                unit=unit,
                interval_s=interval,
            ),
            actor=None,
        )
    steps = range(0, 8 * 12 + 1)  # 8 hours of 5-minute values
    _obs(session, "RG1-rain", [(T0 + k * STEP, rain_mm(k) / 1000.0) for k in steps if k > 0])
    for code, f in (("PD1", depth_pd1), ("PD2", depth_pd2), ("PD3", depth_pd3)):
        _obs(session, f"{code}-depth", [(T0 + k * STEP, f(k * 300.0)) for k in steps])
    # The pump runs from 1 h; the power fails at 1.5 h and comes back at 4 h.
    pumps = [
        (T0 + k * STEP, 0.0 if k * 300 < H or 1.5 * H <= k * 300 < 4 * H else 2.0) for k in steps
    ]
    power = [(T0 + k * STEP, 0.0 if 1.5 * H <= k * 300 < 4 * H else 1.0) for k in steps]
    _obs(session, "PS1-pumps", pumps)
    _obs(session, "PS1-power", power)
    _obs(session, "RV1-level", [(T0 + k * STEP, 96.0) for k in steps])  # below every outfall
    # A forecast issued at 0.5 h: 40 cm at 2 h at PD1.
    run = ForecastRun(
        rain_source=RainSource.design,
        params={},
        members=1,
        horizon_s=3 * H,
        status=RunStatus.done,
        created_by="t",
        issued_at=T0 + timedelta(minutes=30),
        progress=1.0,
    )
    session.add(run)
    session.flush()
    session.add(
        ForecastPointResult(
            run_id=run.id,
            point_id=c.points["PD1"],
            row=0,
            col=0,
            times_s=[0.0, 5400.0],
            depth_m=[0.0, 0.4],
            peak_depth_m=0.4,
            peak_time_s=5400.0,
            time_to_threshold_s={},
            probability={},
            member_peaks_m=[0.4],
            thresholds_m={},
        )
    )
    incidents_service.report(
        session=session,
        incident_in=IncidentCreate(
            unit_id=office.id,
            kind=IncidentKind.underpass_flooding,
            title="下穿积水",
            hazard_point_id=c.points["PD1"],
            reported_at=T0 + 2 * timedelta(hours=1),
        ),
        actor=None,
    )
    c.warnings_table = bool(inspect(session.connection()).has_table("warning"))
    if c.warnings_table:
        from fangxun.warnings.models import Colour, Origin, Warning, WarningKind

        session.add(
            Warning(
                subject=f"ponding:{c.points['PD1']}",
                kind=WarningKind.ponding,
                colour=Colour.blue,
                origin=Origin.rule,
                unit_id=office.id,
                hazard_point_id=c.points["PD1"],
                issued_at=T0 + timedelta(minutes=80),
                changed_at=T0 + timedelta(minutes=80),
            )
        )
    session.flush()
    return c
