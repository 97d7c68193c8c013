"""Charts of the event report, as PNG bytes (matplotlib, Agg backend, Noto Sans CJK for Chinese,
found by path in :mod:`fangxun.reports.fonts`):
the hyetograph, depth curves at the worst points, and the map of maximum depths (the forecast's
max-depth raster when a run covers the event, else the observed maxima at the points).

Values arrive in SI and are drawn in the units people read: mm of rain, cm of water.
"""

from __future__ import annotations

import functools
import io
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import numpy as np

from fangxun.reports.fonts import configure_matplotlib
from fangxun.reports.stats import RainSeries
from fangxun.times import local_zone

#: Depths below this are not drawn on the map, m.
MAP_MIN_DEPTH_M = 0.03

# pyplot is neither thread-safe nor safe to import from several threads at once (a browser asks
# for an event's three charts in parallel, served from the thread pool): one chart at a time.
_PYPLOT_LOCK = threading.Lock()
_P = ParamSpec("_P")
_R = TypeVar("_R")


def _serialized(func: Callable[_P, _R]) -> Callable[_P, _R]:
    @functools.wraps(func)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with _PYPLOT_LOCK:
            return func(*args, **kwargs)

    return wrapper


def _figure(width_in: float = 7.5, height_in: float = 3.2) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    configure_matplotlib()
    fig, ax = plt.subplots(figsize=(width_in, height_in), dpi=110)
    return fig, ax


def _png(fig: Any) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def _local(times: Sequence[datetime]) -> list[datetime]:
    # matplotlib draws aware datetimes in their own zone; naive local times keep the axis simple.
    return [t.astimezone(local_zone()).replace(tzinfo=None) for t in times]


def _time_axis(ax: Any) -> None:
    import matplotlib.dates as mdates

    ax.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d\n%H:%M"))  # type: ignore[no-untyped-call]
    ax.grid(True, alpha=0.3)


@_serialized
def hyetograph_png(series: RainSeries, title: str = "") -> bytes:
    """Bars of the interval rain (mm) and the cumulative rain (mm) of one gauge."""
    fig, ax = _figure()
    if series.times:
        width = timedelta(seconds=series.interval_s)
        starts = _local([t - width for t in series.times])
        mm = np.asarray(series.depths_m) * 1000.0
        ax.bar(starts, mm, width=width.total_seconds() / 86400.0, align="edge", color="#3b7dd8")
        ax.set_ylabel(f"时段雨量 (mm/{series.interval_s // 60} min)")
        ax2 = ax.twinx()
        ax2.plot(_local(series.times), np.cumsum(mm), color="#c0392b", linewidth=1.5)
        ax2.set_ylabel("累计雨量 (mm)")
        _time_axis(ax)
    else:
        ax.text(0.5, 0.5, "无雨量数据", ha="center", va="center", transform=ax.transAxes)
    ax.set_title(title or f"雨量过程线 {series.code}")
    return _png(fig)


@_serialized
def depth_curves_png(points: Sequence[Any], ponding_m: float) -> bytes:
    """Depth (cm) against time at the given points (:class:`~fangxun.reports.service.PointStats`),
    with the ponding criterion as a dashed line."""
    fig, ax = _figure(7.5, 3.6)
    for p in points:
        ax.plot(_local(p.times), np.asarray(p.depth_m) * 100.0, label=f"{p.code} {p.name}")
    ax.axhline(ponding_m * 100.0, color="#888", linestyle="--", linewidth=1)
    ax.set_ylabel("积水深度 (cm)")
    ax.set_title("最严重点位积水过程")
    if points:
        ax.legend(fontsize=7, loc="upper right")
        _time_axis(ax)
    else:
        ax.text(0.5, 0.5, "无积水监测数据", ha="center", va="center", transform=ax.transAxes)
    return _png(fig)


@_serialized
def max_depth_map_png(points: Sequence[Any], raster: Path | None) -> bytes:
    """Map of maximum depths: the forecast max-depth raster (cm) with the points on it when
    ``raster`` is given, else the points coloured by their observed maximum (cm)."""
    from matplotlib.ticker import MaxNLocator

    fig, ax = _figure(6.5, 5.5)
    values = [p.max_depth_m * 100.0 for p in points]
    vmax = max([60.0, *values])
    if raster is not None:
        import rasterio
        from pyproj import Transformer

        with rasterio.open(raster) as src:
            depth = src.read(1).astype(np.float64)
            bounds = src.bounds
            crs = src.crs
        depth[~np.isfinite(depth) | (depth < MAP_MIN_DEPTH_M)] = np.nan
        img = ax.imshow(
            depth * 100.0,
            extent=(bounds.left, bounds.right, bounds.bottom, bounds.top),
            cmap="Blues",
            vmin=0.0,
            vmax=vmax,
        )
        fig.colorbar(img, ax=ax, label="预报最大积水深度 (cm)", shrink=0.8)
        if points:
            tr = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
            xy = [tr.transform(p.lon, p.lat) for p in points]
            ax.scatter(
                [x for x, _ in xy],
                [y for _, y in xy],
                c=values,
                cmap="Reds",
                vmin=0.0,
                vmax=vmax,
                edgecolors="black",
                s=40,
                zorder=3,
            )
            for (x, y), p in zip(xy, points, strict=True):
                ax.annotate(p.code, (x, y), fontsize=6, xytext=(3, 3), textcoords="offset points")
        ax.set_title("最大积水深度（底图：预报最大水深；圆点：实测最大水深）")
        ax.set_xlabel("x (m)")
        ax.xaxis.set_major_locator(MaxNLocator(4))
        ax.ticklabel_format(useOffset=False, style="plain")
        ax.set_ylabel("y (m)")
    else:
        if points:
            sc = ax.scatter(
                [p.lon for p in points],
                [p.lat for p in points],
                c=values,
                cmap="Reds",
                vmin=0.0,
                vmax=vmax,
                edgecolors="black",
                s=60,
            )
            fig.colorbar(sc, ax=ax, label="实测最大积水深度 (cm)", shrink=0.8)
            for p in points:
                ax.annotate(
                    p.code, (p.lon, p.lat), fontsize=6, xytext=(3, 3), textcoords="offset points"
                )
        else:
            ax.text(0.5, 0.5, "无积水监测点", ha="center", va="center", transform=ax.transAxes)
        ax.set_title("实测最大积水深度（无预报栅格）")
        ax.set_xlabel("经度 (°E)")
        ax.set_ylabel("纬度 (°N)")
        ax.set_aspect("equal", adjustable="datalim")
        ax.xaxis.set_major_locator(MaxNLocator(4))
        ax.ticklabel_format(useOffset=False, style="plain")
    ax.grid(True, alpha=0.2)
    return _png(fig)
