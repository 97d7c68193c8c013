"""Monitoring network of the demo district: rain gauges, ponding sensors at the underpasses and
low-lying blocks of ``features.geojson``, river gauges with 警戒/保证 levels, pump stations.

Positions come from the synthetic terrain (:func:`fangxun.demo.terrain.generate_terrain`), so
sensors sit on the very cells the inundation core computes. Ponding sensors are linked to the
hazard point at the same place (the nearest within 30 m) when the hazard ledger is loaded. The
river levels are in metres above the terrain's elevation datum; the warning level is 1.2 m and
the guarantee level 0.5 m below the bank (demo numbers, not a real river's).

Idempotent: a second call creates nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import column, inspect, select, table
from sqlalchemy.orm import Session

from fangxun.demo.actor import DEMO_ACTOR
from fangxun.demo.terrain import (
    CELL_SIZE_M,
    N_ROWS,
    TERRAIN_CRS,
    DemoTerrain,
    bank_elevation,
    demo_terrain,
    grid_transform,
    river_centre_x,
    transformer,
)
from fangxun.monitoring import service
from fangxun.monitoring.models import Datastream, Station, StationKind
from fangxun.monitoring.schemas import DatastreamCreate, StationCreate
from fangxun.org.models import Unit

#: Rain gauges: (code, name_zh, name_en, x m east of the west edge, s m north of the south edge).
RAIN_GAUGES: tuple[tuple[str, str, str, float, float], ...] = (
    ("RG01", "沟赵雨量站", "Gouzhao rain gauge", 1300.0, 2000.0),
    ("RG02", "双桥雨量站", "Shuangqiao rain gauge", 1300.0, 6000.0),
    ("RG03", "梧桐雨量站", "Wutong rain gauge", 4000.0, 2000.0),
    ("RG04", "石佛雨量站", "Shifo rain gauge", 4000.0, 6000.0),
    ("RG05", "枫杨雨量站", "Fengyang rain gauge", 6800.0, 2500.0),
    ("RG06", "须水雨量站", "Xushui rain gauge", 6800.0, 6500.0),
)
#: River gauges: (code, name_zh, name_en, s m north of the south edge).
RIVER_GAUGES: tuple[tuple[str, str, str, float], ...] = (
    ("RV01", "须水河上游水位站", "Xushui River upstream gauge", 1200.0),
    ("RV02", "须水河下游水位站", "Xushui River downstream gauge", 6800.0),
)
#: Pump stations at these underpasses (feature codes).
PUMPED_UNDERPASSES = ("UP01", "UP03")
#: Reporting interval of the rain gauges, s.
RAIN_INTERVAL_S = 300
#: Warning and guarantee levels below the bank, m.
WARNING_BELOW_BANK_M = 1.2
GUARANTEE_BELOW_BANK_M = 0.5
#: A hazard point within this distance of a ponding sensor is its hazard point, m.
HAZARD_LINK_RADIUS_M = 30.0


@dataclass
class MonitoringSeedSummary:
    """What :func:`seed_monitoring` did."""

    stations_created: int = 0
    stations_existing: int = 0
    datastreams_created: int = 0
    linked_to_hazards: int = 0
    codes: list[str] = field(default_factory=list)


def _lon_lat(x_m: float, s_m: float) -> tuple[float, float]:
    """Grid-local metres (x east of the west edge, s north of the south edge) to WGS 84."""
    t = grid_transform()
    west, north = t.c, t.f
    x = west + x_m
    y = north - N_ROWS * CELL_SIZE_M + s_m
    lon, lat = transformer(TERRAIN_CRS, "EPSG:4326").transform(x, y)
    return round(float(lon), 7), round(float(lat), 7)


def _unit_ids(session: Session) -> dict[str, int]:
    return {code: uid for code, uid in session.execute(select(Unit.code, Unit.id))}


def _hazard_point_near(session: Session, lon: float, lat: float) -> int | None:
    # A lightweight table reference: monitoring does not import the hazard ledger.
    if not inspect(session.get_bind()).has_table("hazard_point"):
        return None
    hp = table("hazard_point", column("id"), column("lon"), column("lat"))
    d = 0.001  # ~100 m box, then the exact nearest
    rows = session.execute(
        select(hp.c.id, hp.c.lon, hp.c.lat).where(
            hp.c.lon.between(lon - d, lon + d), hp.c.lat.between(lat - d, lat + d)
        )
    ).all()
    best: tuple[float, int] | None = None
    for hid, hlon, hlat in rows:
        dx = (hlon - lon) * 111_320.0 * math.cos(math.radians(lat))
        dy = (hlat - lat) * 110_574.0
        dist = math.hypot(dx, dy)
        if dist <= HAZARD_LINK_RADIUS_M and (best is None or dist < best[0]):
            best = (dist, int(hid))
    return None if best is None else best[1]


def _station(session: Session, summary: MonitoringSeedSummary, spec: StationCreate) -> Station:
    station = session.scalar(select(Station).where(Station.code == spec.code))
    if station is not None:
        summary.stations_existing += 1
        return station
    summary.stations_created += 1
    if spec.hazard_point_id is not None:
        summary.linked_to_hazards += 1
    return service.create_station(session=session, station_in=spec, actor=DEMO_ACTOR)


def _stream(session: Session, summary: MonitoringSeedSummary, spec: DatastreamCreate) -> None:
    summary.codes.append(spec.code)
    if session.scalar(select(Datastream.id).where(Datastream.code == spec.code)) is None:
        service.create_datastream(session=session, datastream_in=spec, actor=DEMO_ACTOR)
        summary.datastreams_created += 1


def seed_monitoring(
    *, session: Session, terrain: DemoTerrain | None = None
) -> MonitoringSeedSummary:
    """Create the demo monitoring network (idempotent). Never commits."""
    terrain = terrain or demo_terrain()
    summary = MonitoringSeedSummary()
    service.ensure_observed_properties(session=session)
    units = _unit_ids(session)
    z = terrain.elevation

    for code, zh, en, x, s in RAIN_GAUGES:
        lon, lat = _lon_lat(x, s)
        _station(
            session,
            summary,
            StationCreate(
                code=code, name_zh=zh, name_en=en, kind=StationKind.rain_gauge, lon=lon, lat=lat
            ),
        )
        _stream(session, summary, DatastreamCreate(
            code=f"{code}-rain", name=f"{zh} 降雨量", station_code=code,
            observed_property="rainfall", unit="mm", interval_s=RAIN_INTERVAL_S))  # fmt: skip

    for f in terrain.features:
        code = f"PD-{f.code}"
        _station(
            session,
            summary,
            StationCreate(
                code=code,
                name_zh=f"{f.name_zh}积水监测点",
                name_en=f"{f.name_en} ponding sensor",
                kind=StationKind.ponding,
                lon=f.lon,
                lat=f.lat,
                elevation_m=f.ground_m,
                unit_id=units.get(f.unit_code),
                hazard_point_id=_hazard_point_near(session, f.lon, f.lat),
                properties={"feature": f.code, "row": f.row, "col": f.col},
            ),
        )
        _stream(session, summary, DatastreamCreate(
            code=f"{code}-depth", name=f"{f.name_zh} 积水深度", station_code=code,
            observed_property="ponding_depth", unit="cm"))  # fmt: skip

    for code, zh, en, s in RIVER_GAUGES:
        x = float(river_centre_x(np.array([s]))[0])
        bank = float(bank_elevation(np.array([s]))[0])
        lon, lat = _lon_lat(x, s)
        row = int(N_ROWS - 1 - s // CELL_SIZE_M)
        col = int(x // CELL_SIZE_M)
        _station(
            session,
            summary,
            StationCreate(
                code=code,
                name_zh=zh,
                name_en=en,
                kind=StationKind.river_gauge,
                lon=lon,
                lat=lat,
                elevation_m=round(float(z[row, col]), 3),
                properties={"bank_m": round(bank, 3), "row": row, "col": col},
            ),
        )
        _stream(session, summary, DatastreamCreate(
            code=f"{code}-level", name=f"{zh} 水位", station_code=code,
            observed_property="river_level", unit="m",
            warning_level_m=round(bank - WARNING_BELOW_BANK_M, 2),
            guarantee_level_m=round(bank - GUARANTEE_BELOW_BANK_M, 2)))  # fmt: skip

    by_code = {f.code: f for f in terrain.features}
    for i, up in enumerate(PUMPED_UNDERPASSES, start=1):
        f = by_code[up]
        code = f"PS{i:02d}"
        _station(
            session,
            summary,
            StationCreate(
                code=code,
                name_zh=f"{f.name_zh}排涝泵站",
                name_en=f"{f.name_en} pump station",
                kind=StationKind.pump_station,
                lon=round(f.lon + 0.0004, 7),
                lat=f.lat,
                unit_id=units.get("SWJ"),
                properties={"pumps": 3, "capacity_m3_s": 1.5, "serves": f"PD-{up}"},
            ),
        )
        for prop, unit_sym, label in (
            ("pumps_running", "1", "运行台数"),
            ("discharge", "m3/s", "抽排流量"),
            ("sump_level", "m", "前池水位"),
            ("power", "1", "供电状态"),
        ):
            _stream(session, summary, DatastreamCreate(
                code=f"{code}-{prop}", name=f"{f.name_zh}泵站 {label}", station_code=code,
                observed_property=prop, unit=unit_sym))  # fmt: skip
    session.flush()
    return summary
