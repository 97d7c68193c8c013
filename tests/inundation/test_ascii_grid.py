"""ESRI ASCII grids (strict reader) and map coordinates → cells."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rasterio.shutil
from rasterio.transform import from_origin

from fangxun.inundation import Grid
from fangxun.inundation.gauges import cell_of_xy, cells_of_xy
from fangxun.inundation.io import read_esri_ascii, read_raster, read_terrain

HEADER = "ncols 4\nnrows 3\nxllcorner 100\nyllcorner 200\ncellsize 10\nNODATA_value -9999\n"
VALUES = "1 2 3 4\n5 -9999 7 8.5\n9 10 11 12\n"


def _gtiff(path: Path, z: np.ndarray) -> None:
    with rasterio.open(
        path, "w", driver="GTiff", width=z.shape[1], height=z.shape[0], count=1,
        dtype="float32", crs="EPSG:27700", transform=from_origin(231335.0, 842125.0, 10.0, 10.0),
        nodata=-9999.0,
    ) as dst:  # fmt: skip
        dst.write(z.astype(np.float32), 1)


def test_round_trip_through_gdal_ascii_writer(tmp_path: Path) -> None:
    """GDAL's AAIGrid writer (an independent writer) → our reader: same values, mask, place."""
    rng = np.random.default_rng(3)
    z = np.round(rng.uniform(140.0, 400.0, (7, 9)), 2)
    z[0, :2] = -9999.0
    z[4, 5] = -9999.0
    _gtiff(tmp_path / "dem.tif", z)
    rasterio.shutil.copy(tmp_path / "dem.tif", tmp_path / "dem.asc", driver="AAIGrid")
    a = read_esri_ascii(tmp_path / "dem.asc")
    b = read_raster(tmp_path / "dem.tif")
    np.testing.assert_array_equal(a.nodata_mask, b.nodata_mask)
    np.testing.assert_allclose(a.values, b.values, rtol=0, atol=1e-4)
    assert a.transform.almost_equals(b.transform)
    assert a.crs is not None and a.crs.to_epsg() == 27700  # from the .prj GDAL wrote
    # gzip-compressed, as the EA5 terrain is shipped
    (tmp_path / "dem.asc.gz").write_bytes(gzip.compress((tmp_path / "dem.asc").read_bytes()))
    g = read_terrain(tmp_path / "dem.asc.gz")
    np.testing.assert_array_equal(g.nodata_mask, b.nodata_mask)
    assert g.cell_size == 10.0 and g.transform.almost_equals(b.transform)


def test_header_variants(tmp_path: Path) -> None:
    p = tmp_path / "c.asc"
    p.write_text(HEADER.replace("xllcorner 100", "XLLCENTER 105").upper() + VALUES)
    r = read_esri_ascii(p)
    assert r.transform.c == 100.0 and r.transform.f == 230.0
    assert r.values[1, 3] == 8.5 and r.nodata_mask.sum() == 1 and np.isnan(r.values[1, 1])
    p.write_text(HEADER.replace("NODATA_value -9999\n", "") + VALUES)
    r = read_esri_ascii(p)  # without a nodata value every number is data
    assert r.values[1, 1] == -9999.0 and not r.nodata_mask.any()


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (HEADER + VALUES.replace("7", "x7"), r"value 'x7' at \(row=1, col=2\) is not a number"),
        (HEADER + "1 2 3 4\n5 6 7 8\n9 10\n", r"10 values, the header says 3 rows × 4 columns"),
        (HEADER + VALUES + "13\n", r"13 values"),
        (HEADER.replace("cellsize 10\n", "") + VALUES, "header key cellsize is missing"),
        (HEADER.replace("yllcorner 200\n", "") + VALUES, "yllcorner .* is missing"),
        (HEADER.replace("nrows 3", "nrows three") + VALUES, "header nrows is 'three'"),
        (HEADER.replace("nrows 3", "nrows 2.5") + VALUES, "positive integers"),
        (HEADER.replace("cellsize 10", "cellsize -1") + VALUES, "cellsize must be > 0"),
        ("colour blue\n" + HEADER + VALUES, "unknown header key 'colour'"),
    ],
)
def test_broken_files_say_what_and_where(tmp_path: Path, text: str, match: str) -> None:
    p = tmp_path / "broken.asc"
    p.write_text(text)
    with pytest.raises(ValueError, match=match) as info:
        read_terrain(p)
    assert "broken.asc" in str(info.value)


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read ESRI ASCII grid"):
        read_esri_ascii(tmp_path / "missing.asc")
    (tmp_path / "bad.asc.gz").write_bytes(b"not gzip at all")
    with pytest.raises(ValueError, match="cannot read ESRI ASCII grid"):
        read_esri_ascii(tmp_path / "bad.asc.gz")
    (tmp_path / "bin.asc").write_bytes(HEADER.encode() + b"\xff\xfe 1 2")
    with pytest.raises(ValueError, match="cannot read ESRI ASCII grid"):
        read_esri_ascii(tmp_path / "bin.asc")


def test_cells_by_map_coordinates(tmp_path: Path) -> None:
    p = tmp_path / "dem.asc"
    p.write_text(HEADER + VALUES)
    grid = read_terrain(p)  # x 100..140 (columns), y 230 (row 0, north) .. 200
    assert cell_of_xy(grid, 100.0, 229.9) == (0, 0)
    assert cell_of_xy(grid, 120.0, 210.0) == (2, 2)  # on a corner: the cell east and south
    assert cell_of_xy(grid, 139.9, 200.1) == (2, 3)
    assert cells_of_xy(grid, {"a": (125.0, 205.0)}) == {"a": (2, 2)}
    assert cells_of_xy(grid, [(105.0, 225.0), (135.0, 215.0)]) == [(0, 0), (1, 3)]
    with pytest.raises(ValueError, match=r"gauge 'z' at x=95.0, y=205.0 lies outside the grid"):
        cells_of_xy(grid, {"z": (95.0, 205.0)})
    with pytest.raises(ValueError, match=r"point 0 at x=115.0, y=215.0 is on a nodata cell"):
        cells_of_xy(grid, [(115.0, 215.0)])
    with pytest.raises(ValueError, match="coordinates must be finite"):
        cell_of_xy(grid, float("nan"), 200.0)
    with pytest.raises(ValueError, match="no georeferencing"):
        cell_of_xy(Grid(np.zeros((2, 2)), 1.0), 0.5, 0.5)


def test_run_file_shared_inflow_by_points(tmp_path: Path) -> None:
    from fangxun.inundation.io import RunFileError, build_model, load_run_file

    (tmp_path / "dem.asc").write_text(HEADER + VALUES)
    run = tmp_path / "run.toml"
    base = '[terrain]\npath = "dem.asc"\n[run]\nduration_s = 60\n'
    run.write_text(
        base + "[[inflows]]\npoints_xy = [[105.0, 225.0], [135.0, 215.0]]\n"
        'times_s = [0, 100]\ndischarge_m3_s = [0, 4]\ninterpolation = "linear"\n'
    )
    model = build_model(load_run_file(run))
    assert [(f.row, f.col) for f in model.inflows] == [(0, 0), (1, 3)]
    assert [f.rate_m3_s(50.0) for f in model.inflows] == [1.0, 1.0]
    run.write_text(
        base + "[[inflows]]\ncells = [[0, 0], [2, 3]]\ntimes_s = [0]\ndischarge_m3_s = [2]\n"
    )
    assert [f.rate_m3_s(5.0) for f in build_model(load_run_file(run)).inflows] == [1.0, 1.0]
    run.write_text(base + "[[inflows]]\nrow = 0\ntimes_s = [0]\ndischarge_m3_s = [2]\n")
    with pytest.raises(RunFileError, match="give either row and col, or cells, or points_xy"):
        load_run_file(run)
    run.write_text(
        base + "[[inflows]]\npoints_xy = [[115.0, 215.0]]\ntimes_s = [0]\ndischarge_m3_s = [2]\n"
    )
    with pytest.raises(
        RunFileError, match=r"inflows\[0\]: point 0 at x=115.0, y=215.0 is on a nodata"
    ):
        build_model(load_run_file(run))
