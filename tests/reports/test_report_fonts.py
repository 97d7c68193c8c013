"""Report charts draw Chinese with a real CJK font: rendering fails here on any "Glyph … missing"
warning, and a control shows that a font without CJK glyphs does raise that warning."""

from __future__ import annotations

import io
import warnings
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from fangxun.reports import charts, fonts
from fangxun.reports.stats import RainSeries


def _points() -> list[SimpleNamespace]:
    t0 = datetime(2026, 7, 20, 0, 0, tzinfo=UTC)
    times = [t0 + timedelta(minutes=10 * i) for i in range(12)]
    return [
        SimpleNamespace(
            code="PD-01",
            name="紫荆山路下穿隧道",
            times=times,
            depth_m=[0.02 * i for i in range(12)],
            max_depth_m=0.22,
            lon=113.66,
            lat=34.76,
        )
    ]


def _render_all() -> list[bytes]:
    t0 = datetime(2026, 7, 20, 0, 0, tzinfo=UTC)
    rain = RainSeries(
        code="RG-01",
        times=[t0 + timedelta(minutes=5 * i) for i in range(1, 13)],
        depths_m=[0.002] * 12,
        interval_s=300,
    )
    return [
        charts.hyetograph_png(rain, title="雨量过程线 金水区气象站"),
        charts.depth_curves_png(_points(), 0.15),
        charts.max_depth_map_png(_points(), None),
    ]


def test_font_is_found_by_path() -> None:
    path = fonts.find_cjk_font()
    assert path.is_file()
    assert "cjk" in path.name.lower()
    assert fonts.configure_matplotlib() is not None


def test_report_charts_have_every_cjk_glyph() -> None:
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=r".*[Gg]lyph .* missing")
        pngs = _render_all()
    for png in pngs:
        assert png.startswith(b"\x89PNG")


def test_missing_glyph_is_detected_with_a_latin_font() -> None:
    """Control: the warning the test above turns into an error does exist for a font without CJK."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure()
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_title("积水深度", fontfamily="DejaVu Sans")
    with pytest.warns(UserWarning, match=r"[Gg]lyph .* missing"):
        fig.savefig(io.BytesIO(), format="png")
    assert matplotlib.rcParams["font.sans-serif"][0] != "DejaVu Sans"


def test_missing_font_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv(fonts.ENV_VAR, str(tmp_path / "nope.ttc"))
    with pytest.raises(fonts.CJKFontMissing, match="not a file"):
        fonts.find_cjk_font()
