"""Network import, checks against the terrain, and the `fangxun drainage run` contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from drainage_cases import street_elevation, street_network, write_case, write_terrain, xy
from typer.testing import CliRunner

from fangxun.cli.main import app
from fangxun.drainage import NetworkError, check_against_terrain, read_inp
from fangxun.drainage.network import read_sections, with_pumps_off
from fangxun.inundation.io import read_terrain

runner = CliRunner()


def test_read_inp_gives_rims_links_pumps_and_coordinates(tmp_path: Path) -> None:
    inp = tmp_path / "n.inp"
    inp.write_text(street_network(pump=True, diameter_m=0.5))
    net = read_inp(inp)
    assert net.flow_units == "CMS"
    assert net.nodes["J1"].kind == "junction"
    assert net.nodes["J1"].rim_m == pytest.approx(10.0)
    assert net.nodes["J3"].invert_m == pytest.approx(8.0)
    assert (net.nodes["J2"].x, net.nodes["J2"].y) == pytest.approx(xy(10, 25))
    assert [o.name for o in net.outfalls] == ["O1"]
    assert net.outfalls[0].outfall_type == "FREE"
    assert net.links["C1"].length_m == 30.0
    assert net.links["C1"].geom1_m == 0.5
    assert net.links["C1"].shape == "CIRCULAR"
    assert [p.name for p in net.pumps] == ["P1"]
    assert net.pumps[0].pump_curve == "PC1"
    assert net.pumps[0].initial_on is True
    assert len(net.components()) == 1


def test_bad_inp_is_refused_with_swmm_s_reason(tmp_path: Path) -> None:
    inp = tmp_path / "bad.inp"
    inp.write_text(street_network().replace("C2 J2 J3", "C2 J2 NOWHERE"))
    with pytest.raises(NetworkError, match=r"NOWHERE|undefined"):
        read_inp(inp)
    with pytest.raises(NetworkError, match="does not exist"):
        read_inp(tmp_path / "missing.inp")


def test_us_units_are_refused(tmp_path: Path) -> None:
    inp = tmp_path / "us.inp"
    inp.write_text(street_network().replace("FLOW_UNITS           CMS", "FLOW_UNITS CFS"))
    with pytest.raises(NetworkError, match="US units"):
        read_inp(inp)


def test_checks_report_off_grid_rim_mismatch_and_disconnected_parts(tmp_path: Path) -> None:
    x, y = xy(10, 30)
    extra = "J9 7.0 2.0 0 0 0\nJ8 8.0 2.0 0 0 0"
    text = street_network(extra_nodes=extra)
    text = text.replace("[COORDINATES]", f"[COORDINATES]\nJ9 {x} {y}\nJ8 0 0")
    text = text.replace(
        "[XSECTIONS]", "C9 J9 J8 10 0.013 0 0 0\n\n[XSECTIONS]\nC9 CIRCULAR 0.3 0 0 0 1"
    )
    inp = tmp_path / "n.inp"
    inp.write_text(text)
    net = read_inp(inp)
    grid = read_terrain(write_terrain(tmp_path / "dem.tif"))
    report = check_against_terrain(net, grid)
    assert report.off_grid == ["J8"]
    assert not report.ok
    assert [m.node for m in report.rim_mismatch] == ["J9"]  # rim 9 m under 10 m of ground
    assert report.rim_mismatch[0].difference_m == pytest.approx(-1.0)
    assert report.parts == 2
    assert report.parts_without_outfall == [["J8", "J9"]]
    assert report.cells["J1"] == (10, 10)
    assert json.dumps(report.as_dict())


def test_read_sections_keeps_quoted_fields_and_drops_comments() -> None:
    sec = read_sections('[TITLE]\n[junctions]\n;;c\nJ1 1 2 ; note\n[X]\nA "b c" d\n')
    assert sec["JUNCTIONS"] == [["J1", "1", "2"]]
    assert sec["X"] == [["A", "b c", "d"]]


def test_with_pumps_off_sets_status_and_drops_their_rules() -> None:
    text = (
        "[PUMPS]\nP1 W1 O1 PC1 ON 0.3 0\nP2 W1 O1 PC1 ON 0 0\n\n[CONTROLS]\n"
        "RULE R1\nIF NODE W1 DEPTH > 1\nTHEN PUMP P1 STATUS = ON\n\n"
        "RULE R2\nIF NODE W1 DEPTH > 1\nTHEN PUMP P2 STATUS = ON\n"
    )
    out = with_pumps_off(text, ("P1",))
    assert "P1 W1 O1 PC1 OFF 0 0" in out
    assert "P2 W1 O1 PC1 ON 0 0" in out
    assert "RULE R1" not in out and "PUMP P1" not in out
    assert "RULE R2" in out and "THEN PUMP P2 STATUS = ON" in out


# ---------------------------------------------------------------------- CLI contract


def _cli(*args: str) -> object:
    return runner.invoke(app, ["drainage", "run", *args, "--backend", "numpy"])


def test_cli_run_writes_the_contract_json(tmp_path: Path) -> None:
    inp, dem = write_case(tmp_path, diameter_m=0.4)
    out = tmp_path / "out" / "r.json"
    res = _cli(
        "--inp", str(inp), "--terrain", str(dem), "--rain-mm-h", "60", "--rain-min", "10",
        "--duration-min", "15", "--json", str(out),
    )  # fmt: skip
    assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
    data = json.loads(out.read_text())
    o1 = data["outfalls"]["O1"]
    assert len(o1["time_s"]) == len(o1["flow_m3_s"]) > 10
    assert o1["time_s"][-1] >= 15 * 60
    assert max(o1["flow_m3_s"]) > 0.0
    assert set(data["nodes"]) == {"J1", "J2", "J3", "O1"}
    assert set(data["nodes"]["J1"]) >= {"max_depth_m", "flooded_m3"}
    vb = data["volume_balance"]
    for key in (
        "rain_m3",
        "inflow_m3",
        "outfall_m3",
        "stored_surface_m3",
        "stored_network_m3",
        "error_m3",
        "swmm_routing_continuity_pct",
    ):
        assert isinstance(vb[key], float)
    assert vb["rain_m3"] == pytest.approx(60 / 3.6e6 * 600 * 20 * 50 * 4)
    total = vb["outfall_m3"] + vb["stored_surface_m3"] + vb["stored_network_m3"]
    initial = vb["initial_surface_m3"] + vb["initial_network_m3"]
    supplied = initial + vb["rain_m3"] + vb["inflow_m3"]
    assert total == pytest.approx(supplied + vb["error_m3"], rel=1e-12)


def test_cli_refuses_a_geographic_terrain(tmp_path: Path) -> None:
    inp, _ = write_case(tmp_path)
    dem = write_terrain(tmp_path / "geo.tif", crs="EPSG:4326")
    res = _cli("--inp", str(inp), "--terrain", str(dem), "--duration-min", "5", "--json",
               str(tmp_path / "r.json"))  # fmt: skip
    assert res.exit_code == 65
    assert "geographic" in res.output  # type: ignore[attr-defined]


def test_cli_refuses_nodes_off_the_terrain(tmp_path: Path) -> None:
    inp, _ = write_case(tmp_path)
    small = write_terrain(tmp_path / "small.tif", street_elevation()[:, :20])
    res = _cli("--inp", str(inp), "--terrain", str(small), "--duration-min", "5", "--json",
               str(tmp_path / "r.json"))  # fmt: skip
    assert res.exit_code == 65
    out = " ".join(res.output.split())  # type: ignore[attr-defined]
    assert "not on the terrain" in out and "J2" in out and "J3" in out


def test_cli_refuses_a_bad_inp(tmp_path: Path) -> None:
    _, dem = write_case(tmp_path)
    bad = tmp_path / "bad.inp"
    bad.write_text("[JUNCTIONS]\nJ1 abc\n")
    res = _cli("--inp", str(bad), "--terrain", str(dem), "--duration-min", "5", "--json",
               str(tmp_path / "r.json"))  # fmt: skip
    assert res.exit_code == 65
    assert "SWMM cannot read" in " ".join(res.output.split())  # type: ignore[attr-defined]
    assert not (tmp_path / "r.json").exists()


def test_cli_import_stores_the_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fangxun.config import get_settings

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("FANGXUN_DATABASE_URL", url)
    monkeypatch.setenv("FANGXUN_ENVIRONMENT", "test")
    monkeypatch.setenv("FANGXUN_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("FANGXUN_FORECAST_TERRAIN_PATH", str(write_terrain(tmp_path / "d.tif")))
    get_settings.cache_clear()
    try:
        assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
        inp = tmp_path / "n.inp"
        inp.write_text(street_network())
        res = runner.invoke(app, ["drainage", "import", str(inp), "--name", "街区"])
        assert res.exit_code == 0, res.output
        assert "4 nodes" in res.output and '"ok": true' in res.output
        assert len(list((tmp_path / "var" / "drainage").glob("*.inp"))) == 1
    finally:
        get_settings.cache_clear()
