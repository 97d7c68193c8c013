"""Hazard ledger of the demo district: ≥ 60 hazard points on the synthetic terrain's low spots,
with point plans, inspection plans and records, and rectifications in every state.

Where the points are comes from the terrain itself (:func:`fangxun.demo.terrain.generate_terrain`,
the same grid as ``terrain.tif`` and ``features.geojson``):

* the underpasses and low-lying blocks of ``features.geojson`` (their lowest cells);
* the lowest road cell around street intersections, the deepest dips first;
* the river (须水河): banks every 800 m (embankments) and the road crossings (bridges);
* pump stations beside the underpasses, and a few sites in low corners of blocks.

Names follow the seeds (梧桐街雪松路, 雅梅苑, 枫香街, 莲花街裕华满园, 瑞达路泵站, 贾鲁河西流湖段,
须水河沿岸, 石佛泥沙池, 万科商业广场, 金兰苑社区 …); places and people are fictitious. Loading is
idempotent: a point whose code exists is left alone, and so are its plans and records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view
from sqlalchemy import select
from sqlalchemy.orm import Session

from fangxun.db.types import utcnow
from fangxun.demo.actor import DEMO_ACTOR
from fangxun.demo.terrain import (
    CELL_SIZE_M,
    JURISDICTIONS,
    N_ROWS,
    ROADS,
    TERRAIN_CRS,
    DemoTerrain,
    demo_terrain,
    river_centre_x,
    river_width,
    transformer,
)
from fangxun.hazards import service
from fangxun.hazards.models import HazardKind, HazardPoint, RiskLevel
from fangxun.hazards.schemas import (
    ChecklistItem,
    HazardPointCreate,
    InspectionPlanCreate,
    InspectionRecordCreate,
    Measure,
    PointPlanCreate,
    RectificationCreate,
    Trigger,
)
from fangxun.org.models import Person, Unit

#: How many street-intersection low points to take (deepest dips first).
N_ROAD_POINTS: Final = 28
#: Half-width of the window in which a street low point is the lowest road cell, m.
SINK_RADIUS_M: Final = 200.0
#: The railway's centreline, m north of the grid's southern edge (its underpasses are points
#: of their own).
RAIL_S_M: Final = 2400.0
#: Spacing of the embankment points along the river, m.
EMBANKMENT_SPACING_M: Final = 800.0
CHECKLIST: Final = ("排水篦子畅通", "警示标志完好", "抽排设备可用", "责任人在岗")


@dataclass
class HazardSeedSummary:
    """What :func:`seed_hazards` did."""

    points_created: int = 0
    points_existing: int = 0
    plans: int = 0
    inspections: int = 0
    rectifications: int = 0
    states: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Spot:
    """A place for a hazard point: grid cell, kind, names, owning unit code, risk."""

    code: str
    name: str
    kind: HazardKind
    row: int
    col: int
    unit: str
    risk: RiskLevel
    description: str


def _local(row: int, col: int) -> tuple[float, float]:
    """Grid-local metres of a cell centre: x east of the west edge, s north of the south edge."""
    return (col + 0.5) * CELL_SIZE_M, N_ROWS * CELL_SIZE_M - (row + 0.5) * CELL_SIZE_M


def _cell(x: float, s: float) -> tuple[int, int]:
    return int((N_ROWS * CELL_SIZE_M - s) // CELL_SIZE_M), int(x // CELL_SIZE_M)


def _office(row: int, col: int) -> str:
    x, s = _local(row, col)
    for j in JURISDICTIONS:
        if j.x_min_m <= x < j.x_max_m and j.s_min_m <= s < j.s_max_m:
            return j.unit_code
    return JURISDICTIONS[-1].unit_code


def _lowest(
    terrain: DemoTerrain, x: float, s: float, radius_m: float, mask: object
) -> tuple[int, int]:
    """The lowest cell of ``mask`` within ``radius_m`` of (x, s)."""
    row0, col0 = _cell(x, s)
    r = int(radius_m // CELL_SIZE_M) + 1
    rs = slice(max(0, row0 - r), min(N_ROWS, row0 + r + 1))
    cs = slice(max(0, col0 - r), min(terrain.elevation.shape[1], col0 + r + 1))
    window = terrain.elevation[rs, cs].astype(np.float64)
    sub = np.asarray(mask)[rs, cs] if mask is not None else np.ones_like(window, dtype=bool)
    rows, cols = np.ogrid[rs.start : rs.stop, cs.start : cs.stop]
    disc = np.hypot((rows - row0) * CELL_SIZE_M, (cols - col0) * CELL_SIZE_M) <= radius_m
    masked = np.where(sub & disc, window, np.inf)
    i, j = divmod(int(np.argmin(masked)), masked.shape[1])
    return rs.start + i, cs.start + j


def demo_spots(terrain: DemoTerrain) -> list[Spot]:
    """Every demo hazard point's place, found on ``terrain`` (deterministic)."""
    spots: list[Spot] = []
    by_code = {f.code: f for f in terrain.features}
    roads_ew = [r for r in ROADS if r.axis == "ew"]

    # 1. Underpasses of features.geojson; 梧桐街雪松路 is the seeds' name for the 雪松路 one.
    underpass_names = {"UP03": "梧桐街雪松路铁路下穿通道"}
    for code in ("UP01", "UP02", "UP03", "UP04", "UP05"):
        f = by_code[code]
        spots.append(
            Spot(
                f"GXQ-{code}",
                underpass_names.get(code, f.name_zh),
                HazardKind.underpass,
                f.row,
                f.col,
                f.unit_code,
                RiskLevel.very_high if f.depth_m >= 4.0 else RiskLevel.high,
                f"下穿通道最低点，设计下沉 {f.depth_m:g} m（合成地形）",
            )
        )
    # 2. Low-lying blocks: residential compounds and sites named after the seeds.
    block_names = {
        "LB01": ("雅梅苑", HazardKind.residential_compound),
        "LB02": ("金兰苑社区", HazardKind.residential_compound),
        "LB03": ("万科商业广场", HazardKind.construction_site),
        "LB04": ("石佛泥沙池", HazardKind.channel),
        "LB05": ("莲花街裕华满园", HazardKind.residential_compound),
        "LB06": ("梧桐街南侧低洼片区", HazardKind.residential_compound),
    }
    for code, (name, kind) in block_names.items():
        f = by_code[code]
        unit = "HBAJJ" if kind is HazardKind.construction_site else f.unit_code
        spots.append(
            Spot(
                f"GXQ-{code}",
                name,
                kind,
                f.row,
                f.col,
                unit,
                RiskLevel.very_high if f.depth_m >= 1.5 else RiskLevel.high,
                f"{f.name_zh}，低于周边约 {f.depth_m:g} m（合成地形）",
            )
        )
    # 3. Pump stations beside the underpasses (瑞达路泵站 among them): lowest block cell nearby.
    off_road = ~terrain.road_mask & ~terrain.rail_mask & ~terrain.river_mask
    for i, code in enumerate(("UP01", "UP02", "UP03", "UP04", "UP05"), start=1):
        f = by_code[code]
        road = f.name_zh.removesuffix("铁路下穿通道")
        x, s = _local(f.row, f.col)
        row, col = _lowest(terrain, x + 40.0, s, 40.0, off_road)
        spots.append(
            Spot(
                f"GXQ-PS{i:02d}",
                f"{road}泵站",
                HazardKind.pump_station,
                row,
                col,
                "CGJ",
                RiskLevel.high,
                f"服务{road}下穿通道的雨水泵站",
            )
        )
    # 4. River: bridges where west–east roads cross it, embankments every 800 m.
    for i, crossing in enumerate(roads_ew, start=1):
        s = crossing.position_m
        xc = float(river_centre_x(np.array([s]))[0])
        row, col = _lowest(terrain, xc, s, 20.0, terrain.road_mask | terrain.river_mask)
        spots.append(
            Spot(
                f"GXQ-BR{i:02d}",
                # 枫香街 is a seed name; on the demo grid that street runs as 枫杨街.
                f"{crossing.name_zh.replace('枫杨街', '枫香街')}须水河桥",
                HazardKind.bridge_culvert,
                row,
                col,
                _office(row, col),
                RiskLevel.medium,
                "跨河桥涵，防止漂浮物堵塞过水断面",
            )
        )
    for i, s in enumerate(np.arange(400.0, 8000.0, EMBANKMENT_SPACING_M), start=1):
        xc = float(river_centre_x(np.array([s]))[0])
        half = float(river_width(np.array([s]))[0]) / 2.0
        row, col = _cell(xc - half - 15.0, float(s))
        name = "贾鲁河西流湖段堤防" if i == 10 else f"须水河沿岸堤防（K{s / 1000:.1f}）"
        spots.append(
            Spot(
                f"GXQ-EM{i:02d}",
                name,
                HazardKind.river_embankment,
                row,
                col,
                "SWJ",
                RiskLevel.high if i % 3 == 0 else RiskLevel.medium,
                "河道岸坡，汛期巡堤查险",
            )
        )
    # 5. Street low points: road cells lowest within ±200 m of road (sinks of the street network),
    #    away from the grid's edges, the railway's underpasses and the river; deepest first.
    spots.extend(_road_sinks(terrain, {(sp.row, sp.col) for sp in spots}))
    return spots


def _min_filter(a: npt.NDArray[np.float64], size: int) -> npt.NDArray[np.float64]:
    """Minimum over a ``size`` × ``size`` window (separable; outside the grid counts as +inf)."""
    pad = size // 2
    rows = np.pad(a, ((pad, pad), (0, 0)), constant_values=np.inf)
    a1 = sliding_window_view(rows, size, axis=0).min(axis=-1)
    cols = np.pad(a1, ((0, 0), (pad, pad)), constant_values=np.inf)
    return np.asarray(sliding_window_view(cols, size, axis=1).min(axis=-1))


def _road_at(x: float, s: float, axis: str) -> str | None:
    for road in ROADS:
        coord = x if road.axis == "ns" else s
        if road.axis == axis and abs(coord - road.position_m) <= road.width_m / 2.0:
            return road.name_zh
    return None


def _nearest(x: float, s: float, axis: str) -> str:
    roads = [r for r in ROADS if r.axis == axis]
    return min(roads, key=lambda r: abs((x if axis == "ns" else s) - r.position_m)).name_zh


def _sink_name(row: int, col: int) -> str:
    x, s = _local(row, col)
    ns, ew = _road_at(x, s, "ns"), _road_at(x, s, "ew")
    if ns and ew:
        return f"{ew}{ns}路口"
    if ns:
        return f"{ns}近{_nearest(x, s, 'ew')}低洼路段"
    return f"{ew}近{_nearest(x, s, 'ns')}低洼路段"


def _road_sinks(terrain: DemoTerrain, taken: set[tuple[int, int]]) -> list[Spot]:
    z = terrain.elevation.astype(np.float64)
    road = terrain.road_mask & ~terrain.river_mask & ~terrain.rail_mask
    z_road = np.where(road, z, np.inf)
    window = int(2 * SINK_RADIUS_M / CELL_SIZE_M) + 1
    sinks = road & (z_road == _min_filter(z_road, window))
    near_river = _min_filter(np.where(terrain.river_mask, 0.0, np.inf), window) == 0.0
    found: list[tuple[float, int, int]] = []
    for row, col in zip(*np.nonzero(sinks & ~near_river), strict=True):
        x, s = _local(int(row), int(col))
        edge = min(x, s, N_ROWS * CELL_SIZE_M - x, N_ROWS * CELL_SIZE_M - s)
        if edge < SINK_RADIUS_M or abs(s - RAIL_S_M) < 2 * SINK_RADIUS_M:
            continue
        r = window // 2
        around = z_road[max(0, row - r) : row + r + 1, max(0, col - r) : col + r + 1]
        relief = float(np.mean(around[np.isfinite(around)])) - float(z[row, col])
        found.append((relief, int(row), int(col)))
    found.sort(key=lambda f: (-f[0], f[1], f[2]))
    named = [(relief, row, col, _sink_name(row, col)) for relief, row, col in found]
    spots: list[Spot] = []
    for relief, row, col, name in named:
        if len(spots) >= N_ROAD_POINTS:
            break
        if (row, col) in taken or any(abs(row - sp.row) + abs(col - sp.col) < 20 for sp in spots):
            continue
        spots.append(
            Spot(
                f"GXQ-RD{len(spots) + 1:02d}",
                name,
                HazardKind.low_lying_road,
                row,
                col,
                _office(row, col),
                RiskLevel.high if relief > 0.25 else RiskLevel.medium,
                f"道路低点，比周边 200 m 内路面平均低约 {relief:.2f} m（合成地形）",
            )
        )
    return spots


def _people_by_unit(session: Session) -> dict[str, list[Person]]:
    out: dict[str, list[Person]] = {}
    units = {u.id: u.code for u in session.scalars(select(Unit))}
    for person in session.scalars(select(Person).order_by(Person.id)):
        out.setdefault(units[person.unit_id], []).append(person)
    return out


def _plan_for(spot: Spot, person: Person | None) -> PointPlanCreate:
    pid = person.id if person is not None else None
    measures = {
        HazardKind.underpass: ["封闭下穿通道，设置围挡和警示", "调派移动泵车抽排", "交警疏导绕行"],
        HazardKind.low_lying_road: ["设置积水警示牌", "清掏雨水篦子", "安排人员值守路口"],
        HazardKind.residential_compound: [
            "转移地下室和一楼人员",
            "封堵地下车库入口沙袋",
            "启用小区抽水泵",
        ],
        HazardKind.pump_station: ["泵站满负荷运行", "备用电源就位", "值守人员 24 小时在岗"],
        HazardKind.river_embankment: [
            "巡堤查险，每 2 小时一次",
            "预置沙袋和编织袋",
            "危险地段人员撤离",
        ],
        HazardKind.bridge_culvert: ["清理桥涵漂浮物", "超警戒封桥"],
        HazardKind.construction_site: ["停止基坑作业", "撤离基坑内人员", "启用基坑抽排设备"],
        HazardKind.channel: ["清淤疏通", "巡查沉砂池水位"],
    }.get(spot.kind, ["现场值守"])
    return PointPlanCreate(
        title=f"{spot.name}一点一策",
        triggers=[
            Trigger(colour="yellow"),
            Trigger(ponding_cm=27.0),
            Trigger(rain_mm=50.0, rain_window_h=3.0),
        ],
        measures=[
            Measure(
                action=action,
                responsible_person_id=pid,
                team="防汛抢险队" if i else "属地值守组",
                equipment=["移动泵车"] if "抽" in action else [],
                supplies=["沙袋 200 袋"] if "沙袋" in action or i == 0 else [],
            )
            for i, action in enumerate(measures)
        ],
    )


#: The rectification scenarios: (findings, measure, deadline offset in days, path of moves).
SCENARIOS: Final[tuple[tuple[str, str, int, tuple[str, ...]], ...]] = (
    ("雨水篦子堵塞", "清掏篦子和连接管", 5, ()),
    ("警示标志缺失", "设置水深标尺和警示牌", -3, ()),
    ("抽水泵故障", "维修并试运行抽水泵", 10, ("start",)),
    ("排水管道淤积", "管道清淤疏通", -5, ("start",)),
    ("挡水板缺失", "配置地下车库挡水板", 7, ("start", "submit")),
    ("护栏损坏", "更换护栏", 4, ("start", "submit", "reject")),
    ("应急照明不足", "加装应急照明", 6, ("start", "submit", "verify")),
    ("沙袋储备不足", "补充沙袋 300 袋", -20, ("start", "submit", "verify", "close")),
    (
        "检查井盖松动",
        "更换防坠井盖",
        -10,
        ("start", "submit", "reject", "resume", "submit", "verify", "close"),
    ),
)
COMMENTS: Final = {
    "start": "已安排施工队进场",
    "submit": "整改完成，附现场照片，申请验收",
    "reject": "现场复核未达标，请继续整改",
    "resume": "重新组织整改",
    "verify": "防汛办现场验收合格",
    "close": "销号",
}


def seed_hazards(
    *, session: Session, terrain: DemoTerrain | None = None, now: datetime | None = None
) -> HazardSeedSummary:
    """Load the demo hazard ledger (idempotent; never commits). ``terrain`` defaults to
    :func:`demo_terrain` (generated once per process)."""
    terrain = terrain or demo_terrain()
    now = now or utcnow()
    summary = HazardSeedSummary()
    units = {u.code: u for u in session.scalars(select(Unit))}
    people = _people_by_unit(session)
    to_wgs84 = transformer(TERRAIN_CRS, "EPSG:4326")
    new_points: list[tuple[Spot, HazardPoint]] = []
    for spot in demo_spots(terrain):
        if session.scalar(select(HazardPoint).where(HazardPoint.code == spot.code)) is not None:
            summary.points_existing += 1
            continue
        px, py = terrain.transform @ (spot.col + 0.5, spot.row + 0.5)
        lon, lat = to_wgs84.transform(px, py)
        staff = people.get(spot.unit, [])
        point = service.create_point(
            session=session,
            point_in=HazardPointCreate(
                code=spot.code,
                name=spot.name,
                kind=spot.kind,
                lon=round(float(lon), 7),
                lat=round(float(lat), 7),
                unit_id=units[spot.unit].id,
                responsible_person_id=staff[0].id if staff else None,
                deputy_person_id=staff[1].id if len(staff) > 1 else None,
                risk_level=spot.risk,
                description=spot.description,
                address=f"高新区{spot.name}（演示）",
            ),
            actor=DEMO_ACTOR,
        )
        new_points.append((spot, point))
        summary.points_created += 1
    # Point plans: every new point gets an approved version 1; every fifth a draft version 2.
    for i, (spot, point) in enumerate(new_points):
        staff = people.get(spot.unit, [])
        plan_in = _plan_for(spot, staff[0] if staff else None)
        plan = service.create_plan(
            session=session, point_id=point.id, plan_in=plan_in, actor=DEMO_ACTOR
        )
        service.approve_plan(session=session, plan_id=plan.id, actor=DEMO_ACTOR)
        summary.plans += 1
        if i % 5 == 0:
            service.create_plan(
                session=session,
                point_id=point.id,
                plan_in=plan_in.model_copy(update={"title": f"{spot.name}一点一策（修订稿）"}),
                actor=DEMO_ACTOR,
            )
            summary.plans += 1
    # Inspection plans: weekly per unit; records for most points, some left overdue.
    by_unit: dict[str, list[tuple[Spot, HazardPoint]]] = {}
    for spot, point in new_points:
        by_unit.setdefault(spot.unit, []).append((spot, point))
    for code, items in sorted(by_unit.items()):
        staff = people.get(code, [])
        inspector = staff[-1] if staff else None
        inspection_plan = service.create_inspection_plan(
            session=session,
            plan_in=InspectionPlanCreate(
                name=f"{units[code].name_zh}汛期每周巡查",
                unit_id=units[code].id,
                point_ids=[p.id for _, p in items],
                inspector_person_id=inspector.id if inspector else None,
                interval_s=7 * 86400,
                starts_at=now - timedelta(days=60),
            ),
            actor=DEMO_ACTOR,
        )
        for j, (spot, point) in enumerate(items):
            if j % 4 == 3:
                continue  # never inspected since the plan started: shows up as overdue
            days_ago = 2 + (j * 3) % 12  # some within the week, some past due
            px, py = terrain.transform @ (spot.col + 0.5, spot.row + 0.5)
            lon, lat = to_wgs84.transform(px, py)
            bad_item = j % 3 == 0
            service.create_inspection(
                session=session,
                record_in=InspectionRecordCreate(
                    point_id=point.id,
                    plan_id=inspection_plan.id,
                    inspected_at=now - timedelta(days=days_ago, hours=j % 7),
                    inspector_person_id=inspector.id if inspector else None,
                    gps_lon=round(float(lon) + 0.00005, 7),
                    gps_lat=round(float(lat) - 0.00004, 7),
                    checklist=[
                        ChecklistItem(item=item, ok=not (bad_item and k == 0))
                        for k, item in enumerate(CHECKLIST)
                    ],
                    notes="发现问题，已上报整改" if bad_item else "正常",
                ),
                actor=DEMO_ACTOR,
            )
            summary.inspections += 1
    # Rectifications: the scenarios spread over the points, so every state is present.
    for k, (spot, point) in enumerate(new_points[:: max(1, len(new_points) // 18)]):
        finding, measure, due_days, path = SCENARIOS[k % len(SCENARIOS)]
        staff = people.get(spot.unit, [])
        if not staff:
            continue
        rect = service.create_rectification(
            session=session,
            rect_in=RectificationCreate(
                point_id=point.id,
                finding=f"{spot.name}：{finding}",
                measure=measure,
                deadline=now + timedelta(days=due_days),
                responsible_person_id=staff[min(2, len(staff) - 1)].id,
            ),
            actor=DEMO_ACTOR,
        )
        for action in path:
            service.transition_rectification(
                session=session,
                rect_id=rect.id,
                action=action,
                comment=COMMENTS[action],
                actor=DEMO_ACTOR,
            )
        summary.rectifications += 1
        summary.states[rect.status.value] = summary.states.get(rect.status.value, 0) + 1
    session.flush()
    return summary


__all__ = ["HazardSeedSummary", "Spot", "demo_spots", "seed_hazards"]
