"""The synthetic demo network: read by SWMM, on the demo terrain, every part reaches the river."""

from __future__ import annotations

from pathlib import Path

from fangxun.demo.network import PUMPED, demo_network_inp
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
        if up.name.startswith("T"):
            assert down.invert_m <= up.invert_m + 1e-9
