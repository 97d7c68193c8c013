"""Fixtures of the forecast tests: a small crafted district (a 30 × 30 bowl of 10 m cells in
EPSG:4547, written as a GeoTIFF), hazard points on it, and settings that point at it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import rasterio
from fastapi import FastAPI
from pyproj import Transformer
from rasterio import Affine
from sqlalchemy import Engine

from fangxun.api.app import create_app
from fangxun.audit.service import SystemActor
from fangxun.config import Settings
from fangxun.db import session_scope
from fangxun.hazards import service as hazards_service
from fangxun.hazards.models import HazardKind
from fangxun.hazards.schemas import HazardPointCreate, Thresholds
from fangxun.org.models import UnitKind

SYSTEM = SystemActor(username="forecast-tests")
WEST, NORTH, CELL = 460_000.0, 3_850_000.0, 10.0
N = 30


def bowl() -> np.ndarray:
    """A bowl (lowest at the centre) on a plane: water runs to (15, 15)."""
    r, c = np.mgrid[0:N, 0:N]
    return 100.0 + 0.004 * ((r - 15.0) ** 2 + (c - 15.0) ** 2)


def cell_lonlat(row: int, col: int) -> tuple[float, float]:
    """WGS 84 (lon, lat) of the centre of cell (row, col) of the crafted grid."""
    tr = Transformer.from_crs("EPSG:4547", "EPSG:4326", always_xy=True)
    x = WEST + (col + 0.5) * CELL
    y = NORTH - (row + 0.5) * CELL
    lon, lat = tr.transform(x, y)
    return float(lon), float(lat)


@pytest.fixture
def terrain_tif(tmp_path: Path) -> Path:
    path = tmp_path / "terrain.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=N,
        width=N,
        count=1,
        dtype="float32",
        crs="EPSG:4547",
        transform=Affine(CELL, 0.0, WEST, 0.0, -CELL, NORTH),
        nodata=-9999.0,
    ) as dst:
        dst.write(bowl().astype("float32"), 1)
    return path


@pytest.fixture
def fsettings(settings: Settings, terrain_tif: Path, tmp_path: Path) -> Settings:
    """Settings for a fast, reproducible run on the crafted district."""
    return settings.model_copy(
        update={
            "data_dir": tmp_path / "data",
            "forecast_terrain_path": terrain_tif,
            "forecast_backend": "numpy",
            "forecast_drainage_return_period_years": 0.5,
            "forecast_output_interval_s": 120.0,
            "forecast_frame_interval_s": 1800.0,
            "forecast_interval_s": 900,
        }
    )


@dataclass
class Points:
    """Ids of the crafted hazard points: centre of the bowl, its flank, the rim."""

    centre: int
    flank: int
    rim: int
    unit: int


CELLS = {"centre": (15, 15), "flank": (15, 12), "rim": (1, 1)}


@pytest.fixture
def points(engine: Engine, make_unit: object) -> Points:
    unit = make_unit("FXQ", UnitKind.district, name_zh="预报区")  # type: ignore[operator]
    ids: dict[str, int] = {}
    with session_scope(engine) as session:
        for name, (r, c) in CELLS.items():
            lon, lat = cell_lonlat(r, c)
            ids[name] = hazards_service.create_point(
                session=session,
                point_in=HazardPointCreate(
                    code=f"FX-{name}",
                    name=f"测试点{name}",
                    kind=HazardKind.low_lying_road,
                    lon=lon,
                    lat=lat,
                    unit_id=unit,
                    thresholds_cm=Thresholds(blue=1.0, yellow=5.0, orange=10.0, red=20.0),
                ),
                actor=SYSTEM,
            ).id
    return Points(ids["centre"], ids["flank"], ids["rim"], unit)


@pytest.fixture
def app(fsettings: Settings, engine: Engine) -> FastAPI:
    """The application with the forecast settings of the crafted district."""
    return create_app(fsettings, engine=engine)
