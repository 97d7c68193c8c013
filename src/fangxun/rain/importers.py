"""Read radar composites and QPF grids into :class:`~fangxun.rain.grids.Frame` objects.

Importers are selected by name:

* pysteps' importers (``mch_gif``, ``odim_hdf5``, ``bom_rf3``, ``knmi_hdf5``, ``fmi_pgm``,
  ``opera_hdf5``, ``dwd_hdf5``, ``fmi_geotiff``, ``mch_hdf5``, ``saf_crri``, ``mrms_grib``). Options
  a file does not carry (e.g. ``mch_gif``'s product, unit and accumulation time) default to pysteps'
  own data-source settings for that importer (``pysteps.rcparams.data_sources``) and are
  overridable per call. The valid time comes from the file name through the data source's
  ``fn_pattern``, else from inside the file (ODIM ``what/date``+``time``, NetCDF ``valid_time`` or
  ``time``), else from a ``YYYYmmddHHMM[SS]`` run in the file name.
* ``netcdf`` (CF NetCDF through xarray: any number of times, CRS from the ``grid_mapping``
  variable or rioxarray), ``grib`` (cfgrib, optional) and ``geotiff`` (rioxarray; the time from
  the option ``time`` or the file name).

Units: rates in mm/h (or kg m-2 s-1) are taken as they are; accumulations (mm, kg m-2, m) are
divided by their interval (the file's, else the option ``accutime`` in minutes); reflectivity
(dBZ) goes through Z = a R^b (``zr_a``, ``zr_b``, default Marshall–Palmer 200, 1.6). Anything else
is refused as wrong units. Every refusal is a :class:`~fangxun.rain.grids.RainFileError` naming the
file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from affine import Affine
from pyproj import CRS
from pyproj.exceptions import CRSError

from fangxun.rain.grids import Frame, Kind, RainFileError, utc

log = logging.getLogger(__name__)

#: Importers that go through pysteps (its names).
PYSTEPS_IMPORTERS = (
    "mch_gif",
    "odim_hdf5",
    "bom_rf3",
    "knmi_hdf5",
    "fmi_pgm",
    "opera_hdf5",
    "dwd_hdf5",
    "fmi_geotiff",
    "mch_hdf5",
    "saf_crri",
    "mrms_grib",
)
#: Importers that go through xarray/rioxarray.
XARRAY_IMPORTERS = ("netcdf", "grib", "geotiff")
IMPORTERS = PYSTEPS_IMPORTERS + XARRAY_IMPORTERS

_RATE_UNITS = {"mm/h": 1.0, "mm h-1": 1.0, "mm hr-1": 1.0, "mm/hr": 1.0, "kg m-2 s-1": 3600.0}
_RATE_UNITS |= {"kg m-2 h-1": 1.0, "mm s-1": 3600.0, "m s-1": 3.6e6, "m/s": 3.6e6}
_DEPTH_UNITS = {"mm": 1.0, "kg m-2": 1.0, "kg/m2": 1.0, "kg m**-2": 1.0, "m": 1000.0}
_STAMP = re.compile(r"(?<!\d)(20\d{2})(\d{2})(\d{2})[_T-]?(\d{2})(\d{2})(\d{2})?(?!\d)")


def parse_option(text: str) -> tuple[str, object]:
    """``KEY=VALUE`` → (key, value), the value an int or float where it reads as one, a bool for
    true/false, else the string."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise RainFileError("--importer-option", f"{text!r} is not KEY=VALUE")
    raw = raw.strip()
    value: object = raw
    if raw.lower() in {"true", "false"}:
        value = raw.lower() == "true"
    else:
        for cast in (int, float):
            try:
                value = cast(raw)
                break
            except ValueError:
                continue
    return key, value


def load_pysteps() -> Any:
    """Import pysteps without its "configuration file found" line on stdout (the CLI's stdout
    stays clean)."""
    import io
    import sys

    if "pysteps" not in sys.modules:
        with contextlib.redirect_stdout(io.StringIO()):
            import pysteps  # noqa: F401
    return sys.modules["pysteps"]


def data_source(importer: str) -> dict[str, Any]:
    """pysteps' data-source settings for ``importer`` (matched on its ``importer`` field or key),
    or an empty dict."""
    if importer not in PYSTEPS_IMPORTERS:
        return {}
    sources: Mapping[str, Any] = load_pysteps().rcparams["data_sources"]
    for key, src in sources.items():
        if src.get("importer") == importer or key == importer:
            return dict(src)
    return {}


def default_options(importer: str) -> dict[str, object]:
    """The importer's options from pysteps' data-source settings (a copy)."""
    return dict(data_source(importer).get("importer_kwargs", {}))


def read_frames(
    path: str | os.PathLike[str],
    importer: str,
    options: Mapping[str, object] | None = None,
    *,
    kind: Kind = "QPE",
) -> list[Frame]:
    """Read every frame of one file (one for radar composites, one per time for NetCDF/GRIB).

    ``options`` override the importer's defaults (see :func:`default_options`).
    """
    p = Path(path)
    if importer not in IMPORTERS:
        raise RainFileError(p, f"unknown importer {importer!r}; known: {', '.join(IMPORTERS)}")
    if not p.is_file():
        raise RainFileError(p, "no such file")
    if p.stat().st_size == 0:
        raise RainFileError(p, "the file is empty")
    opts = dict(options or {})
    if importer in PYSTEPS_IMPORTERS:
        return [_read_pysteps(p, importer, opts, kind)]
    if importer == "geotiff":
        return [_read_geotiff(p, opts, kind)]
    return _read_xarray(p, importer, opts, kind)


def read_sequence(
    paths: Iterable[str | os.PathLike[str]],
    importer: str,
    options: Mapping[str, object] | None = None,
    *,
    kind: Kind = "QPE",
) -> list[Frame]:
    """All frames of several files, in time order (:func:`fangxun.rain.grids.check_sequence`)."""
    from fangxun.rain.grids import check_sequence

    frames: list[Frame] = []
    for p in paths:
        frames.extend(read_frames(p, importer, options, kind=kind))
    ordered, _ = check_sequence(frames)
    return ordered


# --- pysteps ----------------------------------------------------------------------------------


@contextlib.contextmanager
def _strict_images() -> Iterator[None]:
    """Pillow refuses truncated images while a radar file is read: WeasyPrint, once imported,
    switches ``ImageFile.LOAD_TRUNCATED_IMAGES`` on for the whole process, and a truncated GIF
    composite would then read as a field with a band of zeros."""
    from PIL import ImageFile

    before = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        yield
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = before


def _read_pysteps(p: Path, importer: str, opts: dict[str, object], kind: Kind) -> Frame:
    load_pysteps()
    from pysteps import io as psio

    src = data_source(importer)
    kwargs = default_options(importer)
    if "gzipped" in kwargs and p.suffix != ".gz":
        kwargs["gzipped"] = False  # the data source assumes .gz archives; the name says otherwise
    time_opt = opts.pop("time", None)
    zr = {k: opts.pop(k) for k in ("zr_a", "zr_b") if k in opts}
    kwargs.update(opts)
    reader = psio.get_method(importer, "importer")
    try:
        with np.errstate(invalid="ignore", divide="ignore"), _strict_images():
            data, _quality, meta = reader(str(p), **kwargs)
    except TypeError as exc:
        raise RainFileError(p, f"importer {importer} options {kwargs}: {exc}") from exc
    except Exception as exc:  # any library's error on a bad file: say which file
        raise RainFileError(
            p, f"cannot be read by {importer} ({type(exc).__name__}: {exc})"
        ) from exc
    data = np.asarray(data, dtype=np.float64)
    if data.ndim == 3 and data.shape[0] == 1:
        data = data[0]
    if data.ndim != 2:
        raise RainFileError(p, f"expected one 2-D field, got shape {data.shape}")
    proj = meta.get("projection")
    if not proj:
        raise RainFileError(p, "no CRS (the importer found no projection)")
    try:
        crs = CRS.from_user_input(proj)
    except CRSError as exc:
        raise RainFileError(p, f"unreadable CRS {proj!r}: {exc}") from exc
    if meta.get("cartesian_unit") == "km" and _metres(crs):
        # KNMI gives its grid in km on a CRS in metres
        meta = {**meta, **{k: float(meta[k]) * 1000.0 for k in ("x1", "x2", "y1", "y2")}}
        for k in ("xpixelsize", "ypixelsize"):
            if meta.get(k):
                meta[k] = float(meta[k]) * 1000.0
    transform = _transform_from_meta(meta, data.shape)
    if meta.get("yorigin", "upper") == "lower":
        data = data[::-1]
    accutime = meta.get("accutime")
    interval_s = float(accutime) * 60.0 if accutime else None
    rate = _to_rate(
        p,
        data,
        str(meta.get("unit", "")),
        meta.get("transform"),
        interval_s,
        zr.get("zr_a", meta.get("zr_a", 200.0)),
        zr.get("zr_b", meta.get("zr_b", 1.6)),
    )
    time = _time_of(p, importer, src, time_opt)
    return Frame(
        time=time,
        rate_mm_h=rate,
        crs=crs,
        transform=transform,
        source=str(p),
        kind=kind,
        interval_s=interval_s,
        attrs={"institution": str(meta.get("institution", "")), "importer": importer},
    )


def _metres(crs: CRS) -> bool:
    """True when the CRS's first axis is in metres."""
    axes = crs.axis_info
    return bool(axes) and axes[0].unit_name in ("metre", "meter")


def _transform_from_meta(meta: Mapping[str, Any], shape: tuple[int, ...]) -> Affine:
    """Upper-left corner transform from pysteps' x1/x2/y1/y2 and pixel sizes.

    Some importers (bom_rf3) give the outer pixel *centres* as x1..x2; when the span is one pixel
    short of the grid, shift by half a pixel so the transform names pixel corners.
    """
    ny, nx = int(shape[0]), int(shape[1])
    x1, x2 = float(meta["x1"]), float(meta["x2"])
    y1, y2 = float(meta["y1"]), float(meta["y2"])
    dx = float(meta.get("xpixelsize") or (x2 - x1) / nx)
    dy = float(meta.get("ypixelsize") or (y2 - y1) / ny)
    if abs((x2 - x1) - (nx - 1) * dx) < 0.01 * dx:
        x1 -= dx / 2.0
    if abs((y2 - y1) - (ny - 1) * dy) < 0.01 * dy:
        y2 += dy / 2.0
    return Affine(dx, 0.0, x1, 0.0, -dy, y2)


def _to_rate(
    p: Path,
    data: np.ndarray[Any, Any],
    unit: str,
    transform: object,
    interval_s: float | None,
    zr_a: object,
    zr_b: object,
) -> np.ndarray[Any, np.dtype[np.float32]]:
    """Field in its unit → rain rate in mm/h (float32); refuse units that are not rain."""
    u = unit.strip()
    # reflectivity is dB by nature (pysteps marks dBZ fields "dB"-transformed): Z–R below
    if transform not in (None, "None", "") and not (u.lower() == "dbz" and transform == "dB"):
        raise RainFileError(p, f"values are {transform}-transformed; expected plain values")
    with np.errstate(invalid="ignore", over="ignore"):
        if u in _RATE_UNITS:
            rate = data * _RATE_UNITS[u]
        elif u in _DEPTH_UNITS:
            if not interval_s:
                raise RainFileError(
                    p, f"values are accumulations ({u}) but no interval is known (option accutime)"
                )
            rate = data * _DEPTH_UNITS[u] * 3600.0 / interval_s
        elif u.lower() == "dbz":
            z = 10.0 ** (data / 10.0)
            rate = (z / float(zr_a)) ** (1.0 / float(zr_b))  # type: ignore[arg-type]
        else:
            raise RainFileError(p, f"wrong units {unit!r}: expected a rain rate or accumulation")
    rate32: np.ndarray[Any, np.dtype[np.float32]] = np.asarray(rate, dtype=np.float32)
    finite = rate32[np.isfinite(rate32)]
    if finite.size == 0:
        raise RainFileError(p, "holds no valid value")
    if float(finite.min()) < -1e-3:
        raise RainFileError(p, f"negative rain ({float(finite.min())} mm/h)")
    if float(finite.max()) > 2000.0:
        raise RainFileError(
            p, f"implausible rain rate {float(finite.max()):.0f} mm/h (wrong units?)"
        )
    return rate32


def _pattern_time(name: str, fn_pattern: str) -> datetime | None:
    """Match a file name against a pysteps ``fn_pattern`` (strftime codes, ``?`` a wildcard)."""
    codes = {
        "%Y": r"(?P<Y>\d{4})",
        "%y": r"(?P<y>\d{2})",
        "%m": r"(?P<m>\d{2})",
        "%d": r"(?P<d>\d{2})",
        "%j": r"(?P<j>\d{3})",
        "%H": r"(?P<H>\d{2})",
        "%M": r"(?P<M>\d{2})",
        "%S": r"(?P<S>\d{2})",
    }
    rx = ""
    i = 0
    while i < len(fn_pattern):
        two = fn_pattern[i : i + 2]
        if two in codes:
            rx += codes[two]
            i += 2
        elif fn_pattern[i] == "?":
            rx += "."
            i += 1
        else:
            rx += re.escape(fn_pattern[i])
            i += 1
    m = re.match(rx, name)
    if not m:
        return None
    g = m.groupdict()
    year = int(g["Y"]) if "Y" in g else 2000 + int(g["y"])
    if "j" in g:
        base = datetime(year, 1, 1) + timedelta(days=int(g["j"]) - 1)
    else:
        base = datetime(year, int(g["m"]), int(g["d"]))
    t = base.replace(hour=int(g.get("H", 0)), minute=int(g.get("M", 0)), second=int(g.get("S", 0)))
    return t.replace(tzinfo=UTC)


def _time_in_file(p: Path) -> datetime | None:
    """Valid time stored inside an HDF5 (ODIM ``what``) or NetCDF file, if any."""
    with contextlib.suppress(Exception):
        import h5py

        with h5py.File(p, "r") as h:
            what = h.get("what")
            if what is not None and "date" in what.attrs and "time" in what.attrs:
                d = what.attrs["date"]
                t = what.attrs["time"]
                d = d.decode() if isinstance(d, bytes | np.bytes_) else str(d)
                t = t.decode() if isinstance(t, bytes | np.bytes_) else str(t)
                return datetime.strptime(d + t[:6], "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    with contextlib.suppress(Exception):
        import netCDF4

        with netCDF4.Dataset(p) as nc:
            for name in ("valid_time", "time"):
                if name in nc.variables:
                    var = nc.variables[name]
                    value = netCDF4.num2date(
                        np.ravel(var[:])[-1], var.units, only_use_cftime_datetimes=False
                    )
                    return utc(datetime.fromisoformat(str(value.isoformat())))  # type: ignore[union-attr]
    return None


def _time_of(p: Path, importer: str, src: Mapping[str, Any], time_opt: object) -> datetime:
    if time_opt is not None:
        return utc(datetime.fromisoformat(str(time_opt)))
    pattern = src.get("fn_pattern")
    if pattern:
        t = _pattern_time(p.name, str(pattern))
        if t is not None:
            return t
    t = _time_in_file(p)
    if t is not None:
        return t
    m = _STAMP.search(p.name)
    if m:
        y, mo, d, h, mi, s = m.groups()
        return datetime(int(y), int(mo), int(d), int(h), int(mi), int(s or 0), tzinfo=UTC)
    raise RainFileError(p, f"no valid time in the file or its name (importer {importer})")


# --- xarray: CF NetCDF, GRIB, GeoTIFF ---------------------------------------------------------

_RAIN_NAMES = (
    "rain_rate",
    "rainfall_rate",
    "precipitation",
    "precip",
    "tp",
    "prate",
    "lwe_precipitation_rate",
)
_RAIN_STANDARD = (
    "rainfall_rate",
    "lwe_precipitation_rate",
    "precipitation_flux",
    "precipitation_amount",
    "rainfall_amount",
    "lwe_thickness_of_precipitation_amount",
)


def _open_dataset(p: Path, importer: str) -> Any:
    import xarray as xr

    try:
        if importer == "grib":
            try:
                import cfgrib  # noqa: F401
            except ImportError as exc:
                raise RainFileError(
                    p, "GRIB needs the optional package cfgrib (and ecCodes)"
                ) from exc
            return xr.open_dataset(p, engine="cfgrib", decode_timedelta=True)
        return xr.open_dataset(p, decode_timedelta=True)
    except RainFileError:
        raise
    except Exception as exc:
        raise RainFileError(
            p, f"cannot be read as {importer} ({type(exc).__name__}: {exc})"
        ) from exc


def _pick_variable(p: Path, ds: Any, name: object) -> Any:
    if name:
        if name not in ds.data_vars:
            raise RainFileError(
                p, f"no variable {name!r} (has {', '.join(map(str, ds.data_vars))})"
            )
        return ds[name]
    for v in ds.data_vars.values():
        if v.attrs.get("standard_name") in _RAIN_STANDARD:
            return v
    for n in _RAIN_NAMES:
        if n in ds.data_vars:
            return ds[n]
    grids = [v for v in ds.data_vars.values() if v.ndim >= 2]
    if len(grids) == 1:
        return grids[0]
    raise RainFileError(p, "no rain variable found (give the option variable=NAME)")


def _crs_of(p: Path, ds: Any, var: Any) -> CRS:
    gm = var.attrs.get("grid_mapping") or var.encoding.get("grid_mapping")
    if gm and gm in ds.variables:
        attrs = dict(ds[gm].attrs)
        try:
            if "crs_wkt" in attrs:
                return CRS.from_wkt(str(attrs["crs_wkt"]))
            if "spatial_ref" in attrs:
                return CRS.from_wkt(str(attrs["spatial_ref"]))
            return CRS.from_cf(attrs)
        except CRSError as exc:
            raise RainFileError(p, f"grid mapping {gm!r} is not a readable CRS: {exc}") from exc
    xname, yname = _xy_names(p, var)
    if xname in ("longitude", "lon") and yname in ("latitude", "lat"):
        return CRS.from_epsg(4326)
    raise RainFileError(p, "no CRS (no grid_mapping variable and no lon/lat coordinates)")


def _xy_names(p: Path, var: Any) -> tuple[str, str]:
    dims = [str(d) for d in var.dims]
    for xn, yn in (("x", "y"), ("longitude", "latitude"), ("lon", "lat"), ("easting", "northing")):
        if xn in dims and yn in dims:
            return xn, yn
    if len(dims) >= 2:
        return dims[-1], dims[-2]
    raise RainFileError(p, f"no 2-D grid in variable {var.name!r} (dims {dims})")


def _coord_scale(p: Path, coord: Any) -> float:
    unit = str(coord.attrs.get("units", "m")).strip().lower()
    return {"m": 1.0, "metre": 1.0, "meter": 1.0, "metres": 1.0, "km": 1000.0}.get(unit, 1.0)


def _read_xarray(p: Path, importer: str, opts: dict[str, object], kind: Kind) -> list[Frame]:
    ds = _open_dataset(p, importer)
    try:
        var = _pick_variable(p, ds, opts.get("variable"))
        crs = _crs_of(p, ds, var)
        xname, yname = _xy_names(p, var)
        x = np.asarray(ds[xname].values, np.float64) * (
            _coord_scale(p, ds[xname]) if crs.is_projected else 1.0
        )
        y = np.asarray(ds[yname].values, np.float64) * (
            _coord_scale(p, ds[yname]) if crs.is_projected else 1.0
        )
        if x.size < 2 or y.size < 2:
            raise RainFileError(p, "the grid needs at least 2 × 2 cells")
        dx = float(np.mean(np.diff(x)))
        dy = float(np.mean(np.diff(y)))
        if not np.allclose(np.diff(x), dx, rtol=1e-3) or not np.allclose(np.diff(y), dy, rtol=1e-3):
            raise RainFileError(p, "the grid is not regular")
        others = [d for d in var.dims if d not in (xname, yname)]
        tname = next((d for d in others if "time" in str(d) or str(d) == "step"), None)
        extra = [d for d in others if d != tname]
        for d in extra:
            if var.sizes[d] != 1:
                raise RainFileError(p, f"dimension {d!r} has {var.sizes[d]} entries; expected 1")
            var = var.isel({d: 0})
        unit = str(opts.get("unit") or var.attrs.get("units", ""))
        interval_s = _interval_s(ds, var, opts)
        issue = opts.get("issue_time")
        issue_time = utc(datetime.fromisoformat(str(issue))) if issue else None
        if tname is not None:
            times = [_as_utc(p, t) for t in np.atleast_1d(ds[tname].values)]
        elif "valid_time" in ds.variables or "time" in ds.variables:
            tv = ds["valid_time"] if "valid_time" in ds.variables else ds["time"]
            times = [_as_utc(p, np.ravel(tv.values)[-1])]
        elif opts.get("time"):
            times = [utc(datetime.fromisoformat(str(opts["time"])))]
        else:
            raise RainFileError(p, "no time coordinate (give the option time=ISO8601)")
        frames = []
        for k, t in enumerate(times):
            field = var.isel({tname: k}) if tname is not None else var
            field = field.transpose(yname, xname)
            try:
                data = np.asarray(field.values, np.float64)
            except Exception as exc:  # truncated chunk: name the file
                raise RainFileError(
                    p, f"data cannot be read ({type(exc).__name__}: {exc})"
                ) from exc
            if dy > 0:
                data = data[::-1]
            if dx < 0:
                data = data[:, ::-1]
            rate = _to_rate(p, data, unit, None, interval_s, 200.0, 1.6)
            x0 = float(min(x[0], x[-1])) - abs(dx) / 2.0
            y0 = float(max(y[0], y[-1])) + abs(dy) / 2.0
            frames.append(
                Frame(
                    time=t,
                    rate_mm_h=rate,
                    crs=crs,
                    transform=Affine(abs(dx), 0.0, x0, 0.0, -abs(dy), y0),
                    source=str(p),
                    kind=kind,
                    issue_time=issue_time,
                    interval_s=interval_s,
                    attrs={"importer": importer},
                )
            )
        return frames
    finally:
        ds.close()


def _interval_s(ds: Any, var: Any, opts: Mapping[str, object]) -> float | None:
    if opts.get("accutime"):
        return float(opts["accutime"]) * 60.0  # type: ignore[arg-type]
    if "start_time" in ds.variables and "valid_time" in ds.variables:
        with contextlib.suppress(Exception):
            a = np.ravel(ds["start_time"].values)[-1]
            b = np.ravel(ds["valid_time"].values)[-1]
            return float((b - a) / np.timedelta64(1, "s"))
    return None


def _as_utc(p: Path, value: Any) -> datetime:
    try:
        ns = np.datetime64(value, "ns").astype("int64")
    except Exception as exc:
        raise RainFileError(p, f"unreadable time {value!r}") from exc
    return datetime.fromtimestamp(int(ns) / 1e9, tz=UTC)


def _read_geotiff(p: Path, opts: dict[str, object], kind: Kind) -> Frame:
    import rasterio

    try:
        with rasterio.open(p) as src:
            if src.crs is None:
                raise RainFileError(p, "no CRS in the GeoTIFF")
            data = src.read(1, masked=True).astype(np.float64).filled(np.nan)
            crs = CRS.from_user_input(src.crs.to_wkt())
            transform = src.transform
            tags = src.tags()
            band_tags = src.tags(1)
    except RainFileError:
        raise
    except Exception as exc:
        raise RainFileError(p, f"cannot be read as GeoTIFF ({type(exc).__name__}: {exc})") from exc
    unit = str(opts.get("unit") or band_tags.get("units") or tags.get("units") or "mm/h")
    interval = float(opts["accutime"]) * 60.0 if opts.get("accutime") else None  # type: ignore[arg-type]
    rate = _to_rate(p, data, unit, None, interval, 200.0, 1.6)
    t_text = opts.get("time") or tags.get("time") or tags.get("TIFFTAG_DATETIME")
    if t_text:
        text = str(t_text)
        try:
            time = utc(datetime.fromisoformat(text))
        except ValueError:
            time = datetime.strptime(text, "%Y:%m:%d %H:%M:%S").replace(tzinfo=UTC)
    else:
        m = _STAMP.search(p.name)
        if not m:
            raise RainFileError(p, "no time in the GeoTIFF tags or name (option time=ISO8601)")
        y, mo, d, h, mi, s = m.groups()
        time = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s or 0), tzinfo=UTC)
    return Frame(
        time=time,
        rate_mm_h=rate,
        crs=crs,
        transform=Affine(*tuple(transform)[:6]),
        source=str(p),
        kind=kind,
        interval_s=interval,
        attrs={"importer": "geotiff"},
    )
