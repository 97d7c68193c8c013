"""Write the example terrain ``terrain.asc`` (ESRI ASCII grid) used by ``run.toml``.

A 60 × 80 grid of 5 m cells: a gentle slope with bowl-shaped depressions 0.3–1 m deep
(:func:`fangxun.inundation.verification.depression_terrain`, seed 1), and a nodata corner to show
how masks are read. Run it from anywhere:

    .venv/bin/python docs/examples/make_terrain.py [OUT_DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

from fangxun.inundation.verification import depression_terrain

NODATA = -9999.0


def make_terrain(out_dir: Path) -> Path:
    """Write ``terrain.asc`` into ``out_dir`` and return its path."""
    z = depression_terrain(
        (60, 80), cell_size=5.0, depressions_per_km2=400.0, radius_range_m=(10.0, 30.0), seed=1
    )
    z[:6, :6] = NODATA  # a corner outside the study area
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "terrain.asc"
    header = (
        "ncols 80\nnrows 60\nxllcorner 500000.0\nyllcorner 3800000.0\n"
        f"cellsize 5.0\nNODATA_value {NODATA}\n"
    )
    body = "\n".join(" ".join(f"{v:.3f}" for v in row) for row in z)
    path.write_text(header + body + "\n", encoding="ascii")
    return path


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent
    print(make_terrain(target))
