"""The twin experiment's parts: the storm is rescaled to the chosen heaviest 1-h total and laid on
the district; truth crossings per episode; the loop's decisions keep spans without flapping; the
CLI contract refuses a missing radar file by name."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from pyproj import CRS
from typer.testing import CliRunner

from fangxun.cli.main import app
from fangxun.config import Settings
from fangxun.rain.grids import Frame
from fangxun.warnings import twin
from fangxun.warnings.rules import Level

T0 = datetime(2026, 7, 20, 8, 0, tzinfo=UTC)


def _frames(n: int = 24, size: int = 60) -> list[Frame]:
    """A 10 km rain cell (peak 30 mm/h) crossing a 60 km grid eastwards at 1 km per frame."""
    yy, xx = np.mgrid[0:size, 0:size]
    out = []
    for k in range(n):
        cx = 10 + k
        rate = 30.0 * np.exp(-(((xx - cx) ** 2 + (yy - 30) ** 2) / (2 * 4.0**2)))
        out.append(
            Frame(
                time=T0 + timedelta(minutes=5 * k),
                rate_mm_h=rate.astype(np.float32),
                crs=CRS.from_epsg(3857),
                transform=Affine(1000.0, 0.0, 0.0, 0.0, -1000.0, 60_000.0),
                source="synthetic",
            )
        )
    return out


def test_storm_is_rescaled_to_the_chosen_heaviest_hour_and_laid_on_the_district() -> None:
    storm = twin.prepare_storm(_frames(), 120.0)
    wr, wc, w = storm.window
    assert w == 8  # 8 km of 1 km pixels
    acc = twin._rolling_1h_mm(storm.rates[:, wr : wr + w, wc : wc + w], storm.step_s)
    assert acc.max() == pytest.approx(120.0)
    assert storm.scale == pytest.approx(120.0 / storm.raw_max_1h_mm, rel=0.05)
    field = twin.to_district(storm.rates, storm, (100, 100), 80.0)
    assert field.shape == (len(storm.times), 100, 100)
    # Every district cell takes the radar pixel it lies in (8 km / 100 cells of 80 m).
    assert field[5, 0, 0] == pytest.approx(storm.rates[5, wr, wc])
    assert field[5, 99, 99] == pytest.approx(storm.rates[5, wr + 7, wc + 7])


def test_truth_crossings_start_a_new_episode_after_the_point_dries() -> None:
    p = twin.Point(
        "P", "P", "underpass", {"blue": 0.15, "yellow": 0.27, "orange": 0.4, "red": 0.5}, (0, 0)
    )
    t = np.arange(0.0, 600.0, 60.0)
    depth = np.array([0.0, 0.2, 0.45, 0.3, 0.05, 0.0, 0.16, 0.2, 0.1, 0.0])
    got = twin._truth_crossings([p], t, {"P": depth}, T0, margin=0.03)
    assert [(c.colour, (c.at - T0).total_seconds()) for c in got] == [
        ("blue", 60.0),
        ("yellow", 120.0),
        ("orange", 120.0),
        ("blue", 360.0),
    ]


def test_decisions_hold_their_colour_and_do_not_flap(settings: Settings) -> None:
    settings = twin.automatic_approval(settings)
    state = twin.SystemState()
    thr = {"blue": 0.15, "yellow": 0.27, "orange": 0.4, "red": 0.5}

    def levels(depth: float) -> list[Level]:
        return [Level(c, depth, thr[c]) for c in twin.COLOURS]

    hovering = [0.41, 0.39, 0.41, 0.38, 0.42, 0.0, 0.0, 0.0]
    for k, depth in enumerate(hovering):
        twin.decide(
            state,
            subject="predicted_ponding:0",
            point=0,
            levels=levels(depth),
            margin=0.03,
            now=T0 + timedelta(minutes=15 * k),
            settings=settings,
        )
    spans = twin.close(state)
    # Orange held through the hovering (hysteresis), lifted once after the hold time.
    assert {s.colour for s in spans} == {"blue", "yellow", "orange"}
    assert all(s.end == T0 + timedelta(minutes=75) for s in spans)
    assert twin.flaps(state, 3600.0) == 0


def test_cli_contract_refuses_a_missing_radar_file(tmp_path: Path) -> None:
    missing = tmp_path / "AQC161932045V_00005.801.gif"
    result = CliRunner().invoke(
        app,
        [
            "warnings",
            "twin",
            "--importer",
            "mch_gif",
            "--radar",
            str(missing),
            str(tmp_path / "b.gif"),
            "--max-1h-mm",
            "120",
            "--seed",
            "1",
            "--json",
            str(tmp_path / "out.json"),
        ],
    )
    assert result.exit_code != 0
    assert "no such file" in result.output and missing.name in result.output
    assert not (tmp_path / "out.json").exists()
