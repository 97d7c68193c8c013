"""Rolling rain totals at window edges against hand-computed sums; event totals; areal rain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from mon_helpers import Network
from shapely.geometry import box
from sqlalchemy import Engine

from fangxun.db import session_scope
from fangxun.monitoring import service
from fangxun.monitoring.ingest.parser import ObservationMessage
from fangxun.monitoring.ingest.writer import Pending, write_observations
from fangxun.monitoring.models import Source

END = datetime(2021, 7, 20, 9, 0, tzinfo=UTC)  # 17:00 Beijing time


def test_window_edges_hand_computed() -> None:
    # 5-minute intervals timestamped at their end; values in metres.
    times = [END - timedelta(minutes=m) for m in (0, 5, 10, 15, 60, 65, 180, 181, 24 * 60)]
    depths = [0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256]
    r = service.rain_totals_from_series(times, depths, end=END, event_gap=timedelta(hours=6))
    # 10 min: (END-10min, END] holds 0 and 5 min ago; 10 min ago is on the open edge.
    assert r.totals_mm["10m"] == pytest.approx(1 + 2)
    # 1 h: 0, 5, 10, 15 min ago; 60 min ago is on the edge, out.
    assert r.totals_mm["1h"] == pytest.approx(1 + 2 + 4 + 8)
    # 3 h: adds 60 and 65 min; 180 min ago on the edge, out; 181 min ago out.
    assert r.totals_mm["3h"] == pytest.approx(1 + 2 + 4 + 8 + 16 + 32)
    assert r.totals_mm["6h"] == pytest.approx(1 + 2 + 4 + 8 + 16 + 32 + 64 + 128)
    assert r.totals_mm["12h"] == r.totals_mm["6h"]
    assert r.totals_mm["24h"] == r.totals_mm["6h"]  # 24 h ago is on the edge, out
    # Event: gaps are 5, 5, 5, 45, 5, 115, 1 min, then 21 h (> 6 h): the event ends at 181 min.
    assert r.event_total_mm == pytest.approx(255)
    assert r.event_start == END - timedelta(minutes=181)
    # A value exactly at END counts; one a microsecond later does not.
    later = service.rain_totals_from_series(
        [END, END + timedelta(microseconds=1)], [0.001, 0.5], end=END, event_gap=timedelta(hours=6)
    )
    assert later.totals_mm["10m"] == pytest.approx(1)


def test_event_over_after_dry_gap() -> None:
    r = service.rain_totals_from_series(
        [END - timedelta(hours=7)], [0.01], end=END, event_gap=timedelta(hours=6)
    )
    assert r.event_total_mm == 0 and r.event_start is None
    assert r.totals_mm["12h"] == pytest.approx(10)


def _write(engine: Engine, code: str, points: list[tuple[datetime, float]]) -> None:
    with session_scope(engine) as session:
        write_observations(
            session=session,
            items=[
                Pending(ObservationMessage(datastream=code, time=t, value=v)) for t, v in points
            ],
            source=Source.csv,
            now=END,
        )


def test_rain_totals_from_database_skip_flagged(engine: Engine, network: Network) -> None:
    _write(
        engine,
        network.rain,
        [
            (END - timedelta(minutes=5), 3.0),
            (END, 4.0),
            (END - timedelta(minutes=10), 300.0),  # above 250 mm per interval: range-flagged
            (END - timedelta(hours=1), 7.0),  # on the 1 h edge
        ],
    )
    with session_scope(engine) as session:
        r = service.rain_totals(session=session, actor=None, code=network.rain, end=END)
        assert r.totals_mm["10m"] == pytest.approx(7.0)
        assert r.totals_mm["1h"] == pytest.approx(7.0)
        assert r.totals_mm["3h"] == pytest.approx(14.0)
        assert r.event_total_mm == pytest.approx(14.0)
        flagged = service.rain_totals(
            session=session, actor=None, code=network.rain, end=END, include_flagged=True
        )
        assert flagged.totals_mm["1h"] == pytest.approx(307.0)


def test_areal_rain_idw(sqlite_engine: Engine, sqlite_network: Network) -> None:
    n = sqlite_network
    _write(sqlite_engine, n.rain, [(END, 10.0)])
    _write(sqlite_engine, n.rain2, [(END, 30.0)])
    with session_scope(sqlite_engine) as session:
        mean, gauges, samples = service.areal_rain(
            session=session, actor=None, window_s=3600, end=END
        )
        assert gauges == {"RG01": pytest.approx(10.0), "RG02": pytest.approx(30.0)}
        assert 10.0 < mean < 30.0 and samples > 10
        # Symmetric area around the midpoint of the two gauges: the mean is the plain average.
        mid = ((113.55 + 113.60) / 2, (34.80 + 34.82) / 2)
        sym = box(mid[0] - 0.1, mid[1] - 0.1, mid[0] + 0.1, mid[1] + 0.1).__geo_interface__
        mean_sym, _, _ = service.areal_rain(
            session=session, actor=None, window_s=3600, end=END, area_geojson=dict(sym)
        )
        assert mean_sym == pytest.approx(20.0, abs=0.5)
        # A tiny area around RG01 is dominated by RG01.
        near = box(113.5499, 34.7999, 113.5501, 34.8001).__geo_interface__
        mean_near, _, _ = service.areal_rain(
            session=session, actor=None, window_s=3600, end=END, area_geojson=dict(near)
        )
        assert mean_near == pytest.approx(10.0, abs=0.01)
