"""Ensembles: seeded perturbations, probabilities 0/1 when certain and in between when borderline,
members in parallel processes."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import Engine

from conftest import SYSTEM, Points
from fangxun.config import Settings
from fangxun.db import session_scope
from fangxun.forecast import engine as fx_engine
from fangxun.forecast import flows, service
from fangxun.forecast.models import RunStatus
from fangxun.forecast.schemas import DesignRain, ForecastRunCreate
from fangxun.hazards import service as hazards_service
from fangxun.hazards.schemas import HazardPointUpdate, Thresholds
from fangxun.inundation import Hyetograph


def test_perturbations_are_seeded_and_control_is_first() -> None:
    a = fx_engine.member_perturbations(6, sigma=0.3, shift_sd_s=600.0, seed=1)
    b = fx_engine.member_perturbations(6, sigma=0.3, shift_sd_s=600.0, seed=1)
    c = fx_engine.member_perturbations(6, sigma=0.3, shift_sd_s=600.0, seed=2)
    assert a == b != c
    assert a[0] == (1.0, 0.0)
    assert all(s > 0 for s, _ in a)
    with pytest.raises(ValueError, match="at least one member"):
        fx_engine.member_perturbations(0, sigma=0.3, shift_sd_s=0.0, seed=1)


def test_perturb_scales_and_shifts_exactly() -> None:
    rain = Hyetograph(times_s=[0.0, 600.0, 1200.0], intensity_mm_h=[60.0, 30.0, 0.0])  # 15 mm
    same = fx_engine.perturb(rain, horizon_s=3600.0, step_s=60.0, scale=1.0, shift_s=0.0)
    assert same.total_mm() == pytest.approx(15.0)
    double = fx_engine.perturb(rain, horizon_s=3600.0, step_s=60.0, scale=2.0, shift_s=0.0)
    assert double.total_mm() == pytest.approx(30.0)
    later = fx_engine.perturb(rain, horizon_s=3600.0, step_s=60.0, scale=1.0, shift_s=300.0)
    assert later.total_mm() == pytest.approx(15.0)
    assert later.depth_m(0.0, 300.0) == 0.0
    assert later.depth_m(300.0, 900.0) * 1000 == pytest.approx(10.0)
    # A negative shift loses the rain moved before the start.
    earlier = fx_engine.perturb(rain, horizon_s=3600.0, step_s=60.0, scale=1.0, shift_s=-300.0)
    assert earlier.total_mm() == pytest.approx(15.0 - 5.0)


def test_exceedance_probability() -> None:
    assert fx_engine.exceedance_probability([0.1, 0.2, 0.3, 0.4], 0.25) == 0.5
    assert fx_engine.exceedance_probability([0.1, 0.2], 0.05) == 1.0
    assert fx_engine.exceedance_probability([0.1, 0.2], 0.5) == 0.0


def _run(engine: Engine, settings: Settings, members: int, executor: str) -> int:
    with session_scope(engine) as session:
        run_id = service.create_run(
            session=session,
            run_in=ForecastRunCreate(
                rain=DesignRain(return_period_years=5, duration_s=3600.0),
                horizon_s=5400.0,
                members=members,
                seed=7,
                warm_start=False,
            ),
            actor=SYSTEM,
            settings=settings,
        ).id
    assert flows.execute_run(engine, run_id, settings, executor=executor) == RunStatus.done
    return run_id


def test_probabilities_certain_and_borderline(
    engine: Engine, fsettings: Settings, points: Points
) -> None:
    settings = fsettings.model_copy(
        update={"forecast_rain_sigma": 0.5, "forecast_shift_sd_s": 600.0}
    )
    control = _run(engine, settings, 1, "serial")
    with session_scope(engine) as session:
        res = {
            r.point_id: r
            for r in service.point_results(session=session, run_id=control, actor=SYSTEM)
        }
        peak_cm = res[points.flank].peak_depth_cm
        assert peak_cm > 2.0
        # Flank: blue far below the control peak (certain), yellow at it (borderline), orange
        # and red far above (never). Rim: all far above (never).
        hazards_service.update_point(
            session=session,
            point_id=points.flank,
            point_in=HazardPointUpdate(
                thresholds_cm=Thresholds(
                    blue=round(peak_cm * 0.02, 2),
                    yellow=peak_cm,
                    orange=peak_cm * 20,
                    red=peak_cm * 30,
                )
            ),
            actor=SYSTEM,
        )
        hazards_service.update_point(
            session=session,
            point_id=points.rim,
            point_in=HazardPointUpdate(
                thresholds_cm=Thresholds(blue=500.0, yellow=600.0, orange=700.0, red=800.0)
            ),
            actor=SYSTEM,
        )
    ens = _run(engine, settings, 10, "serial")
    with session_scope(engine) as session:
        res = {
            r.point_id: r for r in service.point_results(session=session, run_id=ens, actor=SYSTEM)
        }
        flank = res[points.flank]
        assert len(flank.member_peaks_cm) == 10
        assert flank.member_peaks_cm[0] == pytest.approx(peak_cm, abs=0.02)
        assert flank.probability["blue"] == 1.0
        assert 0.0 < flank.probability["yellow"] < 1.0
        assert flank.probability["orange"] == 0.0 == flank.probability["red"]
        assert res[points.rim].probability == dict.fromkeys(fx_engine.COLOURS, 0.0)
        # The probability is the share of members whose peak reaches the threshold.
        peaks = np.array(flank.member_peaks_cm)
        assert flank.probability["yellow"] == pytest.approx(
            float(np.mean(peaks >= flank.thresholds_cm["yellow"] - 0.01)), abs=0.1
        )
        run = service.get_run(session=session, run_id=ens)
        assert len(run.summary["members"]) == 10  # type: ignore[index]


@pytest.mark.slow
def test_members_in_processes_match_serial(
    engine: Engine, fsettings: Settings, points: Points
) -> None:
    serial = _run(engine, fsettings, 3, "serial")
    parallel = _run(engine, fsettings, 3, "process")
    with session_scope(engine) as session:
        a = service.point_results(session=session, run_id=serial, actor=SYSTEM, order="id")
        b = service.point_results(session=session, run_id=parallel, actor=SYSTEM, order="id")
        assert [r.member_peaks_cm for r in a] == [r.member_peaks_cm for r in b]
