"""Fixtures of the demo-district tests: the terrain is generated once per session (~2 s)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fangxun.demo.files import TerrainFiles, ensure_terrain_files
from fangxun.demo.terrain import DemoTerrain, generate_terrain


@pytest.fixture(scope="session")
def terrain() -> DemoTerrain:
    """The demo terrain, generated once."""
    return generate_terrain()


@pytest.fixture(scope="session")
def terrain_files(tmp_path_factory: pytest.TempPathFactory, terrain: DemoTerrain) -> TerrainFiles:
    """The demo terrain files written once into a private data folder."""
    data_dir: Path = tmp_path_factory.mktemp("demo-data")
    return ensure_terrain_files(data_dir, terrain=terrain)
