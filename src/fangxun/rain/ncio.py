"""Nowcasts to and from CF NetCDF.

The file holds ``rain_rate`` (mm/h, float32) with dims (``time``, ``y``, ``x``) for one member or
(``member``, ``time``, ``y``, ``x``) for an ensemble, on the radar's own grid: ``x``/``y`` the
cell centres in the radar's projection (metres), a ``crs`` grid-mapping variable (CF attributes
and WKT), ``time`` the valid times and ``forecast_reference_time`` the issue time (the last
radar frame).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from fangxun.rain.nowcast import Nowcast


def to_dataset(nc: Nowcast) -> Any:
    """The nowcast as an ``xarray.Dataset`` (CF-1.8)."""
    import xarray as xr

    times = np.array([t.replace(tzinfo=None) for t in nc.times], dtype="datetime64[ns]")
    x = nc.x_centres()
    y = nc.y_centres()
    unit = str(nc.crs.axis_info[0].unit_name) if nc.crs.axis_info else "metre"
    xy_units = "m" if unit in ("metre", "meter") else unit
    data = nc.rate_mm_h
    attrs = {
        "long_name": "rain rate",
        "standard_name": "rainfall_rate",
        "units": "mm/h",
        "grid_mapping": "crs",
    }
    if nc.members > 1:
        rr = xr.Variable(("member", "time", "y", "x"), data, attrs)
    else:
        rr = xr.Variable(("time", "y", "x"), data[0], attrs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pyproj: CF cannot hold every parameter
        crs_attrs = dict(nc.crs.to_cf())
    crs_attrs["spatial_ref"] = nc.crs.to_wkt()
    crs_attrs["GeoTransform"] = " ".join(str(v) for v in tuple(nc.transform)[:6])
    coords: dict[str, Any] = {
        "time": ("time", times, {"standard_name": "time", "axis": "T"}),
        "y": ("y", y, {"standard_name": "projection_y_coordinate", "units": xy_units, "axis": "Y"}),
        "x": ("x", x, {"standard_name": "projection_x_coordinate", "units": xy_units, "axis": "X"}),
        "forecast_reference_time": (
            (),
            np.datetime64(nc.issue_time.replace(tzinfo=None), "ns"),
            {"standard_name": "forecast_reference_time"},
        ),
    }
    if nc.members > 1:
        coords["member"] = (
            "member",
            np.arange(nc.members, dtype=np.int32),
            {"standard_name": "realization", "long_name": "ensemble member"},
        )
    ds = xr.Dataset(
        {"rain_rate": rr, "crs": xr.Variable((), np.int32(0), crs_attrs)},
        coords=coords,
        attrs={
            "Conventions": "CF-1.8",
            "title": "Fangxun rain nowcast",
            "source": f"fangxun.rain {nc.method} (pysteps)",
            "history": "inputs: " + ", ".join(Path(s).name for s in nc.sources),
            "nowcast_method": nc.method,
        },
    )
    return ds


def write_netcdf(nc: Nowcast, path: str | Path) -> Path:
    """Write the nowcast to ``path`` (NetCDF-4, compressed)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    ds = to_dataset(nc)
    enc = {
        "rain_rate": {"zlib": True, "complevel": 4, "dtype": "float32", "_FillValue": np.nan},
        "time": {"units": "seconds since 1970-01-01 00:00:00", "calendar": "standard"},
        "forecast_reference_time": {"units": "seconds since 1970-01-01 00:00:00"},
    }
    tmp = p.with_name(p.name + ".part")
    ds.to_netcdf(tmp, encoding=enc)
    tmp.replace(p)
    return p
