"""Small synthetic networks (as SWMM .inp text) and terrains for the drainage tests.

The terrain is a street: a 2 m grid, 20 rows × 50 columns in EPSG:4547, its ground 10 m along
row 10 and rising 2 cm per cell to either side. The network runs under row 10: junctions J1
(col 10), J2 (col 25), J3 (col 40), rims at the ground (10 m), conduits C1–C3 to an outfall O1
at col 48 whose invert is 7.5 m.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

X0, Y0, DX = 500_000.0, 3_800_000.0, 2.0
ROWS, COLS = 20, 50
STREET_ROW = 10


def xy(row: int, col: int) -> tuple[float, float]:
    """Map coordinates (EPSG:4547) of a cell's centre."""
    return X0 + (col + 0.5) * DX, Y0 - (row + 0.5) * DX


def street_elevation() -> np.ndarray:
    rows = np.arange(ROWS)[:, None] * np.ones((1, COLS))
    return 10.0 + 0.02 * np.abs(rows - STREET_ROW)


def write_terrain(path: Path, z: np.ndarray | None = None, crs: str = "EPSG:4547") -> Path:
    import rasterio
    from rasterio.transform import from_origin

    z = street_elevation() if z is None else z
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=z.shape[0],
        width=z.shape[1],
        count=1,
        dtype="float64",
        crs=crs,
        transform=from_origin(X0, Y0, DX, DX)
        if crs == "EPSG:4547"
        else from_origin(113.6, 34.7, 1e-5, 1e-5),
        nodata=-9999.0,
    ) as dst:
        dst.write(z, 1)
    return path


OPTIONS = """[TITLE]
synthetic street network

[OPTIONS]
FLOW_UNITS           CMS
INFILTRATION         HORTON
FLOW_ROUTING         DYNWAVE
START_DATE           07/20/2021
START_TIME           00:00:00
REPORT_START_DATE    07/20/2021
REPORT_START_TIME    00:00:00
END_DATE             07/20/2021
END_TIME             03:00:00
REPORT_STEP          00:01:00
WET_STEP             00:01:00
DRY_STEP             00:01:00
ROUTING_STEP         2
ALLOW_PONDING        NO
INERTIAL_DAMPING     PARTIAL
VARIABLE_STEP        0
MIN_SURFAREA         1.0
NORMAL_FLOW_LIMITED  BOTH
HEAD_TOLERANCE       0.0015
MAX_TRIALS           8
"""


def street_network(
    *,
    diameter_m: float = 0.6,
    inflow_m3_s: float | None = None,
    inflow_min: float = 20.0,
    outfall: str = "FREE",
    flap: bool = False,
    pump: bool = False,
    j1_col: int = 10,
    extra_nodes: str = "",
) -> str:
    """The .inp text of the street network (see the module docstring).

    ``inflow_m3_s``: a constant inflow into J1 for the first ``inflow_min`` minutes.
    ``pump``: J3 drains into a wet well W1 (invert 5 m) from which pump P1 (0.05 m³/s when the
    well holds more than 0.3 m) lifts the water to the outfall; the outfall's invert is then 8 m.
    """
    d = diameter_m
    coords = {
        "J1": xy(STREET_ROW, j1_col),
        "J2": xy(STREET_ROW, 25),
        "J3": xy(STREET_ROW, 40),
        "O1": xy(STREET_ROW, 48),
        "W1": xy(STREET_ROW, 44),
    }
    lines = [OPTIONS]
    lines.append("[JUNCTIONS]\n;;name invert maxdepth init surdepth aponded")
    lines.append("J1 8.4 1.6 0 0 0\nJ2 8.2 1.8 0 0 0\nJ3 8.0 2.0 0 0 0")
    if pump:
        lines.append("W1 5.0 5.0 0 0 0")
    lines.append(extra_nodes)
    lines.append("\n[OUTFALLS]")
    o_inv = 8.0 if pump else 7.5
    lines.append(f"O1 {o_inv} {outfall} {'YES' if flap else 'NO'}")
    lines.append("\n[CONDUITS]\n;;name from to length n inoff outoff q0")
    lines.append("C1 J1 J2 30 0.013 0 0 0\nC2 J2 J3 30 0.013 0 0 0")
    if pump:
        lines.append("C3 J3 W1 8 0.013 0 0 0")
    else:
        lines.append("C3 J3 O1 16 0.013 0 0 0")
    lines.append("\n[XSECTIONS]")
    for c in ("C1", "C2", "C3"):
        lines.append(f"{c} CIRCULAR {d} 0 0 0 1")
    if pump:
        lines.append("\n[PUMPS]\nP1 W1 O1 PC1 ON 0.3 0")
        lines.append("\n[CURVES]\nPC1 PUMP2 0 0.0\nPC1 0.3 0.05\nPC1 10 0.05")
    if inflow_m3_s is not None:
        # a constant inflow, then nothing (times in decimal hours)
        lines.append("\n[TIMESERIES]")
        lines.append(
            f"TS1 0 {inflow_m3_s}\nTS1 {inflow_min / 60.0:.6f} {inflow_m3_s}\n"
            f"TS1 {inflow_min / 60.0 + 1e-4:.6f} 0\nTS1 3 0"
        )
        lines.append("\n[INFLOWS]\nJ1 FLOW TS1 FLOW 1.0 1.0")
    lines.append("\n[COORDINATES]")
    for name, (x, y) in coords.items():
        if name == "W1" and not pump:
            continue
        lines.append(f"{name} {x:.3f} {y:.3f}")
    return "\n".join(lines) + "\n"


def write_case(tmp: Path, **kwargs: object) -> tuple[Path, Path]:
    """(inp, terrain) paths of the street case in ``tmp``."""
    inp = tmp / "net.inp"
    inp.write_text(street_network(**kwargs))  # type: ignore[arg-type]
    return inp, write_terrain(tmp / "dem.tif")
