"""``[model] subgrid_cell_size`` in a run file: the CLI runs the subgrid model and writes its
outputs on the terrain's own pixels."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio
from typer.testing import CliRunner

from fangxun.cli.main import app
from fangxun.inundation import SubgridModel
from fangxun.inundation.io import RunFileError, build_model, load_run_file

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


def _run_file(tmp_path: Path, extra: str) -> Path:
    shutil.copy(EXAMPLES / "terrain.asc", tmp_path / "terrain.asc")
    text = (EXAMPLES / "run.toml").read_text(encoding="utf-8")
    text = re.sub(r"(?m)^duration_s = 5400", "duration_s = 1200", text)
    text = text.replace("# subgrid_cell_size = 20 ", extra + " ")
    run = tmp_path / "run.toml"
    run.write_text(text, encoding="utf-8")
    return run


def test_run_file_subgrid_runs_on_fine_outputs(tmp_path: Path) -> None:
    run = _run_file(tmp_path, "subgrid_cell_size = 20")
    model = build_model(load_run_file(run))
    assert isinstance(model, SubgridModel)
    assert model.tables.ratio == 4 and model.tables.shape == (15, 20)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["inundation", "run", str(run), "--out", str(out)])
    assert result.exit_code == 0, result.output
    with rasterio.open(out / "max_depth.tif") as src:
        assert (src.height, src.width) == (60, 80) and src.transform.a == 5.0
        band = src.read(1, masked=True)
        assert band.mask[0, 0] and float(band.max()) > 0.1
    lines = (out / "mass_balance.csv").read_text().splitlines()
    assert len(lines) > 5


def test_run_file_subgrid_size_must_be_a_multiple(tmp_path: Path) -> None:
    run = _run_file(tmp_path, "subgrid_cell_size = 12")
    with pytest.raises(RunFileError, match="whole multiple"):
        build_model(load_run_file(run))


def test_run_file_subgrid_equal_to_terrain_is_the_regular_model(tmp_path: Path) -> None:
    run = _run_file(tmp_path, "subgrid_cell_size = 5")
    model = build_model(load_run_file(run))
    assert not isinstance(model, SubgridModel)
    assert np.isfinite(model.grid.cell_size)
