"""The synthetic terrain: determinism, placement, and the shapes a flood model needs to find."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from pyproj import Transformer

from fangxun.demo.org_seed import UNITS
from fangxun.demo.terrain import (
    CELL_SIZE_M,
    CENTRE_LON_LAT,
    KERB_HEIGHT_M,
    LOW_BLOCKS,
    DemoTerrain,
    cells_within,
    generate_terrain,
    river_centre_x,
)
from fangxun.org.models import UnitKind

#: SHA-256 of the elevations in whole millimetres (int32, little-endian). A change in the terrain
#: recipe must update this on purpose: later issues pin hazard points and results to this terrain.
EXPECTED_MM_SHA256 = "aae69ff59bdbc1ac9d1c4915db56ef31bf6d9ef77ea64ced6085197f9b4b1392"


def _mm_digest(z: np.ndarray) -> str:
    mm = np.round(z.astype(np.float64) * 1000.0).astype("<i4")
    return hashlib.sha256(mm.tobytes()).hexdigest()


def test_same_seed_gives_same_bytes(terrain: DemoTerrain) -> None:
    again = generate_terrain()
    assert (
        hashlib.sha256(again.elevation.tobytes()).hexdigest()
        == hashlib.sha256(terrain.elevation.tobytes()).hexdigest()
    )
    assert again.features == terrain.features


def test_terrain_matches_pinned_digest(terrain: DemoTerrain) -> None:
    assert _mm_digest(terrain.elevation) == EXPECTED_MM_SHA256


def test_other_seed_gives_other_noise(terrain: DemoTerrain) -> None:
    other = generate_terrain(seed=1)
    assert _mm_digest(other.elevation) != _mm_digest(terrain.elevation)
    # The designed shapes do not depend on the seed, only the noise does.
    assert np.array_equal(other.river_mask, terrain.river_mask)


def test_shape_crs_and_cell_size(terrain: DemoTerrain) -> None:
    assert terrain.elevation.shape == (800, 800)
    assert terrain.elevation.dtype == np.float32
    assert terrain.crs == "EPSG:4547"
    assert terrain.transform.a == CELL_SIZE_M == -terrain.transform.e == 10.0
    assert np.isfinite(terrain.elevation).all()


def test_grid_is_centred_on_the_district(terrain: DemoTerrain) -> None:
    west, south, east, north = terrain.bounds
    assert (east - west, north - south) == (8000.0, 8000.0)
    to_wgs84 = Transformer.from_crs("EPSG:4547", "EPSG:4326", always_xy=True)
    lon, lat = to_wgs84.transform((west + east) / 2, (south + north) / 2)
    # Within one cell of the requested centre (the corner is rounded to whole cells).
    assert lon == pytest.approx(CENTRE_LON_LAT[0], abs=1e-4)
    assert lat == pytest.approx(CENTRE_LON_LAT[1], abs=1e-4)


def test_general_slope_falls_from_the_west(terrain: DemoTerrain) -> None:
    z = terrain.elevation
    # Mean grade from the western edge to the river, in m/m: "~0.2-0.5 %".
    west_edge = float(z[:, :20].mean())
    near_river = float(np.median(z[:, 500:540]))
    grade = (west_edge - near_river) / ((520 - 10) * CELL_SIZE_M)
    assert 0.002 <= grade <= 0.005


def test_river_is_the_lowest_ground(terrain: DemoTerrain) -> None:
    z = terrain.elevation
    assert terrain.river_mask.ravel()[np.argmin(z)]
    # In every row the lowest cell is in the channel: the river drains the whole district.
    row_minima = np.argmin(z, axis=1)
    assert terrain.river_mask[np.arange(z.shape[0]), row_minima].all()


def test_river_channel_width_and_depth(terrain: DemoTerrain) -> None:
    z = terrain.elevation.astype(np.float64)
    widths = terrain.river_mask.sum(axis=1) * CELL_SIZE_M
    # Counted along rows, so a bend reads a little wider than the true 36-56 m.
    assert 30.0 <= float(np.median(widths)) <= 70.0
    depths = []
    for row in range(0, z.shape[0], 40):
        if terrain.rail_mask[row - 3 : row + 4].any() or row < 3:
            continue  # the embankment is not a bank
        cols = np.flatnonzero(terrain.river_mask[row])
        banks = np.r_[
            z[row, cols.min() - 6 : cols.min() - 2], z[row, cols.max() + 3 : cols.max() + 7]
        ]
        depths.append(float(np.median(banks) - z[row, cols].min()))
    assert min(depths) >= 2.0 and max(depths) <= 4.5


def test_river_meanders(terrain: DemoTerrain) -> None:
    s = np.linspace(0.0, 8000.0, 801)
    xc = river_centre_x(s)
    length = float(np.sum(np.hypot(np.diff(xc), np.diff(s))))
    assert xc.max() - xc.min() > 300.0
    assert length / 8000.0 > 1.05  # sinuosity


def test_roads_sit_a_kerb_below_blocks(terrain: DemoTerrain) -> None:
    z = terrain.elevation.astype(np.float64)
    # Compare each road cell with the block cell two cells beside it along a west-east road edge.
    row = 400  # between 合欢街 and 莲花街: a plain block row with north-south roads
    road_cols = np.flatnonzero(terrain.road_mask[row, :500])
    edges = [c for c in road_cols if not terrain.road_mask[row, c + 1]]
    steps = [z[row, c + 1] - z[row, c] for c in edges]
    assert len(edges) >= 8
    assert np.median(steps) == pytest.approx(KERB_HEIGHT_M, abs=0.08)


def _ring_median(terrain: DemoTerrain, row: int, col: int, inner_m: float, outer_m: float) -> float:
    ring = cells_within(terrain, row, col, outer_m) & ~cells_within(terrain, row, col, inner_m)
    return float(np.median(terrain.elevation[ring & terrain.road_mask]))


def test_underpasses_are_deep_traps(terrain: DemoTerrain) -> None:
    underpasses = [f for f in terrain.features if f.kind == "underpass"]
    assert len(underpasses) >= 4
    for f in underpasses:
        # The road 150-300 m away on either side is 3-5 m higher than the underpass floor.
        drop = _ring_median(terrain, f.row, f.col, 150.0, 300.0) - f.ground_m
        assert 2.8 <= drop <= 5.5, (f.code, drop)
        assert 3.0 <= f.depth_m <= 5.0
        assert terrain.road_mask[f.row, f.col]


def test_low_blocks_are_depressions(terrain: DemoTerrain) -> None:
    blocks = [f for f in terrain.features if f.kind == "low_block"]
    assert len(blocks) == len(LOW_BLOCKS) >= 4
    z = terrain.elevation.astype(np.float64)
    for f, spec in zip(blocks, LOW_BLOCKS, strict=True):
        radius = spec[5]
        ring = cells_within(terrain, f.row, f.col, radius + 80.0) & ~cells_within(
            terrain, f.row, f.col, radius + 20.0
        )
        drop = float(np.median(z[ring & ~terrain.road_mask])) - f.ground_m
        assert 0.4 <= drop <= 2.5, (f.code, drop)


def test_feature_coordinates_agree(terrain: DemoTerrain) -> None:
    to_grid = Transformer.from_crs("EPSG:4326", "EPSG:4547", always_xy=True)
    inverse = ~terrain.transform
    offices = {u.code for u in UNITS if u.kind is UnitKind.street_office}
    for f in terrain.features:
        x, y = to_grid.transform(f.lon, f.lat)
        col, row = inverse @ (x, y)
        assert (int(row), int(col)) == (f.row, f.col)
        assert float(terrain.elevation[f.row, f.col]) == pytest.approx(f.ground_m, abs=1e-3)
        assert f.unit_code in offices  # the street office loaded by the demo


def test_land_use_is_deterministic_and_follows_the_masks(terrain: DemoTerrain) -> None:
    from fangxun.demo.terrain import LANDUSE_CODES, LANDUSE_ROAD, LANDUSE_WATER

    lu = terrain.landuse
    assert lu.shape == terrain.elevation.shape and lu.dtype == np.uint8
    assert set(np.unique(lu).tolist()) == set(LANDUSE_CODES)  # every class occurs, no other
    assert np.array_equal(generate_terrain().landuse, lu)
    assert (lu[terrain.river_mask] == LANDUSE_WATER).all()
    assert (lu[terrain.road_mask & ~terrain.river_mask] == LANDUSE_ROAD).all()
    shares = {code: float((lu == code).mean()) for code in LANDUSE_CODES}
    assert 0.15 < shares[2] < 0.4  # buildings
    assert 0.05 < shares[3] < 0.3  # green
