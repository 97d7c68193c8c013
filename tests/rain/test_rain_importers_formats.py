"""The KNMI HDF5, FMI PGM and OPERA (ODIM) HDF5 importers on small files written here in each
format (no sample of these providers is held): the right time, units, grid and values, and
refusals that name the file."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from pyproj import CRS, Transformer

from fangxun.rain.grids import RainFileError
from fangxun.rain.importers import read_frames

h5py = pytest.importorskip("h5py")

NY, NX = 6, 8


# --- KNMI (KNMI Data Centre HDF5: 5-min accumulations in 0.01 mm, 65535 no data) ---------------

KNMI_PROJ = "+proj=stere +lat_0=90 +lon_0=0.0 +lat_ts=60.0 +a=6378137 +b=6356752 +x_0=0 +y_0=0"


def write_knmi(path: Path, hundredths_mm: np.ndarray) -> None:
    with h5py.File(path, "w") as f:
        img = f.create_group("image1")
        img.create_dataset("image_data", data=hundredths_mm.astype(np.uint16))
        geo = f.create_group("geographic")
        geo.attrs["geo_number_columns"] = np.array([NX], np.int32)
        geo.attrs["geo_number_rows"] = np.array([NY], np.int32)
        geo.attrs["geo_pixel_size_x"] = np.array([1.0], np.float32)  # km
        geo.attrs["geo_pixel_size_y"] = np.array([-1.0], np.float32)
        geo.attrs["geo_column_offset"] = np.array([0.0], np.float32)
        geo.attrs["geo_row_offset"] = np.array([3650.0], np.float32)
        geo.attrs["geo_dim_pixel"] = np.bytes_("KM,KM")
        proj = geo.create_group("map_projection")
        proj.attrs["projection_proj4_params"] = np.bytes_(KNMI_PROJ)


def test_knmi_hdf5_accumulations_become_rates_on_the_stereographic_grid(tmp_path: Path) -> None:
    depth = np.arange(NY * NX, dtype=np.uint16).reshape(NY, NX) * 10  # 0.00–4.70 mm in 5 min
    depth[0, 0] = 65535  # no data
    path = tmp_path / "RAD_NL25_RAP_5min_202107041235.h5"
    write_knmi(path, depth)
    [f] = read_frames(path, "knmi_hdf5")
    assert f.time == datetime(2021, 7, 4, 12, 35, tzinfo=UTC)
    assert f.interval_s == 300.0
    assert f.shape == (NY, NX)
    assert np.isnan(f.rate_mm_h[0, 0])
    # 0.01 mm units over 5 minutes → mm/h: × 0.01 × 12
    np.testing.assert_allclose(f.rate_mm_h[1:], depth[1:] * 0.01 * 12.0, rtol=1e-6)
    assert f.crs.to_dict()["proj"] == "stere"
    # the grid is given in km on a CRS in metres: 1 km pixels, rows 3650–3656 km from the pole
    assert f.transform.a == pytest.approx(1000.0)
    assert f.transform.e == pytest.approx(-1000.0)
    assert f.transform.c == pytest.approx(0.0)
    assert {f.transform.f, f.transform.f + NY * f.transform.e} == {-3_650_000.0, -3_656_000.0}


def test_knmi_hdf5_truncated_file_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "RAD_NL25_RAP_5min_202107041240.h5"
    write_knmi(path, np.ones((NY, NX), np.uint16))
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(RainFileError) as err:
        read_frames(path, "knmi_hdf5")
    assert path.name in str(err.value.detail)


# --- FMI (PGM composite of reflectivity, dBZ = (byte − 64) / 2, 255 missing) -------------------

# FMI's projection (the importer adds the sphere and the false origin, which put the
# composite's lower-left corner at 0, 0); the top-right corner of a NX × NY km grid from there
FMI_CRS = CRS.from_proj4(
    "+proj=stere +lon_0=25 +lat_0=90 +lat_ts=60 +a=6371288 +x_0=380886.310 +y_0=3395677.920"
)
_TR = Transformer.from_crs(FMI_CRS, "EPSG:4326", always_xy=True).transform(NX * 1000.0, NY * 1000.0)
FMI_META = {
    "type": "stereographic",
    "centrallongitude": "25",
    "centrallatitude": "90",
    "truelatitude": "60",
    "bottomleft": "18.6 57.93",
    "topright": f"{_TR[0]:.6f} {_TR[1]:.6f}",
    "metersperpixel_x": "1000.0",
    "metersperpixel_y": "1000.0",
}


def write_fmi(path: Path, pixels: np.ndarray, *, meta: dict[str, str] = FMI_META) -> None:
    header = "P5\n" + "".join(f"# {k} {v}\n" for k, v in meta.items())
    body = (header + f"{NX} {NY}\n255\n").encode() + pixels.astype(np.uint8).tobytes()
    with gzip.open(path, "wb") as g:
        g.write(body)


def test_fmi_pgm_reflectivity_becomes_rain_rate_with_fmi_zr(tmp_path: Path) -> None:
    pixels = np.full((NY, NX), 64, np.uint8)  # 0 dBZ
    pixels[2, 3] = 64 + 2 * 40  # 40 dBZ
    pixels[5, 7] = 255  # missing
    path = tmp_path / "202107041235_fmi.radar.composite.lowest_FIN_SUOMI1.pgm.gz"
    write_fmi(path, pixels)
    [f] = read_frames(path, "fmi_pgm")
    assert f.time == datetime(2021, 7, 4, 12, 35, tzinfo=UTC)
    assert f.shape == (NY, NX)
    assert np.isnan(f.rate_mm_h[5, 7])
    # Z = 10^(dBZ/10), R = (Z / 223)^(1 / 1.53): FMI's own Z–R relation from the importer
    expected = (10.0**4.0 / 223.0) ** (1.0 / 1.53)
    assert f.rate_mm_h[2, 3] == pytest.approx(expected, rel=1e-4)
    assert float(f.rate_mm_h[0, 0]) < 0.1  # 0 dBZ is (next to) no rain
    # the grid's lower-left corner is the header's bottom-left lon/lat, 1 km pixels
    x, y = Transformer.from_crs("EPSG:4326", f.crs, always_xy=True).transform(18.6, 57.93)
    assert f.transform.c == pytest.approx(x, abs=1.0)
    assert f.transform.f - NY * 1000.0 == pytest.approx(y, abs=1.0)
    assert f.transform.a == pytest.approx(1000.0)


def test_fmi_pgm_without_projection_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "202107041240_fmi.radar.composite.lowest_FIN_SUOMI1.pgm.gz"
    meta = {k: v for k, v in FMI_META.items() if k != "type"}
    write_fmi(path, np.full((NY, NX), 100, np.uint8), meta=meta)
    with pytest.raises(RainFileError) as err:
        read_frames(path, "fmi_pgm")
    assert path.name in str(err.value.detail)
    assert "CRS" in str(err.value.detail) or "projection" in str(err.value.detail)


# --- OPERA (ODIM HDF5 composite: RATE with gain/offset, nodata/undetect) ------------------------

OPERA_PROJ = "+proj=laea +lat_0=55.0 +lon_0=10.0 +x_0=1950000.0 +y_0=-2100000.0 +ellps=WGS84"


def write_opera(path: Path, raw: np.ndarray, *, quantity: str = "RATE") -> tuple[float, float]:
    """An ODIM composite of raw bytes (value = raw × 0.1, 255 nodata, 0 undetect); returns the
    lower-left corner in the projection (m)."""
    laea = CRS.from_proj4(OPERA_PROJ)
    to_ll = Transformer.from_crs(laea, "EPSG:4326", always_xy=True)
    x0, y0 = 1_000_000.0, -1_000_000.0  # lower-left corner
    ll = to_ll.transform(x0, y0)
    ur = to_ll.transform(x0 + NX * 2000.0, y0 + NY * 2000.0)
    with h5py.File(path, "w") as f:
        what = f.create_group("what")
        what.attrs["date"] = np.bytes_("20210704")
        what.attrs["time"] = np.bytes_("123500")
        where = f.create_group("where")
        where.attrs["projdef"] = np.bytes_(OPERA_PROJ)
        where.attrs["LL_lon"], where.attrs["LL_lat"] = ll
        where.attrs["UR_lon"], where.attrs["UR_lat"] = ur
        where.attrs["xscale"] = 2000.0
        where.attrs["yscale"] = 2000.0
        d = f.create_group("dataset1/data1")
        d.create_dataset("data", data=raw.astype(np.uint8))
        w = d.create_group("what")
        w.attrs["quantity"] = np.bytes_(quantity)
        w.attrs["gain"] = 0.1
        w.attrs["offset"] = 0.0
        w.attrs["nodata"] = 255.0
        w.attrs["undetect"] = 0.0
    return x0, y0


def test_opera_hdf5_rate_time_and_grid(tmp_path: Path) -> None:
    raw = np.zeros((NY, NX), np.uint8)
    raw[1, 2] = 123  # 12.3 mm/h
    raw[4, 4] = 255  # no data
    path = tmp_path / "T_PAAH21_C_EUOC_20210704123500.hdf"
    x0, y0 = write_opera(path, raw)
    [f] = read_frames(path, "opera_hdf5")
    assert f.time == datetime(2021, 7, 4, 12, 35, tzinfo=UTC)
    assert f.rate_mm_h[1, 2] == pytest.approx(12.3, rel=1e-5)
    assert f.rate_mm_h[0, 0] == 0.0  # undetect: no rain
    assert np.isnan(f.rate_mm_h[4, 4])
    assert f.transform.a == pytest.approx(2000.0)
    assert f.transform.c == pytest.approx(x0, abs=1.0)
    assert f.transform.f == pytest.approx(y0 + NY * 2000.0, abs=1.0)
    assert f.crs.to_dict()["proj"] == "laea"


def test_opera_hdf5_without_rain_quantity_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "T_PAAH21_C_EUOC_20210704124000.hdf"
    write_opera(path, np.ones((NY, NX), np.uint8), quantity="TH")  # no RATE in the file
    with pytest.raises(RainFileError) as err:
        read_frames(path, "opera_hdf5")
    assert path.name in str(err.value.detail)
