"""`fangxun inundation run`: the example run file end to end, and its errors."""

from __future__ import annotations

import csv
import importlib.util
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio
from typer.testing import CliRunner

from fangxun.cli.main import app
from fangxun.inundation.io import RunFileError, build_model, gauge_cells, load_run_file

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


def _make_terrain(out_dir: Path) -> Path:
    spec = importlib.util.spec_from_file_location("make_terrain", EXAMPLES / "make_terrain.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    path: Path = module.make_terrain(out_dir)
    return path


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """The example run file with its terrain regenerated, shortened to 20 simulated minutes."""
    _make_terrain(tmp_path)
    text = (EXAMPLES / "run.toml").read_text(encoding="utf-8")
    text = re.sub(r"(?m)^duration_s = 5400", "duration_s = 1200", text)
    assert "duration_s = 1200" in text
    run = tmp_path / "run.toml"
    run.write_text(text, encoding="utf-8")
    return run


def test_example_terrain_is_what_the_script_writes(tmp_path: Path) -> None:
    path = _make_terrain(tmp_path)
    assert path.read_text() == (EXAMPLES / "terrain.asc").read_text()


def test_run_writes_every_output(example: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["inundation", "run", str(example), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "max depth" in result.output and "mass error" in result.output
    for name in ("max_depth.tif", "arrival_time.tif", "time_of_max_depth.tif"):
        with rasterio.open(out / name) as src:
            assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
            assert (src.height, src.width) == (60, 80)
            assert src.transform.a == 5.0 and src.transform.c == 500000.0
            band = src.read(1, masked=True)
            assert band.mask[0, 0]  # the nodata corner stays nodata
    with rasterio.open(out / "max_depth.tif") as src:
        max_depth = src.read(1, masked=True)
    assert 0.05 < float(max_depth.max()) < 2.0
    for gauge in ("p1", "p2", "p3"):
        rows = list(csv.DictReader((out / f"gauge_{gauge}.csv").open()))
        assert len(rows) == 1200 // 60 + 1
        assert float(rows[0]["time_s"]) == 0.0 and float(rows[-1]["time_s"]) == 1200.0
    mb = list(csv.DictReader((out / "mass_balance.csv").open()))
    assert float(mb[-1]["time_s"]) == 1200.0
    last = {k: float(v) for k, v in mb[-1].items()}
    assert last["rain"] > 0.0 and last["drainage"] > 0.0 and last["infiltration"] > 0.0
    # float32 run: the balance closes to 1e-5 of the rain.
    assert abs(last["error"]) <= 1e-5 * last["rain"]
    assert (out / "max_depth.png").read_bytes()[:4] == b"\x89PNG"


def test_gauge_by_map_coordinates_lands_in_its_cell(example: Path) -> None:
    cfg = load_run_file(example)
    model = build_model(cfg)
    # x = 500157.5 → col 31; y = 3800242.5 → row 11 (top edge at 3800300).
    assert model.gauges.series("p3")[0].size == 1
    assert gauge_cells(cfg, model.grid)["p3"] == (11, 31)


def test_bad_run_file_exits_with_key_named(tmp_path: Path) -> None:
    _make_terrain(tmp_path)
    bad = tmp_path / "bad.toml"
    bad.write_text('[terrain]\npath = "terrain.asc"\n[run]\nduration_s = -5\n[model]\nalpha = 3\n')
    result = CliRunner().invoke(app, ["inundation", "run", str(bad), "--out", str(tmp_path / "o")])
    assert result.exit_code == 65
    assert "run.duration_s" in result.output and "model.alpha" in result.output
    assert not (tmp_path / "o").exists()


def test_missing_run_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["inundation", "run", str(tmp_path / "none.toml"), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 65
    assert "cannot read run file" in result.output


def test_raster_inputs_and_shape_check(example: Path, tmp_path: Path) -> None:
    with rasterio.open(tmp_path / "terrain.asc") as src:
        profile = {
            "driver": "GTiff",
            "height": src.height,
            "width": src.width,
            "count": 1,
            "dtype": "float32",
            "transform": src.transform,
        }
    n = np.full((60, 80), 0.05, dtype="float32")
    with rasterio.open(tmp_path / "n.tif", "w", **profile) as dst:
        dst.write(n, 1)
    text = example.read_text().replace("manning = 0.03", 'manning = "n.tif"')
    text = text.replace("capacity_mm_h = 20", 'capacity_mm_h = "n.tif"')
    example.write_text(text)
    model = build_model(load_run_file(example))
    assert model.grid.shape == (60, 80)
    # A raster of the wrong shape is refused, naming the key.
    profile.update(height=10, width=10)
    with rasterio.open(tmp_path / "small.tif", "w", **profile) as dst:
        dst.write(np.zeros((10, 10), dtype="float32"), 1)
    example.write_text(text.replace('manning = "n.tif"', 'manning = "small.tif"'))
    with pytest.raises(RunFileError, match=r"model.manning: .*shape \(10, 10\)"):
        build_model(load_run_file(example))


def test_model_refusal_is_reported_as_run_file_error(example: Path) -> None:
    text = example.read_text().replace("[gauges.p1]\nrow = 44", "[gauges.p1]\nrow = 3")
    text = text.replace("col = 35", "col = 3")  # inside the nodata corner
    example.write_text(text)
    with pytest.raises(RunFileError, match=r"gauges.p1: .*nodata"):
        build_model(load_run_file(example))


def test_examples_folder_is_self_contained(tmp_path: Path) -> None:
    # The shipped run file loads as it is (paths relative to the file).
    shutil.copytree(EXAMPLES, tmp_path / "ex")
    cfg = load_run_file(tmp_path / "ex" / "run.toml")
    assert cfg.resolve(cfg.terrain.path).exists()
