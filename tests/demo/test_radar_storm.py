"""The demo's radar-built 7·20 storm: a real radar sequence moved over the district and rescaled
(labelled so), and the replay plan built on it (gauges that differ in space)."""

from __future__ import annotations

import numpy as np
import pytest

from fangxun.demo.radar_storm import (
    FRAME_S,
    HALF_WINDOW,
    MAX_RATE_MM_H,
    MCH_FOLDER,
    build_radar_storm,
    reference_radar_dir,
)
from fangxun.demo.terrain import demo_terrain
from fangxun.rain.importers import read_frames

REF = reference_radar_dir()
pytestmark = pytest.mark.skipif(REF is None, reason="../shared/reference/radar is absent")


@pytest.fixture(scope="module")
def storm():  # type: ignore[no-untyped-def]
    t = demo_terrain()
    w, s, e, n = t.bounds
    return build_radar_storm(
        centre_xy=((w + e) / 2, (s + n) / 2), district_bounds=t.bounds, first_hour=19,
        hours=2, after_s=600.0,
    )  # fmt: skip


def test_storm_is_the_real_sequence_moved_and_rescaled(storm) -> None:  # type: ignore[no-untyped-def]
    assert "rescaled real radar sequence" in storm.label
    assert len(storm.frames) == 2 * 12 + 2  # two hours of 5-min frames, then 10 min dry
    assert all(float(np.nanmax(f.rate_mm_h)) == 0.0 for f in storm.frames[-2:])
    t = demo_terrain()
    w, s, e, n = t.bounds
    f0 = storm.frames[0]
    assert f0.crs.to_epsg() == 4547 and f0.shape == (2 * HALF_WINDOW, 2 * HALF_WINDOW)
    # the window's centre lies on the district's centre
    cx, cy = f0.transform * (HALF_WINDOW, HALF_WINDOW)
    assert (cx, cy) == pytest.approx(((w + e) / 2, (s + n) / 2))
    # each frame is the MeteoSwiss frame of the same index, cut at the chosen place and
    # multiplied by one factor (clipped only at the cap)
    gifs = sorted((REF / MCH_FOLDER).glob("*.gif"))  # type: ignore[operator]
    r, c = storm.places[0]
    for k in (0, 11, 23):
        raw = read_frames(gifs[k], "mch_gif")[0].rate_mm_h
        cut = np.nan_to_num(
            raw[r - HALF_WINDOW : r + HALF_WINDOW, c - HALF_WINDOW : c + HALF_WINDOW]
        )
        got = storm.frames[k].rate_mm_h
        ok = (cut > 0.5) & (got < MAX_RATE_MM_H)
        ratio = got[ok] / cut[ok]
        assert ok.sum() > 50 and np.ptp(ratio) < 1e-3 * ratio.mean()
        assert not np.any((cut == 0) & (got > 0))  # no rain where the radar saw none
    # the hour of 201.9 mm is far heavier over the district than the hour before it
    assert storm.target_mm == [47.1, 201.9] or storm.target_mm[1] > storm.target_mm[0]
    assert storm.hourly_mm[1] > 2 * storm.hourly_mm[0]
    assert storm.offset_of(0) == FRAME_S


def test_replay_plan_on_the_radar_storm_has_gauges_that_differ(sqlite_engine) -> None:  # type: ignore[no-untyped-def]
    from fangxun.db import session_scope
    from fangxun.demo.replay import build_plan

    with session_scope(sqlite_engine) as session:
        plan = build_plan(session=session, scenario="720-radar", first_hour=19, hours=2,
                          cell_m=400.0)  # fmt: skip
    assert plan.radar is not None and "rescaled real radar sequence" in plan.label
    totals = {
        code: sum(v for f in plan.frames for c, v in f.values.get(code, []) if c.endswith("-rain"))
        for code in ("RG01", "RG02", "RG03", "RG04", "RG05", "RG06")
    }
    assert min(totals.values()) > 0.0
    assert max(totals.values()) > 1.1 * min(totals.values())  # rain varies across the district


def test_story_publishes_radar_frames_and_forecasts_from_them(settings, engine) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    from fangxun.db import session_scope
    from fangxun.demo.radar_storm import DEMO_RADAR_FEED
    from fangxun.demo.story import Story, StoryOptions
    from fangxun.rain import service as rain_service

    story = Story(settings, StoryOptions(first_hour=19, hours=1, cell_m=400.0), say=lambda _t: None)
    try:
        assert story.settings.rain_radar_feed == DEMO_RADAR_FEED  # forecasts nowcast the radar
        story.prepare()
        at = datetime(2026, 7, 20, 8, 5, tzinfo=UTC)
        story.publish_radar(300.0, at)  # with the gauges' first report
        story.publish_radar(3600.0 * 5, at)  # past the storm's end: nothing
        with session_scope(story.engine) as session:
            rows = rain_service.list_frames(session=session, feed=DEMO_RADAR_FEED)
            assert [r.valid_time for r in rows] == [at]
            assert rows[0].importer == "demo-replay"
    finally:
        story.engine.dispose()
