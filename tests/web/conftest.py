"""Fixtures of the web tests: the demo district after its storm (built once per session)."""

from __future__ import annotations

import pytest
import replayed_demo


@pytest.fixture(scope="session")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> replayed_demo.ReplayedDemo:
    """The demo district after the whole storm, played at once (about a minute)."""
    import os  # TEMP
    from pathlib import Path

    if os.environ.get("ROOM_REPLAYED"):
        d = Path(os.environ["ROOM_REPLAYED"])
        return replayed_demo.ReplayedDemo(d / "demo.db", d / "data", None)  # type: ignore[arg-type]
    return replayed_demo.build(tmp_path_factory.mktemp("replayed-demo"))
