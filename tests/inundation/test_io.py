"""Tests for fangxun.inundation.io: rasters, tables, maps and run files."""

from __future__ import annotations

import csv
import doctest
import textwrap
from pathlib import Path

import numpy as np
import pytest
import rasterio

import fangxun.inundation.io as io_module
from fangxun.inundation.grid import Grid
from fangxun.inundation.io import (
    RunFileError,
    build_rain,
    gauge_cells,
    gauge_file_name,
    load_run_file,
    read_raster,
    read_terrain,
    write_cog,
    write_gauge_csv,
    write_mass_balance_csv,
    write_max_depth_png,
)
from fangxun.inundation.rain import (
    EXAMPLE_FORMULA_UNVERIFIED,
    Hyetograph,
    chicago_hyetograph,
    zhengzhou_720_reconstruction,
)

EPSG_4547 = "EPSG:4547"


def test_doctest() -> None:
    result = doctest.testmod(io_module)
    assert result.attempted > 0 and result.failed == 0


def _write_gtiff(
    path: Path,
    z: np.ndarray,
    cell: float = 5.0,
    nodata: float | None = -9999.0,
    yres: float | None = None,
) -> None:
    transform = rasterio.Affine(cell, 0.0, 500000.0, 0.0, -(yres or cell), 3800000.0)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=z.shape[0],
        width=z.shape[1],
        count=1,
        dtype="float32",
        crs=EPSG_4547,
        transform=transform,
        nodata=nodata,
    ) as dst:
        dst.write(z.astype("float32"), 1)


def _write_asc(path: Path, z: np.ndarray, cell: float = 2.0, nodata: float = -9999.0) -> None:
    ny, nx = z.shape
    lines = [
        f"ncols {nx}",
        f"nrows {ny}",
        "xllcorner 1000.0",
        "yllcorner 2000.0",
        f"cellsize {cell}",
        f"NODATA_value {nodata}",
    ]
    lines += [" ".join(f"{v:.3f}" for v in row) for row in z]
    path.write_text("\n".join(lines) + "\n")


def test_read_terrain_geotiff_with_nodata(tmp_path: Path) -> None:
    z = np.arange(12, dtype=float).reshape(3, 4) + 100.0
    z[1, 2] = -9999.0
    _write_gtiff(tmp_path / "dem.tif", z)
    grid = read_terrain(tmp_path / "dem.tif")
    assert grid.shape == (3, 4)
    assert grid.cell_size == 5.0
    assert grid.nodata_mask[1, 2] and grid.nodata_mask.sum() == 1
    assert grid.elevation[0, 0] == 100.0 and np.isnan(grid.elevation[1, 2])
    assert grid.crs.to_epsg() == 4547
    assert grid.transform.c == 500000.0 and grid.transform.f == 3800000.0


def test_read_terrain_esri_ascii(tmp_path: Path) -> None:
    z = np.array([[10.0, 11.0, 12.0], [9.0, -9999.0, 8.5]])
    _write_asc(tmp_path / "dem.asc", z)
    grid = read_terrain(tmp_path / "dem.asc")
    assert grid.cell_size == 2.0
    # Row 0 of the file is the northern row.
    assert grid.elevation[0].tolist() == [10.0, 11.0, 12.0]
    assert grid.nodata_mask.tolist() == [[False, False, False], [False, True, False]]
    assert grid.transform.c == 1000.0 and grid.transform.f == 2000.0 + 2 * 2.0


def test_read_raster_rejects_non_square_cells(tmp_path: Path) -> None:
    _write_gtiff(tmp_path / "dem.tif", np.zeros((2, 2)), cell=5.0, yres=4.0)
    with pytest.raises(ValueError, match="non-square cells"):
        read_raster(tmp_path / "dem.tif")


def test_read_raster_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read raster"):
        read_raster(tmp_path / "nope.tif")


def test_write_cog_round_trip(tmp_path: Path) -> None:
    z = np.zeros((64, 80))
    mask = np.zeros_like(z, dtype=bool)
    mask[0, 0] = True
    grid = Grid(
        z,
        10.0,
        nodata_mask=mask,
        transform=rasterio.Affine(10, 0, 400000, 0, -10, 3500000),
        crs=rasterio.crs.CRS.from_string(EPSG_4547),
    )
    values = np.linspace(0.0, 1.0, z.size).reshape(z.shape)
    values[5, 5] = np.nan
    values[6, 6] = np.inf
    path = write_cog(tmp_path / "sub" / "out.tif", values, grid)
    with rasterio.open(path) as src:
        assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert src.crs.to_epsg() == 4547
        assert src.transform == grid.transform
        out = src.read(1, masked=True)
    assert out.mask[0, 0] and out.mask[5, 5] and out.mask[6, 6]
    assert int(out.mask.sum()) == 3
    np.testing.assert_allclose(out[10, 10], values[10, 10], rtol=1e-6)


def test_write_cog_without_georeference_and_bad_shape(tmp_path: Path) -> None:
    grid = Grid(np.zeros((4, 4)), 2.0)
    path = write_cog(tmp_path / "a.tif", np.ones((4, 4)), grid)
    with rasterio.open(path) as src:
        assert src.transform.a == 2.0 and src.crs is None
    with pytest.raises(ValueError, match="does not match the grid"):
        write_cog(tmp_path / "b.tif", np.ones((3, 4)), grid)


def test_gauge_csv(tmp_path: Path) -> None:
    p = write_gauge_csv(tmp_path / "g.csv", [0.0, 60.0], [0.0, 0.125], [0.0, 0.5])
    rows = list(csv.reader(p.open()))
    assert rows[0] == ["time_s", "depth_m", "speed_m_s"]
    assert [float(v) for v in rows[2]] == [60.0, 0.125, 0.5]
    with pytest.raises(ValueError, match="depth_m has 1 values"):
        write_gauge_csv(tmp_path / "h.csv", [0.0, 60.0], [0.0])
    assert gauge_file_name("下穿/隧道 1") == "gauge_下穿_隧道_1.csv"
    assert gauge_file_name("p1") == "gauge_p1.csv"
    assert "/" not in gauge_file_name("a/b")


def test_mass_balance_csv(tmp_path: Path) -> None:
    series = [
        {"time_s": 0.0, "rain": 0.0, "storage": 0.0, "error": 0.0},
        {"rain": 5.0, "time_s": 60.0, "storage": 5.0, "error": 1e-12},
    ]
    p = write_mass_balance_csv(tmp_path / "mb.csv", series)
    rows = list(csv.reader(p.open()))
    assert rows[0] == ["time_s", "rain", "storage", "error"]
    assert [float(v) for v in rows[2]] == [60.0, 5.0, 5.0, 1e-12]
    with pytest.raises(ValueError, match="empty"):
        write_mass_balance_csv(tmp_path / "x.csv", [])
    with pytest.raises(ValueError, match=r"row 1 lacks \['storage'\]"):
        write_mass_balance_csv(
            tmp_path / "y.csv", [{"time_s": 0.0, "storage": 1.0}, {"time_s": 1.0}]
        )


def test_max_depth_png(tmp_path: Path) -> None:
    yy, xx = np.mgrid[0:40, 0:50]
    z = 0.01 * ((xx - 25.0) ** 2 + (yy - 20.0) ** 2) ** 0.5
    grid = Grid(z, 5.0, transform=rasterio.Affine(5, 0, 1000, 0, -5, 2000))
    depth = np.clip(0.3 - z, 0.0, None)
    p = write_max_depth_png(tmp_path / "map.png", depth, grid, title="test")
    data = p.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    # Nothing wet: still draws (colour bar with a default range).
    write_max_depth_png(tmp_path / "dry.png", np.zeros_like(z), grid)
    with pytest.raises(ValueError, match="does not match"):
        write_max_depth_png(tmp_path / "bad.png", np.zeros((2, 2)), grid)


# ---------------------------------------------------------------------------------------------
# Run files
# ---------------------------------------------------------------------------------------------

BASE_TOML = """
[terrain]
path = "dem.tif"

[model]
manning = 0.035
dtype = "float64"
backend = "numpy"

[run]
duration_s = 600
output_interval_s = 60
"""


def _run_file(tmp_path: Path, extra: str, base: str = BASE_TOML) -> Path:
    p = tmp_path / "run.toml"
    p.write_text(textwrap.dedent(base) + textwrap.dedent(extra))
    return p


def test_load_minimal_run_file(tmp_path: Path) -> None:
    cfg = load_run_file(_run_file(tmp_path, ""))
    assert cfg.model.manning == 0.035 and cfg.model.dtype == "float64"
    assert cfg.model.alpha is None and cfg.model.theta is None  # the model's defaults apply
    assert cfg.run.duration_s == 600.0
    assert cfg.resolve(cfg.terrain.path) == tmp_path.resolve() / "dem.tif"
    assert build_rain(cfg.rain) is None
    assert cfg.boundary.north == "closed"


def test_rain_sections(tmp_path: Path) -> None:
    cfg = load_run_file(
        _run_file(
            tmp_path,
            """
        [rain]
        kind = "hyetograph"
        times_s = [0, 1800, 3600]
        intensity_mm_h = [20, 60, 0]
    """,
        )
    )
    assert build_rain(cfg.rain) == Hyetograph([0, 1800, 3600], [20, 60, 0])

    cfg = load_run_file(
        _run_file(
            tmp_path,
            """
        [rain]
        kind = "chicago"
        return_period_years = 10
        duration_s = 7200
        step_s = 300
        peak_ratio = 0.4
        [rain.formula]
        a_l_s_ha = 3073.0
        b = 15.1
        c = 0.892
        n = 0.824
    """,
        )
    )
    expected = chicago_hyetograph(EXAMPLE_FORMULA_UNVERIFIED, 10, 7200, 300, 0.4)
    got = build_rain(cfg.rain)
    assert got is not None
    np.testing.assert_allclose(got.intensity_mm_h, expected.intensity_mm_h, rtol=1e-12)

    cfg = load_run_file(
        _run_file(
            tmp_path,
            """
        [rain]
        kind = "zhengzhou_720"
        first_hour = 18
        hours = 4
    """,
        )
    )
    got = build_rain(cfg.rain)
    assert got is not None
    assert got.total_mm() == pytest.approx(sum(zhengzhou_720_reconstruction().hourly_mm[18:22]))


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        ("[rain]\nkind = 'hyetograph'\ntimes_s = [0, 10]\nintensity_mm_h = [1]\n", "same length"),
        (
            "[rain]\nkind = 'hyetograph'\ntimes_s = [10, 0]\nintensity_mm_h = [1, 2]\n",
            "strictly increasing",
        ),
        ("[rain]\nkind = 'zhengzhou_720'\nfirst_hour = 30\n", "outside"),
    ],
)
def test_rain_values_checked_with_key(tmp_path: Path, extra: str, match: str) -> None:
    cfg = load_run_file(_run_file(tmp_path, extra))
    with pytest.raises(RunFileError, match=rf"rain: .*{match}"):
        build_rain(cfg.rain)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("[rain]\nkind = 'drizzle'\n", "rain"),
        (
            "[rain]\nkind = 'chicago'\nreturn_period_years = -1\nduration_s = 60\n"
            "[rain.formula]\na_mm_min = 10\nb = 5\nc = 0.5\nn = 0.7\n",
            r"rain\.return_period_years: Input should be greater than 0",
        ),
        (
            "[rain]\nkind = 'chicago'\nreturn_period_years = 5\nduration_s = 60\n"
            "[rain.formula]\na_mm_min = 10\na_l_s_ha = 5\nb = 5\nc = 0.5\nn = 0.7\n",
            "exactly one of a_mm_min",
        ),
        ("[boundary]\nnorth = 'leaky'\n", "boundary.north"),
        ("[boundary]\neast = {stage_m = 'high'}\n", "boundary.east"),
        ("[gauges.p1]\nrow = 3\n", "gauges.p1"),
        ("[gauges.p1]\nrow = 3\ncol = 4\nx = 1.0\ny = 2.0\n", "either row and col"),
        ("[drainage]\ncapacity_mm_h = -5\n", "drainage.capacity_mm_h"),
        ("[infiltration]\nf0_mm_h = 50\n", "infiltration.fc_mm_h"),
        ("[extra]\nfoo = 1\n", "extra: Extra inputs are not permitted"),
    ],
)
def test_run_file_errors_name_the_key(tmp_path: Path, extra: str, expected: str) -> None:
    with pytest.raises(RunFileError, match=expected) as info:
        load_run_file(_run_file(tmp_path, extra))
    assert str(tmp_path / "run.toml") in str(info.value)


def test_run_file_section_errors(tmp_path: Path) -> None:
    base = BASE_TOML.replace("duration_s = 600", "duration_s = 0").replace(
        'dtype = "float64"', 'dtype = "float16"'
    )
    with pytest.raises(RunFileError) as info:
        load_run_file(_run_file(tmp_path, "", base=base))
    msg = str(info.value)
    assert "2 problem(s)" in msg and "run.duration_s" in msg and "model.dtype" in msg
    with pytest.raises(RunFileError, match="terrain"):
        load_run_file(_run_file(tmp_path, "", base="[run]\nduration_s = 5\n"))
    with pytest.raises(RunFileError, match="not valid TOML"):
        load_run_file(_run_file(tmp_path, "", base="[run\n"))
    with pytest.raises(RunFileError, match="cannot read run file"):
        load_run_file(tmp_path / "missing.toml")


def test_gauge_cells_by_row_col_and_map_xy(tmp_path: Path) -> None:
    z = np.zeros((10, 20))
    z[9, 19] = -9999.0
    _write_gtiff(tmp_path / "dem.tif", z, cell=5.0)
    grid = read_terrain(tmp_path / "dem.tif")
    cfg = load_run_file(
        _run_file(
            tmp_path,
            """
        [gauges.a]
        row = 2
        col = 3
        [gauges.b]
        x = 500012.5
        y = 3799992.0
    """,
        )
    )
    # x = 500000 + 2.5 cells → col 2; y = 3800000 − 8 m → row 1.
    assert gauge_cells(cfg, grid) == {"a": (2, 3), "b": (1, 2)}
    bad = load_run_file(_run_file(tmp_path, "[gauges.c]\nrow = 10\ncol = 0\n"))
    with pytest.raises(RunFileError, match=r"gauges.c: .*outside the 10×20"):
        gauge_cells(bad, grid)
    bad = load_run_file(_run_file(tmp_path, "[gauges.d]\nrow = 9\ncol = 19\n"))
    with pytest.raises(RunFileError, match=r"gauges.d: .*nodata"):
        gauge_cells(bad, grid)
