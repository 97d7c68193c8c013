"""The situation room's snapshot: rain totals at the newest report, points at risk from sensors
and forecasts (with time to threshold, and "forecast ahead of the sensor"), incidents, duty, the
map's resources and forecast overlay; a missing or failing domain marks only its own section."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from factories import make_unit
from fangxun.audit.service import SystemActor
from fangxun.forecast.models import ForecastPointResult, ForecastRun, RainSource, RunStatus
from fangxun.hazards import service as hazards
from fangxun.hazards.models import HazardKind
from fangxun.hazards.schemas import HazardPointCreate, Thresholds
from fangxun.incidents import service as incidents
from fangxun.incidents.models import IncidentKind
from fangxun.incidents.schemas import IncidentCreate
from fangxun.monitoring import service as monitoring
from fangxun.monitoring.ingest.csv_import import import_rows
from fangxun.monitoring.models import StationKind
from fangxun.monitoring.schemas import DatastreamCreate, StationCreate
from fangxun.org.models import UnitKind
from fangxun.situation import service
from fangxun.supplies import service as supplies
from fangxun.supplies.schemas import TeamCreate, WarehouseCreate

SYSTEM = SystemActor(username="situation-tests")
#: Thresholds of the test points, cm.
THRESHOLDS = Thresholds(blue=10, yellow=20, orange=30, red=50)


def _station(s: Session, code: str, kind: StationKind, point: int | None, prop: str, unit: str,
             unit_id: int) -> str:  # fmt: skip
    monitoring.create_station(
        session=s,
        station_in=StationCreate(
            code=code,
            name_zh=code,
            kind=kind,
            lon=113.55,
            lat=34.8,
            unit_id=unit_id,
            hazard_point_id=point,
        ),
        actor=SYSTEM,
    )
    ds = f"{code}-{prop}"
    monitoring.create_datastream(
        session=s,
        datastream_in=DatastreamCreate(
            code=ds, name=prop, station_code=code, observed_property=prop, unit=unit
        ),
        actor=SYSTEM,
    )
    return ds


@pytest.fixture
def world(db_session: Session) -> dict[str, int]:
    s = db_session
    unit = make_unit(s, "D", UnitKind.district, name_zh="高新区", actor=SYSTEM).id  # fmt: skip
    ids = {"unit": unit}
    monitoring.ensure_observed_properties(session=s)
    for code, name in (("P1", "科学大道下穿"), ("P2", "长椿路"), ("P3", "西四环")):
        ids[code] = hazards.create_point(
            session=s,
            point_in=HazardPointCreate(
                code=code,
                name=name,
                kind=HazardKind.underpass,
                lon=113.55,
                lat=34.8,
                unit_id=unit,
                thresholds_cm=THRESHOLDS,
            ),
            actor=SYSTEM,
        ).id
    _station(s, "RG1", StationKind.rain_gauge, None, "rainfall", "mm", unit)
    _station(s, "RG2", StationKind.rain_gauge, None, "rainfall", "mm", unit)
    _station(s, "PD1", StationKind.ponding, ids["P1"], "ponding_depth", "cm", unit)
    _station(s, "PD2", StationKind.ponding, ids["P2"], "ponding_depth", "cm", unit)
    _station(s, "PD3", StationKind.ponding, ids["P3"], "ponding_depth", "cm", unit)
    s.flush()
    return ids


def _rain_and_depths(s: Session, last: datetime) -> dict[str, float]:
    """RG1: 10 mm every 5 min for 2 h ending at ``last``; RG2: 1 mm per 5 min; PD1 at 35 cm
    (orange), PD2 at 5 cm (below blue), PD3 at 12 cm (blue). Returns the expected maxima."""
    rows = [["datastream", "time", "value"]]
    for k in range(24):
        t = (last - timedelta(minutes=5 * k)).isoformat()
        rows += [["RG1-rainfall", t, "10"], ["RG2-rainfall", t, "1"]]
    for code, cm in (("PD1", 35.0), ("PD2", 5.0), ("PD3", 12.0)):
        rows.append([f"{code}-ponding_depth", last.isoformat(), str(cm)])
    result = import_rows(session=s, rows=rows, name="test")
    assert result.dead_lettered == 0
    return {"1h": 120.0, "3h": 240.0, "24h": 240.0, "event": 240.0}


def test_snapshot_reads_rain_and_sensors_at_the_newest_report(
    db_session: Session, world: dict[str, int]
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    # The newest report is 40 min old (a replay running behind the wall clock): totals are
    # read at that time, not at "now" (which would drop 40 min of rain from the 1 h window).
    last = now - timedelta(minutes=40)
    expected = _rain_and_depths(db_session, last)
    snap = service.snapshot(session=db_session, actor=None, now=now)
    assert snap["as_of"] == last.isoformat()
    rain = snap["sections"]["rain"]
    assert rain["available"], rain["reason"]
    assert rain["data"]["max_mm"] == expected
    assert rain["data"]["gauge_of_max"]["1h"] == "RG1-rainfall"
    points = snap["sections"]["points"]["data"]
    by_code = {p["code"]: p for p in points["items"]}
    assert set(by_code) == {"P1", "P3"}, "P2 is below every threshold and not forecast"
    assert (by_code["P1"]["observed_cm"], by_code["P1"]["colour"]) == (35.0, "orange")
    assert by_code["P3"]["colour"] == "blue"
    assert [p["code"] for p in points["items"]] == ["P1", "P3"], "highest colour first"
    assert points["colours"] == {str(world["P1"]): "orange", str(world["P3"]): "blue"}


def test_data_time_is_never_later_than_now(db_session: Session, world: dict[str, int]) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    assert service.data_time(session=db_session, actor=None, now=now) == now  # no data yet
    _rain_and_depths(db_session, now - timedelta(minutes=1))
    earlier = now - timedelta(minutes=30)
    assert service.data_time(session=db_session, actor=None, now=earlier) == earlier


def test_forecast_flags_a_point_before_its_sensor(
    db_session: Session, world: dict[str, int], tmp_path: object
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    _rain_and_depths(db_session, now)
    issued = now - timedelta(minutes=10)
    run = ForecastRun(
        status=RunStatus.done, rain_source=RainSource.nowcast, params={}, members=1,
        horizon_s=3 * 3600.0, created_by="test", issued_at=issued, finished_at=now,
        bounds=[34.7, 113.5, 34.9, 113.6], summary={"frames_s": [1800.0, 3600.0]},
    )  # fmt: skip
    db_session.add(run)
    db_session.flush()
    # P2's sensor reads 5 cm (nothing); the forecast sees it reach blue 40 min and yellow 70 min
    # after issue, i.e. 30 and 60 min from now. P1 (orange now) is forecast to reach only blue.
    thresholds_m = {"blue": 0.1, "yellow": 0.2, "orange": 0.3, "red": 0.5}
    for point, tts, peak in (
        ("P2", {"blue": 2400.0, "yellow": 4200.0, "orange": None, "red": None}, 0.25),
        ("P1", {"blue": 600.0, "yellow": None, "orange": None, "red": None}, 0.12),
    ):
        db_session.add(
            ForecastPointResult(
                run_id=run.id,
                point_id=world[point],
                row=1,
                col=1,
                times_s=[0.0, 3600.0],
                depth_m=[0.0, peak],
                peak_depth_m=peak,
                peak_time_s=3600.0,
                time_to_threshold_s=tts,
                probability={"blue": 1.0},
                member_peaks_m=[peak],
                thresholds_m=thresholds_m,
                risk=0.5,
            )
        )
    db_session.flush()
    snap = service.snapshot(session=db_session, actor=None, now=now)
    items = {p["code"]: p for p in snap["sections"]["points"]["data"]["items"]}
    p2 = items["P2"]
    assert (p2["observed_cm"], p2["observed_colour"]) == (5.0, None)
    assert (p2["forecast_colour"], p2["colour"], p2["forecast_ahead"]) == ("yellow", "yellow", True)
    assert (p2["next_colour"], p2["time_to_threshold_s"]) == ("blue", pytest.approx(1800.0))
    order = [p["code"] for p in snap["sections"]["points"]["data"]["items"]]
    assert order == ["P2", "P1", "P3"], "the forecast's early warning first, then by colour"
    assert snap["sections"]["points"]["data"]["ahead"] == 1
    p1 = items["P1"]
    assert p1["colour"] == "orange" and p1["forecast_ahead"] is False
    assert p1["next_colour"] is None and p1["time_to_threshold_s"] is None
    assert snap["sections"]["points"]["data"]["forecast_run"]["id"] == run.id
    overlay = service.forecast_overlay(session=db_session)
    assert overlay is not None
    assert overlay["bounds"] == [[34.7, 113.5], [34.9, 113.6]]
    assert [f["url"] for f in overlay["frames"]] == [
        f"/forecast/runs/{run.id}/frame_00001800.png",
        f"/forecast/runs/{run.id}/frame_00003600.png",
    ]
    assert overlay["frames"][1]["time"] == (issued + timedelta(hours=1)).isoformat()


def test_incidents_duty_and_resources(db_session: Session, world: dict[str, int]) -> None:
    s = db_session
    now = datetime.now(UTC)
    for title, age_h in (("长椿路车辆被困", 1), ("老旧积水点", 30)):
        incidents.report(
            session=s,
            incident_in=IncidentCreate(
                unit_id=world["unit"],
                kind=IncidentKind.ponding,
                title=title,
                reported_at=now - timedelta(hours=age_h),
            ),
            actor=SYSTEM,
        )
    wh = supplies.create_warehouse(
        session=s,
        warehouse_in=WarehouseCreate(
            code="W1", name_zh="中心库", unit_id=world["unit"], lon=113.56, lat=34.81
        ),
        actor=SYSTEM,
    )
    supplies.create_team(
        session=s, team_in=TeamCreate(unit_id=world["unit"], name="抢险一队"), actor=SYSTEM
    )
    s.flush()
    snap = service.snapshot(session=s, actor=None)
    inc = snap["sections"]["incidents"]["data"]
    assert inc["open"] == 2
    assert [(i["title"], i["new"]) for i in inc["items"]] == [
        ("长椿路车辆被困", True),
        ("老旧积水点", False),
    ]
    assert snap["sections"]["duty"] == {"available": True, "reason": None, "data": {"teams": []}}
    features = service.resources(session=s, actor=None)["features"]
    kinds = {f["properties"]["kind"]: f for f in features}
    assert kinds["warehouse"]["geometry"]["coordinates"] == [113.56, 34.81]
    # The team has no position: it is shown at its unit's warehouse.
    assert kinds["team"]["geometry"]["coordinates"] == [113.56, 34.81]
    assert kinds["team"]["properties"]["readiness"] == "standby"
    assert wh.id


def test_a_failing_section_does_not_blank_the_others(
    db_session: Session, world: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(**_: object) -> dict[str, object]:
        raise RuntimeError("gauge table on fire")

    monkeypatch.setitem(service.SECTIONS, "rain", broken)
    snap = service.snapshot(session=db_session, actor=None)
    assert snap["sections"]["rain"] == {
        "available": False,
        "reason": "RuntimeError: gauge table on fire",
        "data": None,
    }
    assert snap["sections"]["incidents"]["available"]
    assert set(snap["sections"]) == set(service.SECTIONS)
