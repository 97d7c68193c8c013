"""Importers: real radar files of three providers read with the right times, units and grid; bad
files refused with errors that name the file."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from hypothesis import given
from hypothesis import strategies as st
from pyproj import CRS, Transformer

from fangxun.rain.grids import Frame, RainConflictError, RainFileError, check_sequence
from fangxun.rain.importers import (
    default_options,
    parse_option,
    read_frames,
    read_sequence,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "radar"
SHARED = next(
    (
        p / "shared" / "reference" / "radar"
        for p in Path(__file__).resolve().parents
        if (p / "shared" / "reference" / "radar").is_dir()
    ),
    None,
)
UTC = UTC


def files(sub: str, pattern: str) -> list[Path]:
    return sorted((DATA / sub).glob(pattern))


def test_mch_gif_defaults_from_pysteps_data_source() -> None:
    assert default_options("mch_gif") == {"product": "AQC", "unit": "mm", "accutime": 5}
    frames = read_sequence(files("mch", "*.gif"), "mch_gif")
    assert [f.time for f in frames] == [
        datetime(2016, 7, 11, 20, 45, tzinfo=UTC) + timedelta(minutes=5 * k) for k in range(5)
    ]
    f = frames[0]
    assert f.shape == (640, 710)
    assert f.transform == Affine(1000.0, 0.0, 255000.0, 0.0, -1000.0, 480000.0)
    assert (f.crs.is_projected and "Oblique" in f.crs.to_wkt()) or "somerc" in str(f.crs.to_json())
    assert f.interval_s == 300.0
    # 5-min depths (mm) become rates: every value is a multiple of 12 × the depth step.
    raw = read_frames(files("mch", "*.gif")[0], "mch_gif", {"unit": "mm", "accutime": 60})[0]
    np.testing.assert_allclose(f.rate_mm_h, raw.rate_mm_h * 12.0, rtol=1e-5, equal_nan=True)
    assert np.nanmax(f.rate_mm_h) > 1.0 and np.isnan(f.rate_mm_h).any()  # rain, and no-data outside


def test_odim_hdf5_rate_grid_and_time() -> None:
    frames = read_sequence(files("rmi", "*.hdf"), "odim_hdf5")
    assert frames[0].time == datetime(2021, 7, 4, 16, 40, tzinfo=UTC)
    assert frames[-1].time == datetime(2021, 7, 4, 17, 0, tzinfo=UTC)
    f = frames[0]
    assert f.shape == (700, 700)
    assert f.pixel_size_m == pytest.approx((1000.0, 1000.0))
    assert f.transform.c == pytest.approx(300000.0, abs=1.0)
    assert f.transform.f == pytest.approx(1000000.0, abs=1.0)
    assert "Lambert Conic Conformal" in f.crs.to_wkt()
    assert 10.0 < float(np.nanmax(f.rate_mm_h)) < 300.0  # a convective afternoon, in mm/h


def test_bom_rf3_and_cf_netcdf_read_the_same_field() -> None:
    fs = files("bom", "*.nc")
    a = read_sequence(fs, "bom_rf3")
    b = read_sequence(fs, "netcdf")
    assert [f.time for f in a] == [f.time for f in b]
    assert a[0].time == datetime(2018, 6, 16, 12, 0, tzinfo=UTC)
    assert a[1].time - a[0].time == timedelta(minutes=6)
    assert b[0].interval_s == 360.0  # from the file's start_time/valid_time
    for x, y in zip(a, b, strict=True):
        # Same projection (pysteps' PROJ string vs the file's CF grid mapping): same lon/lat.
        to_a = Transformer.from_crs(x.crs, "EPSG:4326", always_xy=True)
        to_b = Transformer.from_crs(y.crs, "EPSG:4326", always_xy=True)
        np.testing.assert_allclose(
            to_a.transform(50e3, -70e3), to_b.transform(50e3, -70e3), atol=1e-6
        )
        np.testing.assert_allclose(x.transform, y.transform, atol=1e-3)
        np.testing.assert_allclose(x.rate_mm_h, y.rate_mm_h, rtol=1e-5, atol=1e-4, equal_nan=True)
    # 500 m cells centred on the radar: the grid's corners are ±128 km ± half a cell.
    assert a[0].transform == Affine(500.0, 0.0, -128250.0, 0.0, -500.0, 128250.0)


@pytest.mark.slow
@pytest.mark.skipif(SHARED is None, reason="../shared/reference/radar is absent on this clone")
@pytest.mark.parametrize(
    ("importer", "pattern", "count", "first", "step_min", "shape"),
    [
        ("mch_gif", "mch/20160711/*.gif", 40, datetime(2016, 7, 11, 20, 45), 5, (640, 710)),
        ("odim_hdf5", "rmi/radqpe/20210704/*.hdf", 39, datetime(2021, 7, 4, 15, 50), 5, (700, 700)),
        (
            "bom_rf3",
            "bom/prcp-cscn/2/2018/06/16/*.nc",
            61,
            datetime(2018, 6, 16, 10, 0),
            6,
            (512, 512),
        ),
    ],
)
def test_every_shared_sample_reads(
    importer: str, pattern: str, count: int, first: datetime, step_min: int, shape: tuple[int, int]
) -> None:
    assert SHARED is not None
    frames = read_sequence(sorted(SHARED.glob(pattern)), importer)
    assert len(frames) == count
    assert frames[0].time == first.replace(tzinfo=UTC)
    _, step = check_sequence(frames)
    assert step == timedelta(minutes=step_min)
    assert all(f.shape == shape for f in frames)
    assert all(float(np.nanmin(f.rate_mm_h)) >= 0.0 for f in frames)


def test_truncated_file_is_refused_naming_it(tmp_path: Path) -> None:
    for sub, pattern, importer in (
        ("rmi", "*.hdf", "odim_hdf5"),
        ("bom", "*.nc", "bom_rf3"),
        ("mch", "*.gif", "mch_gif"),
    ):
        src = files(sub, pattern)[0]
        cut = tmp_path / src.name
        cut.write_bytes(src.read_bytes()[: src.stat().st_size // 3])
        with pytest.raises(RainFileError) as err:
            read_frames(cut, importer)
        assert str(cut) in err.value.detail


def test_good_frames_around_a_bad_file_are_kept(tmp_path: Path) -> None:
    """Read one by one (as ingest does), a truncated file costs only itself."""
    fs = files("rmi", "*.hdf")
    copies = []
    for k, f in enumerate(fs):
        dst = tmp_path / f.name
        data = f.read_bytes()
        dst.write_bytes(data[:100] if k == 2 else data)
        copies.append(dst)
    good, bad = [], []
    for p in copies:
        try:
            good.extend(read_frames(p, "odim_hdf5"))
        except RainFileError as exc:
            bad.append(exc.path)
    assert bad == [str(copies[2])]
    assert len(good) == 4


def _netcdf(path: Path, *, crs: bool = True, units: str = "mm/h") -> Path:
    import xarray as xr

    x = 500_000.0 + 1000.0 * np.arange(4)
    y = 3_800_000.0 - 1000.0 * np.arange(3)
    data = np.full((2, 3, 4), 5.0, np.float32)
    attrs = {"units": units, "standard_name": "rainfall_rate"}
    ds = xr.Dataset(
        {"rain": (("time", "y", "x"), data, attrs)},
        coords={
            "time": np.array(["2026-07-20T08:00", "2026-07-20T08:05"], dtype="datetime64[ns]"),
            "x": ("x", x, {"units": "m"}),
            "y": ("y", y, {"units": "m"}),
        },
    )
    if crs:
        ds["crs"] = xr.Variable((), 0, CRS.from_epsg(4547).to_cf())
        ds["rain"].attrs["grid_mapping"] = "crs"
    ds.to_netcdf(path)
    return path


def test_cf_netcdf_grid_times_and_crs(tmp_path: Path) -> None:
    frames = read_frames(_netcdf(tmp_path / "qpf.nc"), "netcdf", kind="QPF")
    assert [f.time for f in frames] == [
        datetime(2026, 7, 20, 8, tzinfo=UTC),
        datetime(2026, 7, 20, 8, 5, tzinfo=UTC),
    ]
    assert frames[0].crs.to_epsg() == 4547
    assert frames[0].transform == Affine(1000.0, 0.0, 499500.0, 0.0, -1000.0, 3800500.0)
    assert frames[0].kind == "QPF"
    np.testing.assert_allclose(frames[0].rate_mm_h, 5.0)


def test_file_without_crs_is_refused(tmp_path: Path) -> None:
    p = _netcdf(tmp_path / "nocrs.nc", crs=False)
    with pytest.raises(RainFileError, match="no CRS") as err:
        read_frames(p, "netcdf")
    assert str(p) in err.value.detail
    tif = tmp_path / "nocrs_20260720T0800.tif"
    with rasterio.open(
        tif,
        "w",
        driver="GTiff",
        width=4,
        height=3,
        count=1,
        dtype="float32",
        transform=Affine(1000.0, 0.0, 0.0, 0.0, -1000.0, 0.0),
    ) as dst:
        dst.write(np.ones((1, 3, 4), np.float32))
    with pytest.raises(RainFileError, match="no CRS") as err:
        read_frames(tif, "geotiff")
    assert str(tif) in err.value.detail


def test_wrong_units_are_refused(tmp_path: Path) -> None:
    p = _netcdf(tmp_path / "kelvin.nc", units="K")
    with pytest.raises(RainFileError, match="wrong units") as err:
        read_frames(p, "netcdf")
    assert str(p) in err.value.detail


def test_geotiff_rate_with_time_from_name(tmp_path: Path) -> None:
    tif = tmp_path / "qpe_202607200800.tif"
    with rasterio.open(
        tif,
        "w",
        driver="GTiff",
        width=4,
        height=3,
        count=1,
        dtype="float32",
        crs="EPSG:4547",
        transform=Affine(1000.0, 0.0, 500000.0, 0.0, -1000.0, 3800000.0),
    ) as dst:
        dst.write(np.full((1, 3, 4), 2.0, np.float32))
        dst.update_tags(1, units="mm")
    (f,) = read_frames(tif, "geotiff", {"accutime": 10})
    assert f.time == datetime(2026, 7, 20, 8, 0, tzinfo=UTC)
    np.testing.assert_allclose(f.rate_mm_h, 12.0)  # 2 mm in 10 min


def test_conflicting_duplicate_time_is_refused(tmp_path: Path) -> None:
    src = files("rmi", "*.hdf")[0]
    same = tmp_path / "copy" / src.name
    same.parent.mkdir()
    shutil.copy(src, same)
    # An identical copy is the same frame held twice: fine.
    assert len(read_sequence([src, same], "odim_hdf5")) == 1
    a = read_frames(src, "odim_hdf5")[0]
    b = Frame(
        time=a.time,
        rate_mm_h=a.rate_mm_h * 2.0,
        crs=a.crs,
        transform=a.transform,
        source="other.hdf",
    )
    with pytest.raises(RainConflictError, match="already held") as err:
        check_sequence([a, b])
    assert "other.hdf" in err.value.detail and src.name in err.value.detail


def test_unknown_importer_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RainFileError, match="unknown importer"):
        read_frames(files("rmi", "*.hdf")[0], "nope")
    with pytest.raises(RainFileError, match="no such file"):
        read_frames(tmp_path / "absent.hdf", "odim_hdf5")


@given(
    key=st.from_regex(r"[a-z_]{1,10}", fullmatch=True),
    number=st.one_of(st.integers(-1000, 1000), st.floats(-1e6, 1e6, allow_nan=False)),
)
def test_importer_options_parse_numbers_as_numbers(key: str, number: float) -> None:
    k, v = parse_option(f"{key}={number}")
    assert k == key
    assert v == number and type(v) is type(number)
    assert parse_option(f"{key}=AQC") == (key, "AQC")


def test_option_without_equals_is_refused() -> None:
    with pytest.raises(RainFileError, match="KEY=VALUE"):
        parse_option("accutime")
