"""The demo hazard ledger: ≥ 60 points on the terrain's low spots, the seeds' places, every
rectification state, overdue work to show, and an idempotent loader."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
from sqlalchemy import Engine, func, select

from fangxun.config import load_settings
from fangxun.db import session_scope
from fangxun.demo import load_demo
from fangxun.demo.hazards_seed import demo_spots
from fangxun.demo.terrain import CELL_SIZE_M, demo_terrain
from fangxun.hazards import service
from fangxun.hazards.models import (
    HazardKind,
    HazardPoint,
    PointPlan,
    Rectification,
    RectificationStatus,
)

SEED_PLACES = (
    "梧桐街雪松路",
    "雅梅苑",
    "枫香街",
    "莲花街裕华满园",
    "瑞达路泵站",
    "贾鲁河西流湖段",
    "须水河沿岸",
    "石佛泥沙池",
    "万科商业广场",
    "金兰苑社区",
)


def _disc(shape: tuple[int, ...], row: int, col: int, radius_m: float) -> np.ndarray:
    rows, cols = np.ogrid[: shape[0], : shape[1]]
    return np.asarray(np.hypot((rows - row) * CELL_SIZE_M, (cols - col) * CELL_SIZE_M) <= radius_m)


def test_spots_sit_on_low_ground() -> None:
    terrain = demo_terrain()
    spots = demo_spots(terrain)
    assert len(spots) >= 60
    assert len({s.code for s in spots}) == len(spots)
    z = terrain.elevation
    underpasses = [s for s in spots if s.kind is HazardKind.underpass]
    for spot in spots:
        here = z[spot.row, spot.col]
        near = _disc(z.shape, spot.row, spot.col, 150.0)
        if spot.kind is HazardKind.low_lying_road:
            # A sag of the street: the lowest road surface within 150 m (kerbs hold the water).
            assert terrain.road_mask[spot.row, spot.col], spot
            road_near = near & terrain.road_mask & ~terrain.river_mask
            assert here <= z[road_near].min() + 1e-6, spot
        elif spot.kind in (HazardKind.river_embankment, HazardKind.bridge_culvert):
            assert (near & terrain.river_mask).any(), spot
        elif spot.kind is HazardKind.pump_station:
            assert (
                min(np.hypot(spot.row - u.row, spot.col - u.col) * CELL_SIZE_M for u in underpasses)
                <= 100.0
            ), spot
        else:
            # Underpasses and low blocks: lower than three quarters of the ground within 150 m.
            assert float(np.mean(z[near] < here)) <= 0.25, spot
    names = " ".join(s.name for s in spots)
    for place in SEED_PLACES:
        assert place in names, place


def test_demo_loader_seeds_the_ledger_once(sqlite_engine: Engine, tmp_path: Path) -> None:
    settings = load_settings(environment="demo", database_url="sqlite://", data_dir=tmp_path)
    with session_scope(sqlite_engine) as session:
        first = load_demo(session=session, settings=settings, write_terrain=False)
    assert first.hazards is not None and first.hazards.points_created >= 60
    with session_scope(sqlite_engine) as session:
        points = session.scalar(select(func.count()).select_from(HazardPoint))
        assert points == first.hazards.points_created
        states = Counter(session.scalars(select(Rectification.status)))
        assert set(states) == set(RectificationStatus), states
        assert (
            session.scalar(
                select(func.count())
                .select_from(PointPlan)
                .where(PointPlan.approved_by_name.is_not(None))
            )
            == points
        )
        overdue_rects, _ = service.list_rectifications(session=session, actor=None, overdue=True)
        assert overdue_rects
        assert service.overdue_inspections(session=session, actor=None)
        stats = service.ledger_stats(session=session, actor=None)
        assert sum(r.points for r in stats.rows) == points
    with session_scope(sqlite_engine) as session:
        second = load_demo(session=session, settings=settings, write_terrain=False)
    assert second.hazards is not None
    assert second.hazards.points_created == 0
    assert second.hazards.points_existing == first.hazards.points_created
    with session_scope(sqlite_engine) as session:
        assert session.scalar(select(func.count()).select_from(Rectification)) == sum(
            states.values()
        )
