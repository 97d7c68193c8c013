"""The synthetic demo network: read by SWMM, on the demo terrain, every part reaches the river."""

from __future__ import annotations

from pathlib import Path

from fangxun.demo.monitoring_seed import PUMPED_UNDERPASSES
from fangxun.demo.network import PUMP_STATION_OF, PUMPED, demo_network_inp
from fangxun.demo.terrain import generate_terrain
from fangxun.drainage import check_against_terrain, read_inp
from fangxun.inundation import Grid


def test_demo_network_sits_under_the_streets_and_drains_to_the_river(tmp_path: Path) -> None:
    terrain = generate_terrain()
    inp = tmp_path / "demo.inp"
    inp.write_text(demo_network_inp(terrain))
    net = read_inp(inp)
    grid = Grid(
        elevation=terrain.elevation.astype(float),
        cell_size=terrain.cell_size_m,
        transform=terrain.transform,
        crs=terrain.crs,
    )
    report = check_against_terrain(net, grid)
    assert report.ok, report.as_dict()
    assert report.parts_without_outfall == []
    assert report.parts == len(net.outfalls)  # one system per street
    assert report.rim_mismatch == []  # rims are the ground of their cells
    assert len(net.pumps) == 3 * len(PUMPED)
    # manholes under road cells
    on_road = [terrain.road_mask[report.cells[n.name]] for n in net.junctions]
    assert sum(on_road) >= 0.9 * len(on_road)
    # pipes never run uphill along a trunk
    for link in net.conduits:
        up, down = net.nodes[link.from_node], net.nodes[link.to_node]
        if up.name.startswith(("T", "E")):
            assert down.invert_m <= up.invert_m + 1e-9
    # both banks drain to the river: an outfall on each bank of every west-east street, the
    # west trunks flowing east to it, the east trunks west
    names = [o.name for o in net.outfalls]
    west = [o for o in names if not o.startswith("OFE")]
    assert len(net.outfalls) == 2 * len(west)
    for o in west:
        k = o[2:]
        ow, oe = net.nodes[o], net.nodes[f"OFE{k}"]
        assert ow.x is not None and oe.x is not None and ow.x < oe.x
        assert all(
            n.x is not None and n.x < ow.x for n in net.junctions if n.name.startswith(f"T{k}-")
        )
        assert all(
            n.x is not None and n.x > oe.x for n in net.junctions if n.name.startswith(f"E{k}-")
        )


def test_every_underpass_is_pumped_and_the_seed_stations_drive_their_pumps(tmp_path: Path) -> None:
    terrain = generate_terrain()
    inp = tmp_path / "demo.inp"
    inp.write_text(demo_network_inp(terrain))
    net = read_inp(inp)
    pumps = {p.name for p in net.pumps}
    for feature in (f for f in terrain.features if f.kind == "underpass"):
        assert {f"{feature.code}-P{j}" for j in (1, 2, 3)} <= pumps
    # the monitoring seed's stations, in its order, are the ones PUMP_STATION_OF names
    assert list(PUMP_STATION_OF.values()) == list(PUMPED_UNDERPASSES)
