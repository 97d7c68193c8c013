"""Fixtures of the web tests: the demo district after its storm (built once per session)."""

from __future__ import annotations

import pytest
import replayed_demo


@pytest.fixture(scope="session")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> replayed_demo.ReplayedDemo:
    """The demo district after the whole storm, played at once (one to three minutes)."""
    return replayed_demo.build(tmp_path_factory.mktemp("replayed-demo"))


#: Replay seconds to the storm's peak: the 201.9 mm hour, 8 h into the demo's window, half played.
PEAK_OFFSET_S = 8.5 * 3600.0


@pytest.fixture(scope="session")
def replayed_peak(tmp_path_factory: pytest.TempPathFactory) -> replayed_demo.ReplayedDemo:
    """The demo district held at the storm's peak (the replay's clock stopped there)."""
    return replayed_demo.build(
        tmp_path_factory.mktemp("replayed-peak"), until_offset_s=PEAK_OFFSET_S
    )
