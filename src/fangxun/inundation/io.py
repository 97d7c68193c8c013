"""Files in and out of the inundation model: rasters, run files, gauge and balance tables, maps.

* Terrain: GeoTIFF (any raster GDAL reads) or ESRI ASCII grid (``.asc``, also gzip-compressed
  ``.asc.gz``, read by a strict parser of our own: GDAL reads a malformed number as 0) →
  :class:`~.grid.Grid`; the raster's nodata cells become the grid's nodata mask; cells must be
  square and the raster north-up.
* Outputs: rasters as Cloud-Optimised GeoTIFF (GDAL's COG driver) with the terrain's CRS and
  transform; gauge and mass-balance tables as CSV; a PNG map of max depth with a colour bar.
* Run files: a TOML file (see ``docs/examples/run.toml``) validated into :class:`RunConfig`, with
  errors that name the key and say what is wrong; :func:`build_model` turns it into a ``Model``.

rasterio and matplotlib are imported inside the functions that need them, so that importing the
numerical core stays light.

>>> from pathlib import Path
>>> cfg = parse_run_config(
...     {"terrain": {"path": "dem.tif"}, "run": {"duration_s": 3600},
...      "rain": {"kind": "hyetograph", "times_s": [0, 1800], "intensity_mm_h": [40, 0]}},
...     base_dir=Path("/data"))
>>> cfg.resolve(cfg.terrain.path).as_posix(), build_rain(cfg.rain).total_mm()
('/data/dem.tif', 20.0)
>>> parse_run_config({"terrain": {"path": "dem.tif"}, "run": {"duration_s": -1}}, Path("."))
Traceback (most recent call last):
...
fangxun.inundation.io.RunFileError: run file: 1 problem(s) in the run file
  run.duration_s: Input should be greater than 0
"""

from __future__ import annotations

import csv
import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from fangxun.inundation.grid import Grid
from fangxun.inundation.rain import (
    GriddedRain,
    Hyetograph,
    StormFormula,
    chicago_hyetograph,
    zhengzhou_720_reconstruction,
)

if TYPE_CHECKING:
    from fangxun.inundation.model import Model
    from fangxun.inundation.subgrid import SubgridModel

__all__ = [
    "RunConfig",
    "RunFileError",
    "build_model",
    "build_rain",
    "load_run_file",
    "read_raster",
    "read_terrain",
    "write_cog",
    "write_gauge_csv",
    "write_mass_balance_csv",
    "write_max_depth_png",
]

FloatArray = npt.NDArray[np.float64]

#: nodata value written into float output rasters (NaN marks "no value" in the arrays).
OUTPUT_NODATA = -9999.0


# ---------------------------------------------------------------------------------------------
# Rasters
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Raster:
    """A single-band raster read from a file: values (NaN at nodata), mask, georeferencing."""

    values: FloatArray
    nodata_mask: npt.NDArray[np.bool_]
    cell_size: float
    transform: Any
    crs: Any


_ASC_KEYS = ("ncols", "nrows", "xllcorner", "yllcorner", "xllcenter", "yllcenter", "cellsize")


def _is_ascii_grid(p: Path) -> bool:
    name = p.name.lower()
    return name.endswith((".asc", ".asc.gz"))


def _asc_header(p: Path, tokens: list[str]) -> tuple[dict[str, float], int]:
    """The header of an ESRI ASCII grid (keys lower-cased) and the index of its first value."""
    header: dict[str, float] = {}
    i = 0
    while i + 1 < len(tokens) and tokens[i][:1].isalpha():
        key = tokens[i].lower()
        if key not in (*_ASC_KEYS, "nodata_value"):
            raise ValueError(f"ESRI ASCII grid {p}: unknown header key {tokens[i]!r}")
        try:
            header[key] = float(tokens[i + 1])
        except ValueError:
            raise ValueError(
                f"ESRI ASCII grid {p}: header {tokens[i]} is {tokens[i + 1]!r}, not a number"
            ) from None
        i += 2
    for key in ("ncols", "nrows", "cellsize"):
        if key not in header:
            raise ValueError(f"ESRI ASCII grid {p}: header key {key} is missing")
    return header, i


def _asc_corner(p: Path, header: dict[str, float], axis: str) -> float:
    """The lower-left corner along ``axis`` ("x" or "y"), m: ``?llcorner``, or ``?llcenter``
    less half a cell."""
    if f"{axis}llcorner" in header:
        return header[f"{axis}llcorner"]
    if f"{axis}llcenter" in header:
        return header[f"{axis}llcenter"] - header["cellsize"] / 2
    raise ValueError(
        f"ESRI ASCII grid {p}: header key {axis}llcorner (or {axis}llcenter) is missing"
    )


def read_esri_ascii(path: str | Path) -> Raster:
    """Read an ESRI ASCII grid (``.asc`` or gzip-compressed ``.asc.gz``) strictly.

    Header keys (any case): ``ncols``, ``nrows``, ``xllcorner``/``xllcenter``,
    ``yllcorner``/``yllcenter``, ``cellsize``, optional ``NODATA_value``; then ``nrows × ncols``
    numbers, north row first. A ``.prj`` file next to it gives the CRS. Values equal to the
    nodata value, or NaN, are nodata.

    Raises:
        ValueError: unreadable file, a missing or malformed header key, a value that is not a
            number (with its row and column), or too few / too many values.
    """
    import gzip

    from rasterio import Affine

    p = Path(path)
    try:
        if p.name.lower().endswith(".gz"):
            with gzip.open(p, "rt", encoding="ascii", errors="strict") as fh:
                text = fh.read()
        else:
            text = p.read_text(encoding="ascii", errors="strict")
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read ESRI ASCII grid {p}: {exc}") from exc
    tokens = text.split()
    header, i = _asc_header(p, tokens)
    nx, ny, cs = header["ncols"], header["nrows"], header["cellsize"]
    if nx != int(nx) or ny != int(ny) or nx < 1 or ny < 1:
        raise ValueError(f"ESRI ASCII grid {p}: ncols/nrows must be positive integers")
    if not (math.isfinite(cs) and cs > 0):
        raise ValueError(f"ESRI ASCII grid {p}: cellsize must be > 0, got {cs}")
    x0, y0 = _asc_corner(p, header, "x"), _asc_corner(p, header, "y")
    ncols, nrows = int(nx), int(ny)
    data = tokens[i:]
    if len(data) != ncols * nrows:
        raise ValueError(
            f"ESRI ASCII grid {p}: {len(data)} values, the header says {nrows} rows × {ncols} "
            f"columns = {nrows * ncols}"
        )
    try:
        values = np.array(data, dtype=np.float64).reshape(nrows, ncols)
    except ValueError:
        for k, tok in enumerate(data):
            try:
                float(tok)
            except ValueError:
                row, col = divmod(k, ncols)
                raise ValueError(
                    f"ESRI ASCII grid {p}: value {tok!r} at (row={row}, col={col}) is not a number"
                ) from None
        raise
    mask = ~np.isfinite(values)
    if "nodata_value" in header:
        mask |= values == header["nodata_value"]
    values[mask] = np.nan
    crs = None
    prj = p.with_name(p.name[: -len(".gz")] if p.name.lower().endswith(".gz") else p.name)
    prj = prj.with_suffix(".prj")
    if prj.exists():
        from rasterio.crs import CRS
        from rasterio.errors import CRSError

        try:
            crs = CRS.from_wkt(prj.read_text(encoding="utf-8", errors="replace"))
        except CRSError as exc:
            raise ValueError(f"ESRI ASCII grid {p}: cannot read the CRS in {prj}: {exc}") from exc
    transform = Affine(cs, 0.0, x0, 0.0, -cs, y0 + nrows * cs)
    return Raster(values=values, nodata_mask=mask, cell_size=cs, transform=transform, crs=crs)


def read_raster(path: str | Path) -> Raster:
    """Read band 1 of a raster (GeoTIFF, ESRI ASCII, …) as float64 with NaN at nodata.

    ESRI ASCII grids (``.asc``, ``.asc.gz``) go to :func:`read_esri_ascii`; other files to GDAL
    (``.gz`` files through GDAL's ``/vsigzip/``).

    Raises ``ValueError`` if the file cannot be read, the raster is rotated or not north-up, or its
    cells are not square (the model needs square cells; cell size in the raster's units, m).
    """
    import rasterio
    from rasterio.errors import RasterioIOError

    p = Path(path)
    if _is_ascii_grid(p):
        return read_esri_ascii(p)
    source = f"/vsigzip/{p}" if p.name.lower().endswith(".gz") else p
    try:
        with rasterio.open(source) as src:
            band = src.read(1, masked=True)
            transform = src.transform
            crs = src.crs
    except RasterioIOError as exc:
        raise ValueError(f"cannot read raster {p}: {exc}") from exc
    if transform.b != 0.0 or transform.d != 0.0:
        raise ValueError(f"raster {p} is rotated (transform {tuple(transform)[:6]}); warp it first")
    if transform.a <= 0.0 or transform.e >= 0.0:
        raise ValueError(
            f"raster {p} is not north-up (pixel sizes {transform.a}, {transform.e}); row 0 must "
            "be north"
        )
    if not math.isclose(transform.a, -transform.e, rel_tol=1e-9):
        raise ValueError(
            f"raster {p} has non-square cells ({transform.a} × {-transform.e}); resample it"
        )
    values = np.asarray(band.filled(np.nan), dtype=np.float64)
    mask = np.asarray(np.ma.getmaskarray(band)) | ~np.isfinite(values)
    values = np.where(mask, np.nan, values)
    return Raster(
        values=values,
        nodata_mask=mask,
        cell_size=float(transform.a),
        transform=transform,
        crs=crs,
    )


def read_terrain(path: str | Path) -> Grid:
    """Read an elevation raster (m) into a :class:`Grid`; nodata cells become the nodata mask."""
    r = read_raster(path)
    if r.nodata_mask.all():
        raise ValueError(f"terrain {path} has no valid cell (all nodata)")
    return Grid(
        elevation=r.values,
        cell_size=r.cell_size,
        nodata_mask=r.nodata_mask,
        transform=r.transform,
        crs=r.crs,
    )


def _transform_for(grid: Grid) -> Any:
    """The grid's transform, or a stand-in with the origin at (0, 0) when it has none."""
    from rasterio import Affine

    if grid.transform is not None:
        return grid.transform
    return Affine(grid.cell_size, 0.0, 0.0, 0.0, -grid.cell_size, 0.0)


def write_cog(
    path: str | Path,
    values: npt.ArrayLike,
    grid: Grid,
    nodata: float = OUTPUT_NODATA,
    dtype: str = "float32",
) -> Path:
    """Write one band as a Cloud-Optimised GeoTIFF with the grid's CRS and transform.

    NaN cells and the grid's nodata cells are written as ``nodata``. Returns the path written.
    """
    import rasterio

    arr = np.array(values, dtype=np.float64, copy=True)
    if arr.shape != grid.shape:
        raise ValueError(f"raster shape {arr.shape} does not match the grid shape {grid.shape}")
    arr[~np.isfinite(arr) | grid.nodata_mask] = nodata
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    profile = {
        "driver": "COG",
        "height": grid.shape[0],
        "width": grid.shape[1],
        "count": 1,
        "dtype": dtype,
        "nodata": nodata,
        "transform": _transform_for(grid),
        "crs": grid.crs,
        "compress": "deflate",
    }
    # COG is a create-copy driver: rasterio buffers the dataset and GDAL writes the COG layout
    # (tiles, overviews) when the file is closed.
    with rasterio.open(p, "w", **profile) as dst:
        dst.write(arr.astype(dtype), 1)
    return p


# ---------------------------------------------------------------------------------------------
# Tables and maps
# ---------------------------------------------------------------------------------------------

# Letters of any script are kept (gauge names are often Chinese); separators and the rest are not.
_SAFE_NAME = re.compile(r"[^\w.-]+")


def gauge_file_name(name: str) -> str:
    """A file name for gauge ``name`` that is safe on every file system."""
    safe = _SAFE_NAME.sub("_", name).strip("._") or "gauge"
    return f"gauge_{safe}.csv"


def write_gauge_csv(
    path: str | Path,
    times_s: npt.ArrayLike,
    depth_m: npt.ArrayLike,
    speed_m_s: npt.ArrayLike | None = None,
) -> Path:
    """Write one gauge series as CSV: ``time_s, depth_m[, speed_m_s]``."""
    t = np.asarray(times_s, dtype=np.float64).ravel()
    h = np.asarray(depth_m, dtype=np.float64).ravel()
    columns: list[tuple[str, FloatArray]] = [("time_s", t), ("depth_m", h)]
    if speed_m_s is not None:
        columns.append(("speed_m_s", np.asarray(speed_m_s, dtype=np.float64).ravel()))
    for name, col in columns:
        if col.shape != t.shape:
            raise ValueError(f"gauge column {name} has {col.size} values, time_s has {t.size}")
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with p.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow([name for name, _ in columns])
        for k in range(t.size):
            writer.writerow([repr(float(col[k])) for _, col in columns])
    return p


def write_mass_balance_csv(path: str | Path, series: Sequence[Mapping[str, float]]) -> Path:
    """Write the mass-balance series (one dict per output time, volumes in m³) as CSV.

    Columns: ``time_s`` first, then every other key in the order of the first row.
    """
    if not series:
        raise ValueError("mass-balance series is empty: nothing to write")
    keys = list(series[0].keys())
    if "time_s" not in keys:
        raise ValueError("mass-balance rows must carry 'time_s'")
    keys = ["time_s", *[k for k in keys if k != "time_s"]]
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with p.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(keys)
        for i, row in enumerate(series):
            missing = [k for k in keys if k not in row]
            if missing:
                raise ValueError(f"mass-balance row {i} lacks {missing}")
            writer.writerow([repr(float(row[k])) for k in keys])
    return p


def write_max_depth_png(
    path: str | Path,
    max_depth_m: npt.ArrayLike,
    grid: Grid,
    title: str = "Maximum depth",
    min_depth_m: float = 0.03,
) -> Path:
    """Draw the max-depth map over a grey hillshade of the terrain, with a colour bar (m).

    Cells shallower than ``min_depth_m`` are left transparent so that the terrain shows through.
    Axes are map coordinates (m) when the grid has a transform, column/row metres otherwise.
    """
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import LightSource, ListedColormap
    from matplotlib.figure import Figure

    depth = np.array(max_depth_m, dtype=np.float64, copy=True)
    if depth.shape != grid.shape:
        raise ValueError(f"max depth shape {depth.shape} does not match the grid {grid.shape}")
    ny, nx = grid.shape
    tr = _transform_for(grid)
    extent = (tr.c, tr.c + nx * tr.a, tr.f + ny * tr.e, tr.f)
    z = np.where(grid.nodata_mask, np.nanmin(grid.elevation), grid.elevation)
    shade = LightSource(azdeg=315, altdeg=45).hillshade(z, vert_exag=3.0, dx=tr.a, dy=-tr.e)
    depth[(depth < min_depth_m) | grid.nodata_mask | ~np.isfinite(depth)] = np.nan

    fig = Figure(figsize=(8.0, 8.0 * ny / max(nx, 1) + 0.8), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.imshow(shade, cmap="gray", extent=extent, vmin=0.0, vmax=1.0, interpolation="nearest")
    vmax = float(np.nanmax(depth)) if np.isfinite(depth).any() else 1.0
    im = ax.imshow(
        np.ma.masked_invalid(depth),
        # Blues without its near-white end, so shallow water still shows against the terrain.
        cmap=ListedColormap(colormaps["Blues"](np.linspace(0.3, 1.0, 256))),
        extent=extent,
        vmin=0.0,
        vmax=max(vmax, min_depth_m * 2),
        interpolation="nearest",
    )
    cbar = fig.colorbar(im, ax=ax, shrink=0.8)
    cbar.set_label("max depth (m)")
    ax.ticklabel_format(useOffset=False, style="plain")
    ax.set_title(title)
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p)
    return p


# ---------------------------------------------------------------------------------------------
# Run files (TOML)
# ---------------------------------------------------------------------------------------------


class RunFileError(ValueError):
    """A run file that cannot be used; the message names the file, the key and the problem.

    ``problems`` lists each ``(key, message)``, the key as a dotted TOML path ("" when the file as
    a whole is at fault).
    """

    def __init__(self, message: str, problems: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.problems: list[tuple[str, str]] = list(problems)

    @classmethod
    def at(cls, key: str, message: str) -> RunFileError:
        """The error for one key: "key: message"."""
        return cls(f"{key}: {message}", [(key, message)])


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


PositiveFloat = Annotated[float, Field(gt=0.0, allow_inf_nan=False)]
NonNegFloat = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
#: A number, or the path of a raster (relative to the run file) with one value per cell.
ScalarOrRaster = NonNegFloat | str


class TerrainSection(_Strict):
    """``[terrain]``: the elevation raster (m)."""

    path: str


class ModelSection(_Strict):
    """``[model]``: numerics and friction."""

    manning: Annotated[float, Field(gt=0.0, allow_inf_nan=False)] | str = 0.03
    dtype: Literal["float32", "float64"] = "float32"
    backend: Literal["numba", "numpy"] = "numba"
    # None: the model's own defaults (chosen for stability and accuracy, see model.py).
    alpha: Annotated[float, Field(gt=0.0, le=1.0)] | None = None
    theta: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    max_dt_s: PositiveFloat | None = None
    wet_threshold_m: PositiveFloat = 1e-3
    # Metres: run the subgrid model (fangxun.inundation.subgrid) on cells of this size over the
    # terrain's finer pixels (a whole multiple of the terrain's cell size); None: the terrain's.
    subgrid_cell_size: PositiveFloat | None = None


class RunSection(_Strict):
    """``[run]``: simulated duration and outputs."""

    duration_s: PositiveFloat
    output_interval_s: PositiveFloat = 60.0
    depth_thresholds_m: tuple[PositiveFloat, ...] = (0.15, 0.27, 0.40, 0.50)
    arrival_threshold_m: PositiveFloat = 0.15
    initial_depth: str | None = None


class FormulaSection(_Strict):
    """Storm formula ``i = a(1 + c lg P)/(t + b)^n``: give ``a_mm_min`` or ``a_l_s_ha``."""

    a_mm_min: PositiveFloat | None = None
    a_l_s_ha: PositiveFloat | None = None
    b: NonNegFloat
    c: NonNegFloat
    n: Annotated[float, Field(gt=0.0, lt=1.0)]

    @model_validator(mode="after")
    def _one_a(self) -> FormulaSection:
        if (self.a_mm_min is None) == (self.a_l_s_ha is None):
            raise ValueError("give exactly one of a_mm_min (mm/min) or a_l_s_ha (L/(s·ha))")
        return self

    def formula(self) -> StormFormula:
        if self.a_mm_min is not None:
            return StormFormula(a=self.a_mm_min, b=self.b, c=self.c, n=self.n, name="run file")
        assert self.a_l_s_ha is not None
        return StormFormula.from_q_form(self.a_l_s_ha, self.b, self.c, self.n, name="run file")


class HyetographRain(_Strict):
    """``[rain] kind = "hyetograph"``: a table of times (s) and intensities (mm/h)."""

    kind: Literal["hyetograph"]
    times_s: list[float]
    intensity_mm_h: list[float]


class ChicagoRain(_Strict):
    """``[rain] kind = "chicago"``: a Chicago design storm from a storm intensity formula."""

    kind: Literal["chicago"]
    formula: FormulaSection
    return_period_years: PositiveFloat
    duration_s: PositiveFloat
    step_s: PositiveFloat = 300.0
    peak_ratio: Annotated[float, Field(ge=0.0, le=1.0)] = 0.4
    start_s: NonNegFloat = 0.0


class Zhengzhou720Rain(_Strict):
    """``[rain] kind = "zhengzhou_720"``: the 7·20 reconstruction (not observed hourly data)."""

    kind: Literal["zhengzhou_720"]
    antecedent: bool = False
    first_hour: Annotated[int, Field(ge=0)] = 0
    hours: Annotated[int, Field(ge=1)] | None = None


class NoRain(_Strict):
    """``[rain] kind = "none"``."""

    kind: Literal["none"]


_RAIN_KINDS = ("hyetograph", "chicago", "zhengzhou_720", "none")

RainSection = Annotated[
    HyetographRain | ChicagoRain | Zhengzhou720Rain | NoRain, Field(discriminator="kind")
]


class DrainageSection(_Strict):
    """``[drainage]``: sink capacity (mm/h) as a number or a raster path."""

    capacity_mm_h: ScalarOrRaster


class InfiltrationSection(_Strict):
    """``[infiltration]``: Horton parameters, numbers or raster paths."""

    f0_mm_h: ScalarOrRaster
    fc_mm_h: ScalarOrRaster
    k_per_h: ScalarOrRaster


class StageBoundary(_Strict):
    """A fixed water-surface elevation (m) on an edge."""

    stage_m: Annotated[float, Field(allow_inf_nan=False)]


EdgeSpec = Literal["closed", "open"] | StageBoundary


class BoundarySection(_Strict):
    """``[boundary]``: each edge closed, open (free outflow) or ``{stage_m = …}``."""

    north: EdgeSpec = "closed"
    south: EdgeSpec = "closed"
    east: EdgeSpec = "closed"
    west: EdgeSpec = "closed"


class GaugeSpec(_Strict):
    """A virtual gauge by ``row``/``col`` or by map ``x``/``y`` (m, in the terrain's CRS)."""

    row: Annotated[int, Field(ge=0)] | None = None
    col: Annotated[int, Field(ge=0)] | None = None
    x: Annotated[float, Field(allow_inf_nan=False)] | None = None
    y: Annotated[float, Field(allow_inf_nan=False)] | None = None

    @model_validator(mode="after")
    def _one_position(self) -> GaugeSpec:
        by_cell = self.row is not None and self.col is not None
        by_map = self.x is not None and self.y is not None
        partial = [k for k in ("row", "col", "x", "y") if getattr(self, k) is not None]
        if by_cell == by_map or len(partial) != 2:
            raise ValueError(f"give either row and col, or x and y (got {partial or 'none'})")
        return self


class InflowSpec(_Strict):
    """``[[inflows]]``: a hydrograph (m³/s; negative = withdrawal) at a cell, or shared equally
    over several cells (``cells = [[row, col], …]``) or map points (``points_xy = [[x, y], …]``,
    m in the terrain's CRS); ``interpolation`` is ``"step"`` (default) or ``"linear"``."""

    row: Annotated[int, Field(ge=0)] | None = None
    col: Annotated[int, Field(ge=0)] | None = None
    cells: list[tuple[Annotated[int, Field(ge=0)], Annotated[int, Field(ge=0)]]] | None = None
    points_xy: (
        list[
            tuple[
                Annotated[float, Field(allow_inf_nan=False)],
                Annotated[float, Field(allow_inf_nan=False)],
            ]
        ]
        | None
    ) = None
    times_s: list[float]
    discharge_m3_s: list[float]
    interpolation: Literal["step", "linear"] = "step"

    @model_validator(mode="after")
    def _one_place(self) -> InflowSpec:
        ways = [
            self.row is not None or self.col is not None,
            self.cells is not None,
            self.points_xy is not None,
        ]
        if sum(ways) != 1 or (ways[0] and (self.row is None or self.col is None)):
            raise ValueError("give either row and col, or cells, or points_xy")
        if (self.cells is not None and not self.cells) or (
            self.points_xy is not None and not self.points_xy
        ):
            raise ValueError("cells / points_xy must not be empty")
        return self


class RunConfig(_Strict):
    """A whole run file. Relative paths are resolved against ``base_dir`` (the file's folder)."""

    terrain: TerrainSection
    model: ModelSection = ModelSection()
    run: RunSection
    rain: RainSection = NoRain(kind="none")
    drainage: DrainageSection | None = None
    infiltration: InfiltrationSection | None = None
    boundary: BoundarySection = BoundarySection()
    gauges: dict[str, GaugeSpec] = {}
    inflows: list[InflowSpec] = []
    base_dir: Path = Path(".")

    @field_validator("gauges")
    @classmethod
    def _gauge_names(cls, value: dict[str, GaugeSpec]) -> dict[str, GaugeSpec]:
        for name in value:
            if not name.strip():
                raise ValueError("gauge names must not be empty")
        return value

    def resolve(self, path: str) -> Path:
        """A path from the run file, relative to the run file's folder."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else self.base_dir / p


def _problems(exc: ValidationError) -> list[tuple[str, str]]:
    out = []
    for err in exc.errors():
        # Drop pydantic's internal branch tags so the location reads like the TOML path.
        parts = [str(p) for p in err["loc"] if not str(p).startswith(("function-", "lax-"))]
        # pydantic puts the union member's tag after "rain" (rain.chicago.duration_s).
        if len(parts) > 1 and parts[0] == "rain" and parts[1] in _RAIN_KINDS:
            del parts[1]
        out.append((".".join(parts), err["msg"]))
    return out


def parse_run_config(
    data: Mapping[str, Any], base_dir: Path, source: str = "run file"
) -> RunConfig:
    """Validate a run file's parsed TOML; raise :class:`RunFileError` listing every problem."""
    try:
        return RunConfig.model_validate({**data, "base_dir": base_dir})
    except ValidationError as exc:
        problems = _problems(exc)
        lines = [f"{source}: {len(problems)} problem(s) in the run file"]
        lines += [f"  {loc or '(top level)'}: {msg}" for loc, msg in problems]
        raise RunFileError("\n".join(lines), problems) from exc


def load_run_file(path: str | Path) -> RunConfig:
    """Read and validate a TOML run file (see ``docs/examples/run.toml``)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise RunFileError(f"cannot read run file {p}: {exc.strerror}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RunFileError(f"{p}: not valid TOML: {exc}") from exc
    if "base_dir" in data:
        raise RunFileError(f"{p}: base_dir: not a run-file key (paths are relative to the file)")
    return parse_run_config(data, p.resolve().parent, source=str(p))


def build_rain(
    section: HyetographRain | ChicagoRain | Zhengzhou720Rain | NoRain,
) -> Hyetograph | None:
    """The hyetograph a ``[rain]`` section describes (``None`` for no rain)."""
    try:
        if isinstance(section, HyetographRain):
            return Hyetograph(times_s=section.times_s, intensity_mm_h=section.intensity_mm_h)
        if isinstance(section, ChicagoRain):
            return chicago_hyetograph(
                section.formula.formula(),
                section.return_period_years,
                section.duration_s,
                section.step_s,
                peak_ratio=section.peak_ratio,
                start_s=section.start_s,
            )
        if isinstance(section, Zhengzhou720Rain):
            scenario = zhengzhou_720_reconstruction(antecedent=section.antecedent)
            n = section.hours
            if n is None:
                n = len(scenario.hourly_mm) - section.first_hour
            return scenario.window(section.first_hour, n)
    except ValueError as exc:
        raise RunFileError.at("rain", str(exc)) from exc
    return None


def _scalar_or_raster(
    cfg: RunConfig, value: float | str, key: str, grid: Grid
) -> float | FloatArray:
    if isinstance(value, str):
        path = cfg.resolve(value)
        try:
            r = read_raster(path)
        except ValueError as exc:
            raise RunFileError.at(key, str(exc)) from exc
        if r.values.shape != grid.shape:
            raise RunFileError.at(
                key, f"raster {path} has shape {r.values.shape}, the terrain has {grid.shape}"
            )
        # Cells outside the terrain do not matter; cells inside must have a value.
        missing = r.nodata_mask & ~grid.nodata_mask
        if missing.any():
            row, col = (int(i) for i in np.argwhere(missing)[0])
            raise RunFileError.at(key, f"raster {path} has no value at (row={row}, col={col})")
        return np.where(grid.nodata_mask, 0.0, r.values)
    return float(value)


def gauge_cells(cfg: RunConfig, grid: Grid) -> dict[str, tuple[int, int]]:
    """Gauge positions as (row, col); map x/y are located with the terrain's transform."""
    out: dict[str, tuple[int, int]] = {}
    ny, nx = grid.shape
    for name, g in cfg.gauges.items():
        if g.row is not None and g.col is not None:
            row, col = g.row, g.col
        else:
            assert g.x is not None and g.y is not None
            if grid.transform is None:
                raise RunFileError.at(f"gauges.{name}", "x/y need a georeferenced terrain")
            inv = ~grid.transform
            fc, fr = inv @ (g.x, g.y)
            row, col = math.floor(fr), math.floor(fc)
        if not (0 <= row < ny and 0 <= col < nx):
            raise RunFileError.at(
                f"gauges.{name}", f"(row={row}, col={col}) lies outside the {ny}×{nx} terrain"
            )
        if grid.nodata_mask[row, col]:
            raise RunFileError.at(f"gauges.{name}", f"(row={row}, col={col}) is a nodata cell")
        out[name] = (row, col)
    return out


def _boundary(cfg: RunConfig) -> str | dict[str, Any]:
    edges: dict[str, Any] = {}
    for edge in ("north", "south", "east", "west"):
        spec = getattr(cfg.boundary, edge)
        edges[edge] = ("stage", spec.stage_m) if isinstance(spec, StageBoundary) else spec
    if all(v == "closed" for v in edges.values()):
        return "closed"
    return edges


def build_model(cfg: RunConfig, grid: Grid | None = None) -> Model | SubgridModel:
    """Build the grid (unless given) and the ``Model`` a run file describes (a
    :class:`~.subgrid.SubgridModel` when ``[model] subgrid_cell_size`` is coarser than the
    terrain; its outputs are on the terrain's pixels).

    Raises :class:`RunFileError` (naming the key) for inputs that fail the model's own checks.
    """
    from fangxun.inundation.drainage import Horton, PointInflow
    from fangxun.inundation.model import Model

    if grid is None:
        try:
            grid = read_terrain(cfg.resolve(cfg.terrain.path))
        except ValueError as exc:
            raise RunFileError.at("terrain.path", str(exc)) from exc
    rain: Hyetograph | GriddedRain | None = build_rain(cfg.rain)
    manning = _scalar_or_raster(cfg, cfg.model.manning, "model.manning", grid)
    drainage = (
        None
        if cfg.drainage is None
        else _scalar_or_raster(cfg, cfg.drainage.capacity_mm_h, "drainage.capacity_mm_h", grid)
    )
    infiltration = None
    if cfg.infiltration is not None:
        s = cfg.infiltration
        infiltration = Horton(
            f0_mm_h=_scalar_or_raster(cfg, s.f0_mm_h, "infiltration.f0_mm_h", grid),
            fc_mm_h=_scalar_or_raster(cfg, s.fc_mm_h, "infiltration.fc_mm_h", grid),
            k_per_h=_scalar_or_raster(cfg, s.k_per_h, "infiltration.k_per_h", grid),
        )
    from fangxun.inundation.drainage import shared_inflow
    from fangxun.inundation.gauges import cell_of_xy

    inflows = []
    for i, spec in enumerate(cfg.inflows):
        try:
            if spec.row is not None and spec.col is not None:
                inflows.append(
                    PointInflow(
                        spec.row, spec.col, spec.times_s, spec.discharge_m3_s, spec.interpolation
                    )
                )
                continue
            if spec.cells is not None:
                cells = [(int(r), int(c)) for r, c in spec.cells]
            else:
                assert spec.points_xy is not None
                cells = [
                    cell_of_xy(grid, x, y, f"point {k}") for k, (x, y) in enumerate(spec.points_xy)
                ]
            inflows += shared_inflow(cells, spec.times_s, spec.discharge_m3_s, spec.interpolation)
        except ValueError as exc:
            raise RunFileError.at(f"inflows[{i}]", str(exc)) from exc
    initial_depth = None
    if cfg.run.initial_depth is not None:
        initial_depth = _scalar_or_raster(cfg, cfg.run.initial_depth, "run.initial_depth", grid)
    kwargs: dict[str, Any] = {
        "manning": manning,
        "rain": rain,
        "drainage_mm_h": drainage,
        "infiltration": infiltration,
        "inflows": inflows or None,
        "boundary": _boundary(cfg),
        "initial_depth": initial_depth,
        "dtype": cfg.model.dtype,
        "backend": cfg.model.backend,
        "gauges": gauge_cells(cfg, grid),
        # The arrival-time raster needs its threshold among the tracked ones.
        "depth_thresholds_m": tuple(
            sorted({*cfg.run.depth_thresholds_m, cfg.run.arrival_threshold_m})
        ),
        "output_interval_s": cfg.run.output_interval_s,
        "wet_threshold_m": cfg.model.wet_threshold_m,
    }
    if cfg.model.alpha is not None:
        kwargs["alpha"] = cfg.model.alpha
    if cfg.model.theta is not None:
        kwargs["theta"] = cfg.model.theta
    if cfg.model.max_dt_s is not None:
        kwargs["max_dt_s"] = cfg.model.max_dt_s
    sub = cfg.model.subgrid_cell_size
    if sub is not None and sub > grid.cell_size * (1 + 1e-9):
        from fangxun.inundation.subgrid import subgrid_model_from_fine

        try:
            return subgrid_model_from_fine(grid, sub, **kwargs)
        except ValueError as exc:
            raise RunFileError.at("model.subgrid_cell_size", str(exc)) from exc
    try:
        return Model(grid, **kwargs)
    except ValueError as exc:
        raise RunFileError(f"the model refused the run file's inputs: {exc}") from exc


@dataclass(frozen=True)
class RunOutputs:
    """Paths of the files :func:`write_outputs` wrote."""

    max_depth: Path
    arrival_time: Path
    time_of_max_depth: Path
    gauges: dict[str, Path]
    mass_balance: Path
    map_png: Path


def write_outputs(model: Model | SubgridModel, cfg: RunConfig, out_dir: str | Path) -> RunOutputs:
    """Write a finished run's rasters (COG), gauge CSVs, mass-balance CSV and max-depth map.

    Arrival time is the first time (s) the depth reached ``run.arrival_threshold_m``; cells that
    never reached it are nodata.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    grid = model.grid
    max_depth = write_cog(out / "max_depth.tif", model.max_depth, grid)
    arrival = write_cog(
        out / "arrival_time.tif", model.arrival_time(cfg.run.arrival_threshold_m), grid
    )
    t_max = np.where(model.max_depth > 0.0, model.time_of_max_depth, np.nan)
    time_of_max = write_cog(out / "time_of_max_depth.tif", t_max, grid)
    gauges: dict[str, Path] = {}
    used: set[str] = set()
    for i, name in enumerate(cfg.gauges):
        times, depth, speed = model.gauge_series(name)
        file_name = gauge_file_name(name)
        if file_name in used:  # two names that differ only in unsafe characters
            file_name = file_name.removesuffix(".csv") + f"_{i}.csv"
        used.add(file_name)
        gauges[name] = write_gauge_csv(out / file_name, times, depth, speed)
    mb = write_mass_balance_csv(out / "mass_balance.csv", model.mass_balance_series())
    png = write_max_depth_png(
        out / "max_depth.png",
        model.max_depth,
        grid,
        title=f"Maximum depth after {model.time_s:g} s",
    )
    return RunOutputs(max_depth, arrival, time_of_max, gauges, mb, png)
