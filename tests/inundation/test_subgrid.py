"""The subgrid model: tables, conservation, rest, equivalence with the regular model at ratio 1,
point depths from the fine terrain, and the Numba kernels against the NumPy reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fangxun.inundation import (
    Grid,
    Horton,
    Hyetograph,
    Model,
    PointInflow,
    SubgridModel,
    build_tables,
    subgrid,
)
from fangxun.inundation import _subgrid_reference as R


def bumpy_terrain(ny: int, nx: int, seed: int = 0, relief: float = 0.5) -> np.ndarray:
    """Smooth random bumps on a gentle slope, metres (as conftest's, which tests cannot import)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:ny, 0:nx].astype(np.float64)
    z = 0.02 * x
    for _ in range(max(1, ny * nx // 60)):
        cx, cy, r = rng.uniform(0, nx), rng.uniform(0, ny), rng.uniform(1.0, 4.0)
        z += rng.uniform(-relief, relief) * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * r * r))
    return z


def _depression_grid() -> tuple[Grid, float]:
    """8×8 pixels of 1 m², flat at 0, with a depression inside coarse cell (0, 0) at ratio 4."""
    z = np.zeros((8, 8))
    z[1, 1] = -1.0
    z[1, 2] = -0.5
    z[2, 1] = -0.25
    z[2, 2] = -0.75
    return Grid(z, cell_size=1.0), 1.0 + 0.5 + 0.25 + 0.75


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_depression_stores_exactly_its_volume(backend: str) -> None:
    grid, vol = _depression_grid()
    t = build_tables(grid, ratio=4, backend=backend)
    assert t.volume_at(0, 0, 0.0) == pytest.approx(vol, abs=1e-12)
    assert t.volume_at(0, 0, -1.0) == 0.0
    zf = grid.elevation[:4, :4]
    for lv in np.linspace(-1.0, 0.0, t.n_levels):  # at every table level the volume is exact
        exact = float(np.sum(np.maximum(lv - zf, 0.0)))
        assert t.volume_at(0, 0, float(lv)) == pytest.approx(exact, abs=1e-12)
    # rain exactly the depression's volume on the one coarse cell that has it (the others are
    # made inactive by nodata): the level ends at the rim and each pixel reads its own depth
    mask = np.ones((8, 8), dtype=bool)
    mask[:4, :4] = False
    g1 = Grid(grid.elevation, 1.0, nodata_mask=mask)
    t1 = build_tables(g1, ratio=4, backend=backend)
    rate_mm_h = vol / 16.0 * 1000.0 * 3600.0 / 600.0  # over 16 m² in 600 s
    m = SubgridModel(
        t1,
        rain=Hyetograph([0.0, 600.0], [rate_mm_h, 0.0]),
        backend=backend,
        points={"deep": (1, 1), "street": (0, 0)},
    )
    m.run_until(900.0)
    assert m.volume[0, 0] == pytest.approx(vol, rel=1e-12)
    assert m.water_level[0, 0] == pytest.approx(0.0, abs=1e-12)
    depth = m.point_max_depth()
    assert depth["deep"] == pytest.approx(1.0, abs=1e-12)
    assert depth["street"] == pytest.approx(0.0, abs=1e-12)
    fine = m.fine_max_depth()
    assert fine[2, 2] == pytest.approx(0.75, abs=1e-12)
    assert np.isnan(fine[5, 5])


def test_lake_at_rest_over_subgrid_terrain() -> None:
    rng = np.random.default_rng(3)
    z = bumpy_terrain(24, 24, seed=5, relief=1.0) + rng.normal(0.0, 0.05, (24, 24))
    blocked = np.zeros(z.shape, dtype=bool)
    blocked[5:8, 10:13] = True  # a building
    grid = Grid(z, cell_size=2.0)
    t = build_tables(grid, ratio=4, blocked=blocked)
    level0 = float(np.quantile(z, 0.6))  # islands stick out
    m = SubgridModel(t, initial_level_m=level0, boundary="closed", output_interval_s=300.0)
    v0 = m.volume.copy()
    wet = v0 > 0
    assert wet.any() and (~wet).any()
    m.run_until(3600.0)
    assert np.nanmax(np.abs(m.water_level[wet] - level0)) < 1e-9
    assert np.max(np.abs(m.qx_faces)) < 1e-9 and np.max(np.abs(m.qy_faces)) < 1e-9
    assert np.allclose(m.volume[~wet & t.active], 0.0)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_mass_conserved_to_round_off(backend: str) -> None:
    rng = np.random.default_rng(11)
    z = bumpy_terrain(30, 26, seed=2, relief=0.8)
    mask = np.zeros(z.shape, dtype=bool)
    mask[0, :3] = True
    mask[20:30, 0:4] = True  # a whole coarse cell and parts of others
    blocked = rng.random(z.shape) < 0.08
    t = build_tables(Grid(z, 2.0, nodata_mask=mask), ratio=3, blocked=blocked)
    m = SubgridModel(
        t,
        rain=Hyetograph([0.0, 600.0, 1200.0], [120.0, 40.0, 0.0]),
        drainage_mm_h=rng.uniform(0.0, 20.0, t.shape),
        infiltration=Horton(f0_mm_h=30.0, fc_mm_h=5.0, k_per_h=2.0),
        inflows=[PointInflow(4, 4, [0.0, 300.0], [0.5, 0.0]), PointInflow(2, 6, [0.0], [-0.2])],
        boundary={"east": "open", "south": "open"},
        backend=backend,
        output_interval_s=120.0,
    )
    m.run_until(2400.0)
    mb = m.mass_balance()
    assert mb["outflow"] > 0 and mb["drainage"] > 0 and mb["infiltration"] > 0
    assert abs(mb["error"]) < 1e-11 * (mb["rain"] + mb["inflow"])
    assert np.nanmin(m.volume) >= 0.0


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_ratio_one_is_the_regular_model(backend: str) -> None:
    rng = np.random.default_rng(7)
    z = bumpy_terrain(18, 22, seed=9, relief=0.6)
    mask = np.zeros(z.shape, dtype=bool)
    mask[4, 5] = mask[10, 0] = True
    grid = Grid(z, cell_size=5.0, nodata_mask=mask)
    drain = rng.uniform(0.0, 15.0, z.shape)
    n = rng.uniform(0.02, 0.05, z.shape)
    common = {
        "manning": n,
        "rain": Hyetograph([0.0, 900.0, 1500.0], [90.0, 20.0, 0.0]),
        "drainage_mm_h": drain,
        "infiltration": Horton(f0_mm_h=25.0, fc_mm_h=4.0, k_per_h=3.0),
        "inflows": [PointInflow(3, 3, [0.0, 600.0], [0.3, 0.0])],
        "boundary": {"west": "open", "north": "open"},
        "backend": backend,
        "output_interval_s": 300.0,
        "depth_thresholds_m": (0.05, 0.1),
    }
    reg = Model(grid, track_wet=False, **common)  # type: ignore[arg-type]
    sub = SubgridModel(
        build_tables(grid, ratio=1),
        points={"a": (8, 8), "b": (3, 3)},
        **common,  # type: ignore[arg-type]
    )
    for t_end in (600.0, 2400.0):
        reg.run_until(t_end)
        sub.run_until(t_end)
        assert sub.steps == reg.steps
        np.testing.assert_allclose(sub.depth, reg.depth, rtol=0, atol=1e-11)
        np.testing.assert_allclose(sub.qx_faces, reg.qx_faces, rtol=0, atol=1e-11)
        np.testing.assert_allclose(sub.qy_faces, reg.qy_faces, rtol=0, atol=1e-11)
        np.testing.assert_allclose(sub.fine_max_depth(), reg.max_depth, rtol=0, atol=1e-11)
        a, b = sub.mass_balance(), reg.mass_balance()
        for key in ("rain", "inflow", "drainage", "infiltration", "outflow", "storage"):
            assert a[key] == pytest.approx(b[key], rel=1e-10, abs=1e-9)
    for name, (r, c) in {"a": (8, 8), "b": (3, 3)}.items():
        assert sub.point_max_depth()[name] == pytest.approx(reg.max_depth[r, c], abs=1e-11)
        for thr in (0.05, 0.1):
            want = reg.arrival_time(thr)[r, c]
            got = sub.point_arrival_time(thr)[name]
            assert (np.isnan(want) and np.isnan(got)) or got == pytest.approx(want)
            assert sub.point_time_above(thr)[name] == pytest.approx(reg.time_above(thr)[r, c])


@pytest.mark.parametrize("strip", ["centres", "line"])
def test_face_strips_agree_between_backends_and_at_ratio_one(strip: str) -> None:
    rng = np.random.default_rng(12)
    z = bumpy_terrain(15, 13, seed=3, relief=1.0)
    blocked = rng.random(z.shape) < 0.1
    grid = Grid(z, 1.0)
    for r in (1, 2, 3):
        a = build_tables(grid, ratio=r, blocked=blocked, face_strip=strip)
        b = build_tables(grid, ratio=r, blocked=blocked, face_strip=strip, backend="numpy")
        for mine, ref in ((a.xfaces, b.xfaces), (a.yfaces, b.yfaces)):
            for k in ref:
                np.testing.assert_allclose(mine[k], ref[k], rtol=1e-13, atol=1e-13, err_msg=k)
    one = build_tables(grid, ratio=1, face_strip=strip)
    base = build_tables(grid, ratio=1, face_strip="centres" if strip == "line" else "line")
    for k in one.xfaces:  # at ratio 1 both strips are the face itself
        np.testing.assert_array_equal(one.xfaces[k], base.xfaces[k])
    with pytest.raises(ValueError, match="face_strip"):
        build_tables(grid, ratio=2, face_strip="wide")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_numba_equals_numpy(dtype: str) -> None:
    rng = np.random.default_rng(4)
    z = bumpy_terrain(28, 28, seed=1, relief=1.2)
    blocked = rng.random(z.shape) < 0.05
    grid = Grid(z, 1.0)
    tn = build_tables(grid, ratio=4, blocked=blocked, backend="numba")
    tr = build_tables(grid, ratio=4, blocked=blocked, backend="numpy")
    for mine, ref in ((tn.cells, tr.cells), (tn.xfaces, tr.xfaces), (tn.yfaces, tr.yfaces)):
        for k in ref:
            np.testing.assert_allclose(mine[k], ref[k], rtol=1e-13, atol=1e-13, err_msg=k)
    models = [
        SubgridModel(
            t,
            rain=Hyetograph([0.0, 600.0], [150.0, 0.0]),
            drainage_mm_h=10.0,
            infiltration=Horton(20.0, 5.0, 2.0),
            boundary={"east": "open"},
            backend=b,
            dtype=dtype,
        )
        for t, b in ((tn, "numba"), (tr, "numpy"))
    ]
    for m in models:
        m.run_until(1200.0)
    tol = 1e-10 if dtype == "float64" else 2e-4
    np.testing.assert_allclose(models[0].water_level, models[1].water_level, atol=tol, rtol=0)
    np.testing.assert_allclose(models[0].volume, models[1].volume, atol=tol * 16, rtol=tol)
    if dtype == "float64":
        assert models[0].steps == models[1].steps


def test_float32_runs_and_conserves() -> None:
    z = bumpy_terrain(32, 32, seed=6, relief=1.0)
    t = build_tables(Grid(z, 2.0), ratio=4)
    m = SubgridModel(t, rain=Hyetograph([0.0, 900.0], [80.0, 0.0]), dtype="float32")
    m.run_until(1800.0)
    mb = m.mass_balance()
    assert abs(mb["error"]) < 1e-5 * mb["rain"]
    assert np.nanmin(m.volume) >= 0.0


def test_underpass_reads_its_own_depth() -> None:
    z = np.full((12, 12), 10.0)
    z[:, :] += np.linspace(0.0, 0.3, 12)[None, :]  # the street falls westward
    z[5:7, 1:3] = 8.0  # an underpass 2 m below the street, in coarse cell (1, 0)
    t = build_tables(Grid(z, 5.0), ratio=4)
    m = SubgridModel(
        t,
        rain=Hyetograph([0.0, 1800.0], [60.0, 0.0]),
        points={"underpass": (5, 1), "street": (0, 11)},
    )
    m.run_until(3600.0)
    level = m.max_level[1, 0]
    d = m.point_max_depth()
    assert d["underpass"] == pytest.approx(level - 8.0, abs=1e-9)
    assert d["underpass"] > 0.5  # the whole catchment drains into the dip
    assert d["street"] == pytest.approx(max(m.max_level[0, 2] - z[0, 11], 0.0), abs=1e-9)
    assert m.fine_max_depth()[6, 2] == pytest.approx(d["underpass"], abs=1e-9)
    arr = m.fine_arrival_time(0.15)
    assert np.isfinite(arr[5, 1]) and m.point_arrival_time(0.15)["underpass"] <= arr[5, 1]


def test_tables_cached_on_disk(tmp_path: Path) -> None:
    z = bumpy_terrain(16, 16, seed=8)
    grid = Grid(z, 1.0)
    a = build_tables(grid, ratio=4, cache_dir=tmp_path)
    files = list(tmp_path.glob("subgrid-*.npz"))
    assert [f.name for f in files] == [f"subgrid-{a.key}.npz"]
    subgrid._MEMO.clear()  # read it back from disk, not from this process's memo
    b = build_tables(grid, ratio=4, cache_dir=tmp_path)
    assert b.key == a.key
    for k in a.cells:
        np.testing.assert_array_equal(a.cells[k], b.cells[k])
    z2 = z.copy()
    z2[3, 3] += 0.01
    c = build_tables(Grid(z2, 1.0), ratio=4, cache_dir=tmp_path)
    assert c.key != a.key
    assert build_tables(grid, ratio=2, cache_dir=tmp_path).key != a.key
    files[0].write_bytes(b"not an npz")  # a corrupt cache is rebuilt
    subgrid._MEMO.clear()
    d = build_tables(grid, ratio=4, cache_dir=tmp_path)
    np.testing.assert_array_equal(d.cells["vol"], a.cells["vol"])


def test_bad_input_is_named() -> None:
    grid = Grid(np.zeros((8, 8)), 1.0)
    with pytest.raises(ValueError, match="ratio"):
        build_tables(grid, ratio=0)
    with pytest.raises(ValueError, match="blocked raster shape"):
        build_tables(grid, ratio=2, blocked=np.zeros((3, 3), dtype=bool))
    with pytest.raises(ValueError, match="nothing can hold water"):
        build_tables(grid, ratio=2, blocked=np.ones((8, 8), dtype=bool))
    blocked = np.zeros((8, 8), dtype=bool)
    blocked[1, 1] = True
    t = build_tables(grid, ratio=2, blocked=blocked)
    with pytest.raises(ValueError, match="stage edges are not supported"):
        SubgridModel(t, boundary={"east": "stage"})
    with pytest.raises(ValueError, match="blocked pixel"):
        SubgridModel(t, points={"roof": (1, 1)})
    with pytest.raises(ValueError, match="outside the grid"):
        SubgridModel(t, points={"far": (9, 1)})


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ny=st.integers(1, 9),
    nx=st.integers(1, 9),
    ratio=st.integers(1, 4),
    seed=st.integers(0, 10_000),
    relief=st.floats(0.0, 3.0),
    n_levels=st.integers(2, 12),
)
def test_tables_are_monotone(
    ny: int, nx: int, ratio: int, seed: int, relief: float, n_levels: int
) -> None:
    rng = np.random.default_rng(seed)
    z = rng.uniform(0.0, relief, (ny, nx))
    blocked = rng.random((ny, nx)) < 0.2
    blocked.flat[0] = False
    t = build_tables(Grid(z, 1.0), ratio=ratio, blocked=blocked, n_levels=n_levels)
    c = t.cells
    act = t.active
    dv = np.diff(c["vol"], axis=-1)
    assert np.all(dv[act] >= 0) and np.all(np.diff(c["area"], axis=-1) >= 0)
    # the area is the volume's slope: never more than the storage area
    assert np.all(c["area"] <= c["afull"][..., None] + 1e-12)
    for f in (t.xfaces, t.yfaces):
        for key in ("hrep", "wet", "depth"):
            assert np.all(np.diff(f[key], axis=-1) >= -1e-12), key
        assert np.all(f["wet"] <= 1.0 + 1e-12)
        # the conveyance depth is no deeper than the level above the lowest bed (beds >= 0
        # above the datum), and a face wet nowhere conveys nothing
        open_ = f["zmin"] < 1e5
        levels = f["zmin"][..., None] + np.arange(n_levels) * f["dl"][..., None]
        assert np.all(f["hrep"][open_] >= 0.0)
        assert np.all(f["hrep"][open_] <= levels[open_] + 1e-9)
        assert np.all(f["hrep"][f["wet"] == 0] == 0.0)
    # level ↔ volume round trip on the active cells
    for i, j in zip(*np.nonzero(act), strict=True):
        for lv in np.linspace(c["zmin"][i, j], c["zmax"][i, j] + 1.0, 7):
            v = t.volume_at(int(i), int(j), float(lv) + t.z_ref)
            if v > 0:
                back = R.cell_level(
                    np.array([v]),
                    c["zmin"][i, j : j + 1],
                    c["zmax"][i, j : j + 1],
                    c["dl"][i, j : j + 1],
                    c["vol"][i, j : j + 1],
                    c["afull"][i, j : j + 1],
                )
                assert back[0] == pytest.approx(lv, abs=1e-9)


def test_gridded_rain_equals_uniform_rain() -> None:
    from fangxun.inundation import GriddedRain

    z = bumpy_terrain(16, 16, seed=4, relief=0.5)
    t = build_tables(Grid(z, 2.0), ratio=4)
    ny, nx = t.shape
    uniform = Hyetograph([0.0, 600.0], [40.0, 0.0])
    field = GriddedRain([0.0, 600.0], np.stack([np.full((ny, nx), 40.0), np.zeros((ny, nx))]))
    a = SubgridModel(t, rain=uniform, boundary="open")
    b = SubgridModel(t, rain=field, boundary="open")
    a.run_until(900.0)
    b.run_until(900.0)
    np.testing.assert_allclose(a.volume, b.volume, rtol=1e-12, atol=1e-12)
    assert a.mass_balance()["rain"] == pytest.approx(b.mass_balance()["rain"], rel=1e-12)
    with pytest.raises(ValueError, match="does not match the coarse grid"):
        SubgridModel(t, rain=GriddedRain([0.0], np.zeros((1, 3, 3))))
