"""The 1-D/2-D coupler on small synthetic street networks (see drainage_cases.py)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from drainage_cases import write_case
from hypothesis import given, settings
from hypothesis import strategies as st

from fangxun.drainage import Coupler, ExchangeParams, check_against_terrain, exchange_capacity
from fangxun.drainage.network import read_inp
from fangxun.inundation import Hyetograph, Model
from fangxun.inundation.io import read_terrain


def _coupled(
    tmp: Path,
    *,
    duration_min: float,
    rain_mm_h: float = 0.0,
    rain_min: float = 0.0,
    coupler_kwargs: dict[str, object] | None = None,
    **case: object,
) -> tuple[Coupler, Model, Path]:
    inp, dem = write_case(tmp, **case)
    grid = read_terrain(dem)
    net = read_inp(inp)
    check = check_against_terrain(net, grid)
    cells = {n: c for n, c in check.cells.items() if net.nodes[n].kind != "outfall"}
    rain = Hyetograph([0.0, rain_min * 60.0], [rain_mm_h, 0.0]) if rain_mm_h > 0 else None
    model = Model(grid, rain=rain, backend="numpy", output_interval_s=300.0)
    coupler = Coupler(model, inp, cells, duration_s=duration_min * 60.0, **(coupler_kwargs or {}))
    return coupler, model, inp


def _standalone(inp: Path) -> tuple[dict[float, float], dict[str, float]]:
    """Plain SWMM: outfall O1's inflow at every routing step's end time, node max depths."""
    from pyswmm import Nodes, Simulation

    flows: dict[float, float] = {}
    max_depth: dict[str, float] = {}
    with (
        tempfile.TemporaryDirectory() as tmp,
        Simulation(str(inp), f"{tmp}/r.rpt", f"{tmp}/r.out") as sim,
    ):
        nodes = {n.nodeid: n for n in Nodes(sim)}
        for _ in sim:
            t = round((sim.current_time - sim.start_time).total_seconds(), 3)
            flows[t] = nodes["O1"].total_inflow
            for name, n in nodes.items():
                max_depth[name] = max(max_depth.get(name, 0.0), n.depth)
            if t >= 40 * 60:
                break
    return flows, max_depth


def test_network_only_run_equals_standalone_swmm(tmp_path: Path) -> None:
    """No rain and no flooding: the surface stays dry and SWMM runs exactly as on its own."""
    coupler, model, inp = _coupled(tmp_path, duration_min=40, inflow_m3_s=0.05)
    result = coupler.run()
    assert float(np.nanmax(model.depth)) == 0.0
    assert result.volume_balance["exchange_to_network_m3"] == 0.0
    flows, max_depth = _standalone(inp)
    times = result.outfall_times_s[1:]
    coupled = result.outfall_flow_m3_s["O1"][1:]
    assert len(times) > 100
    assert max(coupled) > 0.04  # the inflow reached the outfall
    for t, q in zip(times, coupled, strict=True):
        assert q == pytest.approx(flows[round(t, 3)], rel=1e-12, abs=1e-15)
    for name in ("J1", "J2", "J3", "O1"):
        assert result.node_max_depth_m[name] == pytest.approx(max_depth[name], rel=1e-12)


def test_surcharge_returns_exactly_the_flooded_volume(tmp_path: Path) -> None:
    """A small pipe under a large inflow: J1 floods; all of it, and only it, reaches the
    surface, and it is the volume SWMM itself counts as flooding (the run ends while J1 still
    floods, so SWMM's trapezoidal count and a plain rate × step differ)."""
    coupler, model, _ = _coupled(
        tmp_path, duration_min=10, inflow_m3_s=0.25, inflow_min=15, diameter_m=0.3
    )
    result = coupler.run()
    vb = result.volume_balance
    flooded = sum(result.node_flooded_m3.values())
    assert flooded > 20.0
    assert result.node_flooded_m3["J1"] > 0.5 * flooded
    assert vb["flooded_to_surface_m3"] == pytest.approx(flooded, rel=1e-12)
    assert vb["flooded_to_surface_m3"] == pytest.approx(vb["swmm_flooding_m3"], rel=1e-12)
    mb = model.mass_balance()
    # the surface's net point inflow is what came up minus what went back down
    assert mb["inflow"] == pytest.approx(
        vb["flooded_to_surface_m3"] - vb["exchange_to_network_m3"], rel=1e-12, abs=1e-9
    )
    assert abs(mb["error"]) < 1e-9 * flooded
    assert vb["owed_to_network_m3"] == 0.0


@pytest.mark.parametrize(
    "case",
    [
        {"diameter_m": 0.3, "inflow_m3_s": 0.2},  # surcharging, outfall free
        {"diameter_m": 0.6},  # rain only
    ],
)
def test_total_volume_is_conserved_within_swmm_continuity(
    tmp_path: Path, case: dict[str, object]
) -> None:
    coupler, _, _ = _coupled(tmp_path, duration_min=45, rain_mm_h=80, rain_min=20, **case)
    vb = coupler.run().volume_balance
    supplied = vb["rain_m3"] + vb["inflow_m3"]
    swmm_tolerance = abs(vb["swmm_routing_continuity_pct"]) / 100.0 * vb["swmm_inflow_m3"]
    assert vb["exchange_to_network_m3"] > 0.5 * vb["rain_m3"]
    assert abs(vb["error_m3"]) <= 1e-6 * supplied + 1.01 * swmm_tolerance
    assert abs(vb["surface_mass_error_m3"]) <= 1e-9 * supplied


def test_closed_network_without_swmm_error_conserves_to_1e_6(tmp_path: Path) -> None:
    """A network that only stores (its outfall under a high river behind a flap gate) and
    takes rain in slowly: SWMM's continuity error is nil, and so is the total's."""
    coupler, _, _ = _coupled(
        tmp_path,
        duration_min=20,
        rain_mm_h=30,
        rain_min=10,
        diameter_m=0.8,
        flap=True,
        coupler_kwargs={"tailwater": {"O1": 11.0}},
    )
    vb = coupler.run().volume_balance
    supplied = vb["rain_m3"] + vb["inflow_m3"]
    assert vb["outfall_m3"] == pytest.approx(0.0, abs=1e-9)
    assert vb["exchange_to_network_m3"] > 0.3 * supplied
    if abs(vb["swmm_routing_continuity_pct"]) < 1e-6:
        assert abs(vb["error_m3"]) <= 1e-6 * supplied
    else:
        tol = abs(vb["swmm_routing_continuity_pct"]) / 100.0 * vb["swmm_inflow_m3"]
        assert abs(vb["error_m3"]) <= 1e-6 * supplied + 1.01 * tol


def test_pump_switched_off_raises_upstream_ponding(tmp_path: Path) -> None:
    def run(pumps_off: tuple[str, ...]) -> tuple[float, float]:
        sub = tmp_path / ("off" if pumps_off else "on")
        sub.mkdir()
        coupler, model, _ = _coupled(
            sub,
            duration_min=60,
            rain_mm_h=60,
            rain_min=40,
            pump=True,
            coupler_kwargs={"pumps_off": pumps_off},
        )
        result = coupler.run()
        return result.volume_balance["stored_surface_m3"], float(np.nanmax(model.max_depth))

    stored_on, peak_on = run(())
    stored_off, peak_off = run(("P1",))
    assert stored_off > stored_on + 20.0
    assert peak_off > peak_on + 0.01


def test_outfall_under_a_high_river_stops_discharging(tmp_path: Path) -> None:
    def run(tailwater: dict[str, float] | None, sub: str) -> list[float]:
        (tmp_path / sub).mkdir()
        coupler, _, _ = _coupled(
            tmp_path / sub,
            duration_min=20,
            inflow_m3_s=0.05,
            flap=True,
            coupler_kwargs={"tailwater": tailwater},
        )
        return coupler.run().outfall_flow_m3_s["O1"]

    free = run(None, "free")
    half = run({"O1": 9.0}, "half")  # the river 1.5 m above the outfall's invert
    high = run({"O1": 10.5}, "high")  # the river above the street (behind its levee)
    assert max(free) > 0.04
    # the outfall discharges only once the network's head exceeds the river: later, less
    first = next(i for i, q in enumerate(free) if q > 1e-3)
    assert all(q <= 1e-9 for q in half[: first + 30])
    assert sum(half) < sum(free)
    assert max(high) <= 1e-9


def test_blocked_inlet_takes_less(tmp_path: Path) -> None:
    def run(factor: float, sub: str) -> float:
        (tmp_path / sub).mkdir()
        coupler, _, _ = _coupled(
            tmp_path / sub,
            duration_min=20,
            rain_mm_h=60,
            rain_min=15,
            coupler_kwargs={"inlet_factor": {"J1": factor, "J2": factor, "J3": factor}},
        )
        return coupler.run().volume_balance["exchange_to_network_m3"]

    assert run(0.1, "blocked") < 0.8 * run(1.0, "open")


# ---------------------------------------------------------------------- exchange law


def test_exchange_law_regimes() -> None:
    p = ExchangeParams()
    z = np.array([10.0, 10.0, 10.0, 10.0])
    h = np.array([0.1, 0.1, 0.1, 0.0])
    head = np.array([9.0, 10.05, 10.2, 9.0])
    q = exchange_capacity(z, h, head, p)
    weir = 2.0 / 3.0 * 0.54 * p.perimeter_m * 0.1 * np.sqrt(2 * 9.81 * 0.1)
    orifice = 0.167 * 1.0 * np.sqrt(2 * 9.81 * 0.05)
    assert q[0] == pytest.approx(weir)
    assert q[1] == pytest.approx(orifice)
    assert q[2] == 0.0  # node head above the water: nothing goes in
    assert q[3] == 0.0  # dry cell


@settings(max_examples=200, deadline=None)
@given(
    h=st.floats(0.0, 3.0),
    dh=st.floats(0.0, 1.0),
    head=st.floats(5.0, 15.0),
)
def test_exchange_law_nonnegative_and_monotone_in_depth(h: float, dh: float, head: float) -> None:
    p = ExchangeParams()
    z = np.array([10.0])
    q1 = exchange_capacity(z, np.array([h]), np.array([head]), p)[0]
    q2 = exchange_capacity(z, np.array([h + dh]), np.array([head]), p)[0]
    assert q1 >= 0.0
    assert q2 >= q1 - 1e-12


def test_exchange_params_are_validated() -> None:
    with pytest.raises(ValueError, match="weir_coeff"):
        ExchangeParams(weir_coeff=0.0)


def test_inlet_cells_along_the_street_take_more_and_conserve(tmp_path: Path) -> None:
    """Gullies: each node drains the street cells nearest it; more water goes in, and the total
    still balances to SWMM's continuity."""
    from fangxun.drainage.checks import inlet_cells

    def run(spread: bool, sub: str) -> dict[str, float]:
        (tmp_path / sub).mkdir()
        inp, dem = write_case(tmp_path / sub)
        grid = read_terrain(dem)
        net = read_inp(inp)
        check = check_against_terrain(net, grid)
        cells = {n: c for n, c in check.cells.items() if net.nodes[n].kind != "outfall"}
        street = np.zeros(grid.shape, dtype=bool)
        street[9:12, :] = True
        feed = inlet_cells(grid, cells, 12.0, street) if spread else cells
        if spread:
            assert all(len(v) > 5 for v in feed.values())
            owners = [c for v in feed.values() for c in v]
            assert len(owners) == len(set(owners))
        model = Model(grid, rain=Hyetograph([0.0, 900.0], [60.0, 0.0]), backend="numpy")
        return Coupler(model, inp, feed, duration_s=1200.0).run().volume_balance

    one = run(False, "one")
    many = run(True, "many")
    assert many["exchange_to_network_m3"] > 1.2 * one["exchange_to_network_m3"]
    tol = abs(many["swmm_routing_continuity_pct"]) / 100.0 * many["swmm_inflow_m3"]
    assert abs(many["error_m3"]) <= 1e-6 * many["rain_m3"] + 1.01 * tol
