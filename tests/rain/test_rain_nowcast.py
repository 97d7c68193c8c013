"""Nowcasts: the CLI contract (`fangxun rain nowcast`), rain moved where the motion takes it, the
ensemble and the blend with a QPF."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import rasterio
import xarray as xr
from pyproj import CRS
from rain_synthetic import (
    CELL,
    CRS4547,
    DATA,
    T0,
    TRANSFORM,
    N,
    blob_field,
    centroid,
    moving_frames,
)
from typer.testing import CliRunner

from fangxun.cli.main import app
from fangxun.rain import nowcast as nc
from fangxun.rain.grids import Frame


def test_deterministic_nowcast_moves_the_cell_with_its_motion() -> None:
    frames = moving_frames()
    out = nc.deterministic(frames, 30.0)
    assert out.method == "sprog"
    assert out.rate_mm_h.shape == (1, 6, N, N)
    assert out.times == [frames[-1].time + timedelta(minutes=5 * k) for k in range(1, 7)]
    # last frame centred at (36, 33); after 6 more steps of (2, 1): (48, 39)
    x, y = centroid(out.rate_mm_h[0, -1])
    assert x == pytest.approx(48.0, abs=1.5)
    assert y == pytest.approx(39.0, abs=1.5)
    # plain extrapolation with two frames lands there too
    two = nc.deterministic(frames[-2:], 30.0)
    assert two.method == "extrapolation"
    x2, y2 = centroid(two.rate_mm_h[0, -1])
    assert (x2, y2) == pytest.approx((48.0, 39.0), abs=1.5)


def test_dry_inputs_give_a_dry_nowcast() -> None:
    frames = [
        Frame(
            time=T0 + timedelta(minutes=5 * k),
            rate_mm_h=np.zeros((N, N), np.float32),
            crs=CRS4547,
            transform=TRANSFORM,
            source=f"dry-{k}",
        )
        for k in range(3)
    ]
    out = nc.nowcast(frames, 15.0, 1)
    assert out.rate_mm_h.shape == (1, 3, N, N) and float(out.rate_mm_h.max()) == 0.0


def test_ensemble_members_spread_around_the_moving_cell() -> None:
    out = nc.ensemble(moving_frames(), 20.0, 4, seed=3)
    assert out.rate_mm_h.shape == (4, 4, N, N)
    assert not np.allclose(out.rate_mm_h[0], out.rate_mm_h[1])  # noise differs per member
    p = out.exceedance(1.0)
    assert p.shape == (4, N, N) and float(np.nanmin(p)) >= 0.0 and float(np.nanmax(p)) <= 1.0
    # the cell's expected position (44, 37) is wet in most members, the far corner in none
    assert p[-1, 37, 44] >= 0.5
    assert p[-1, 90, 5] == 0.0


def test_coarsened_ensemble_returns_the_input_grid() -> None:
    out = nc.ensemble(moving_frames(), 10.0, 2, seed=1, max_cells=N * N // 4)
    assert nc.coarsening_factor((N, N), N * N // 4) == 2
    assert out.rate_mm_h.shape == (2, 2, N, N)


def write_geotiffs(folder: Path, frames: list[Frame]) -> list[Path]:
    paths = []
    for f in frames:
        p = folder / f"radar_{f.time:%Y%m%d%H%M}.tif"
        with rasterio.open(
            p,
            "w",
            driver="GTiff",
            width=N,
            height=N,
            count=1,
            dtype="float32",
            crs="EPSG:4547",
            transform=TRANSFORM,
        ) as dst:
            dst.write(f.rate_mm_h[None])
            dst.update_tags(1, units="mm/h")
        paths.append(p)
    return paths


def run_cli(args: list[str]) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output


def test_cli_contract_mch_gif_alone_reads_the_meteoswiss_sample(tmp_path: Path) -> None:
    gifs = sorted(DATA.glob("mch/*.gif"))[-4:]
    out = tmp_path / "out.nc"
    run_cli(
        [
            "rain",
            "nowcast",
            "--importer",
            "mch_gif",
            "--input",
            *map(str, gifs),
            "--lead-min",
            "10",
            "--out",
            str(out),
        ]
    )
    ds = xr.open_dataset(out)
    rr = ds["rain_rate"]
    assert rr.dims == ("time", "y", "x")
    assert rr.attrs["units"] == "mm/h" and rr.attrs["grid_mapping"] == "crs"
    assert rr.shape == (2, 640, 710)
    assert list(ds["time"].values) == [
        np.datetime64("2016-07-11T21:10"),
        np.datetime64("2016-07-11T21:15"),
    ]
    # x/y: cell centres in the Swiss grid (CH1903 / LV03 extent of the MeteoSwiss composite)
    assert float(ds["x"][0]) == 255_500.0 and float(ds["y"][0]) == 479_500.0
    crs = CRS.from_wkt(ds["crs"].attrs["crs_wkt"])
    assert crs.is_projected and "Oblique" in crs.to_wkt()
    assert float(rr.max()) > 1.0
    ds.close()


def test_cli_ensemble_has_member_dim_and_reads_back_as_qpf(tmp_path: Path) -> None:
    paths = write_geotiffs(tmp_path, moving_frames())
    ens = tmp_path / "ens.nc"
    run_cli(
        [
            "rain",
            "nowcast",
            "--importer",
            "geotiff",
            "--input",
            str(paths[0]),
            *(a for p in paths[1:] for a in ("--input", str(p))),
            "--members",
            "3",
            "--lead-min",
            "12",
            "--out",
            str(ens),
        ]
    )
    ds = xr.open_dataset(ens)
    assert ds["rain_rate"].dims == ("member", "time", "y", "x")
    assert ds["rain_rate"].shape == (3, 2, N, N)  # 12 min of 5-min frames: two leads
    assert CRS.from_wkt(ds["crs"].attrs["crs_wkt"]).to_epsg() == 4547
    np.testing.assert_allclose(ds["x"][:2], [500_500.0, 501_500.0])
    ds.close()


def test_cli_blends_with_a_qpf(tmp_path: Path) -> None:
    frames = moving_frames()
    paths = write_geotiffs(tmp_path, frames)
    # the QPF: a model that sees the cell where it is and moves it on (so it has skill at the
    # issue time), and brings a 3 mm/h rain band over the south of the grid within the hour
    qpf = tmp_path / "qpf.nc"
    times = [frames[-1].time + timedelta(minutes=30 * k) for k in range(3)]
    band = np.zeros((N, N), np.float32)
    band[60:90, :] = 3.0
    field = np.stack([blob_field(36 + 12 * k, 33 + 6 * k) + band * (k / 2) for k in range(3)])
    x = 500_500.0 + CELL * np.arange(N)
    y = 3_849_500.0 - CELL * np.arange(N)
    xr.Dataset(
        {
            "precip": (("time", "y", "x"), field, {"units": "mm/h", "grid_mapping": "crs"}),
            "crs": ((), 0, CRS4547.to_cf()),
        },
        coords={
            "time": np.array([t.replace(tzinfo=None) for t in times], "datetime64[ns]"),
            "x": x,
            "y": y,
        },
    ).to_netcdf(qpf)
    out = tmp_path / "blend.nc"
    run_cli(
        [
            "rain",
            "nowcast",
            "--importer",
            "geotiff",
            "--input",
            *map(str, paths),
            "--lead-min",
            "60",
            "--qpf",
            str(qpf),
            "--out",
            str(out),
        ]
    )
    ds = xr.open_dataset(out)
    rr = ds["rain_rate"]
    assert rr.dims == ("time", "y", "x") and rr.shape == (12, N, N)
    assert ds.attrs["nowcast_method"] == "blended"
    # by 60 min the model's band carries weight: rain where the radar had none
    assert float(rr[0, 70:85, 5:20].mean()) == 0.0
    assert float(rr[-1, 70:85, 5:20].mean()) > 0.5
    ds.close()


def test_cli_refuses_a_lead_shorter_than_the_interval(tmp_path: Path) -> None:
    paths = write_geotiffs(tmp_path, moving_frames(3))
    result = CliRunner().invoke(
        app,
        [
            "rain",
            "nowcast",
            "--importer",
            "geotiff",
            "--input",
            *map(str, paths),
            "--lead-min",
            "2",
            "--out",
            str(tmp_path / "x.nc"),
        ],
    )
    assert result.exit_code == 65
    assert "shorter than the input interval" in result.output
