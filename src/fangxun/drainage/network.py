"""A district's drainage network read from an EPA SWMM 5 ``.inp`` file into plain dataclasses.

The file is opened by the SWMM engine itself (pyswmm), so a file SWMM would refuse is refused
here with SWMM's own message; the engine gives each node's type, invert and full depth and each
link's type and end nodes. What the engine does not expose — the map coordinates, conduit
lengths, shapes and roughness, pump curves, outfall boundaries — is read from the file's
sections (a SWMM ``.inp`` is a plain INI-like text: ``[SECTION]`` headers, ``;`` comments,
whitespace-separated fields).

Units: SI inside. Networks in SWMM's metric flow units (CMS, LPS, MLD: lengths in metres) are
read as they are; US units (CFS, GPM, MGD: feet) are refused rather than silently converted.

>>> import textwrap, tempfile, pathlib
>>> inp = pathlib.Path(tempfile.mkdtemp()) / "n.inp"
>>> _ = inp.write_text(textwrap.dedent('''
...     [OPTIONS]
...     FLOW_UNITS CMS
...     START_DATE 01/01/2024
...     END_DATE 01/01/2024
...     END_TIME 01:00:00
...     [JUNCTIONS]
...     J1 10 2
...     [OUTFALLS]
...     O1 9 FREE
...     [CONDUITS]
...     C1 J1 O1 100 0.013 0 0
...     [XSECTIONS]
...     C1 CIRCULAR 0.5 0 0 0
...     [COORDINATES]
...     J1 0 0
...     O1 100 0
... '''))
>>> net = read_inp(inp)
>>> net.nodes["J1"].rim_m, net.links["C1"].length_m, net.outfalls[0].name
(12.0, 100.0, 'O1')
"""

from __future__ import annotations

import re
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

NODE_KINDS = ("junction", "outfall", "storage", "divider")
LINK_KINDS = ("conduit", "pump", "orifice", "weir", "outlet")
SI_FLOW_UNITS = {"CMS": 1.0, "LPS": 1e-3, "MLD": 1e6 / 86400.0 / 1e3}
"""SWMM metric flow units → factor to m³/s (lengths are metres in all of them)."""
US_FLOW_UNITS = ("CFS", "GPM", "MGD")


class NetworkError(ValueError):
    """A drainage network that cannot be read or used; the message says what and where."""


@dataclass(frozen=True)
class Node:
    """A node of the network: junction (manhole), storage unit, flow divider or outfall.

    Attributes:
        name: SWMM name.
        kind: one of :data:`NODE_KINDS`.
        invert_m: invert elevation (m, the network's datum).
        max_depth_m: depth from the invert to the rim (m); 0 for an outfall.
        x, y: map coordinates from ``[COORDINATES]`` (None if the node has none).
        outfall_type: FREE, NORMAL, FIXED, TIDAL or TIMESERIES (outfalls only).
        outfall_stage_m: the fixed stage (m) of a FIXED outfall.
    """

    name: str
    kind: str
    invert_m: float
    max_depth_m: float
    x: float | None = None
    y: float | None = None
    outfall_type: str | None = None
    outfall_stage_m: float | None = None

    @property
    def rim_m(self) -> float:
        """Rim (ground-level cover) elevation = invert + max depth (m)."""
        return self.invert_m + self.max_depth_m


@dataclass(frozen=True)
class Link:
    """A link: conduit, pump, orifice, weir or outlet.

    Attributes:
        name, kind: SWMM name, one of :data:`LINK_KINDS`.
        from_node, to_node: end node names (flow positive from → to).
        length_m: conduit length (m); None for other links.
        roughness: conduit Manning's n; None for other links.
        shape, geom1_m: cross-section shape and its first dimension (m: diameter or height).
        pump_curve: a pump's curve name; ``initial_on``: its initial status.
    """

    name: str
    kind: str
    from_node: str
    to_node: str
    length_m: float | None = None
    roughness: float | None = None
    shape: str | None = None
    geom1_m: float | None = None
    pump_curve: str | None = None
    initial_on: bool | None = None


@dataclass
class Network:
    """A drainage network: nodes and links by name, the file it came from, its flow units."""

    path: Path
    flow_units: str
    nodes: dict[str, Node] = field(default_factory=dict)
    links: dict[str, Link] = field(default_factory=dict)
    vertices: dict[str, list[tuple[float, float]]] = field(default_factory=dict)

    @property
    def junctions(self) -> list[Node]:
        return [n for n in self.nodes.values() if n.kind == "junction"]

    @property
    def storages(self) -> list[Node]:
        return [n for n in self.nodes.values() if n.kind == "storage"]

    @property
    def outfalls(self) -> list[Node]:
        return [n for n in self.nodes.values() if n.kind == "outfall"]

    @property
    def pumps(self) -> list[Link]:
        return [lk for lk in self.links.values() if lk.kind == "pump"]

    @property
    def conduits(self) -> list[Link]:
        return [lk for lk in self.links.values() if lk.kind == "conduit"]

    def components(self) -> list[set[str]]:
        """Connected parts of the network (node names), largest first."""
        parent = {n: n for n in self.nodes}

        def find(a: str) -> str:
            while parent[a] != a:
                parent[a] = parent[parent[a]]
                a = parent[a]
            return a

        for lk in self.links.values():
            if lk.from_node in parent and lk.to_node in parent:
                parent[find(lk.from_node)] = find(lk.to_node)
        parts: dict[str, set[str]] = defaultdict(set)
        for n in self.nodes:
            parts[find(n)].add(n)
        return sorted(parts.values(), key=lambda p: (-len(p), sorted(p)[0]))


def read_sections(text: str) -> dict[str, list[list[str]]]:
    """The data lines of a SWMM ``.inp`` text by upper-case section name, each split into
    fields (comments after ``;`` dropped; quoted fields such as ``"a b"`` kept whole)."""
    sections: dict[str, list[list[str]]] = defaultdict(list)
    current = ""
    for raw in text.splitlines():
        line = raw.split(";", 1)[0].strip()
        if not line:
            continue
        m = re.fullmatch(r"\[([^\]]+)\]", line)
        if m:
            current = m.group(1).strip().upper()
            continue
        if current:
            sections[current].append([f.strip('"') for f in re.findall(r'"[^"]*"|\S+', line)])
    return dict(sections)


def _float(value: str, where: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise NetworkError(f"{where}: {value!r} is not a number") from None


def swmm_error_text(path: str | Path, exc: BaseException, report: Path) -> str:
    """SWMM's refusal as one message: its error, and the input lines its report names."""
    lines = [str(exc).strip().replace("\n", " ")]
    try:
        text = report.read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    details = [ln.strip() for ln in text.splitlines() if "ERROR" in ln and "200" not in ln]
    if details:
        lines.append("; ".join(details[:5]))
    return f"SWMM cannot read {path}: " + " — ".join(lines)


def _engine_check(path: Path) -> tuple[dict[str, tuple[str, float, float]], dict[str, str]]:
    """Open the file with the SWMM engine: node name → (kind, invert, full depth); link kinds.

    Raises NetworkError with SWMM's message when the engine refuses the file."""
    from pyswmm import Links, Nodes, Simulation

    nodes: dict[str, tuple[str, float, float]] = {}
    links: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="fangxun-swmm-") as tmp:
        try:
            sim = Simulation(str(path), str(Path(tmp) / "r.rpt"), str(Path(tmp) / "r.out"))
        except Exception as exc:  # the engine raises a bare Exception with its error text
            raise NetworkError(swmm_error_text(path, exc, Path(tmp) / "r.rpt")) from exc
        try:
            for n in Nodes(sim):
                kind = (
                    "outfall"
                    if n.is_outfall()
                    else "storage"
                    if n.is_storage()
                    else "divider"
                    if n.is_divider()
                    else "junction"
                )
                nodes[n.nodeid] = (kind, float(n.invert_elevation), float(n.full_depth))
            for lk in Links(sim):
                links[lk.linkid] = (
                    "pump"
                    if lk.is_pump()
                    else "orifice"
                    if lk.is_orifice()
                    else "weir"
                    if lk.is_weir()
                    else "outlet"
                    if lk.is_outlet()
                    else "conduit"
                )
        finally:
            sim.close()
    return nodes, links


def read_inp(path: str | Path) -> Network:
    """Read a SWMM ``.inp`` file into a :class:`Network` (see the module docstring).

    Raises:
        NetworkError: file missing, refused by SWMM, in US units, or with malformed sections.
    """
    p = Path(path)
    if not p.is_file():
        raise NetworkError(f"network file {p} does not exist")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        text = p.read_text(encoding="gb18030")  # files from Chinese institutes' tools
    sec = read_sections(text)
    options = {row[0].upper(): row[1] for row in sec.get("OPTIONS", []) if len(row) >= 2}
    engine_nodes, engine_links = _engine_check(p)  # SWMM's own reasons first
    units = options.get("FLOW_UNITS", "CFS").upper()  # SWMM's default is CFS
    if units in US_FLOW_UNITS or units not in SI_FLOW_UNITS:
        raise NetworkError(
            f"{p}: FLOW_UNITS {units} uses US units (feet); export the network in CMS or LPS"
        )

    coords: dict[str, tuple[float, float]] = {}
    for row in sec.get("COORDINATES", []):
        if len(row) >= 3:
            coords[row[0]] = (
                _float(row[1], f"{p} [COORDINATES] {row[0]}"),
                _float(row[2], f"{p} [COORDINATES] {row[0]}"),
            )
    outfalls = {row[0]: row for row in sec.get("OUTFALLS", [])}
    net = Network(path=p, flow_units=units)
    for name, (kind, invert, depth) in engine_nodes.items():
        xy = coords.get(name)
        o_type = o_stage = None
        if kind == "outfall":
            row = outfalls.get(name, [])
            o_type = row[2].upper() if len(row) > 2 else "FREE"
            if o_type == "FIXED" and len(row) > 3:
                o_stage = _float(row[3], f"{p} [OUTFALLS] {name}")
        net.nodes[name] = Node(
            name=name,
            kind=kind,
            invert_m=invert,
            max_depth_m=0.0 if kind == "outfall" else depth,
            x=None if xy is None else xy[0],
            y=None if xy is None else xy[1],
            outfall_type=o_type,
            outfall_stage_m=o_stage,
        )

    xsec = {row[0]: row for row in sec.get("XSECTIONS", [])}
    rows_by_section = {
        "conduit": "CONDUITS",
        "pump": "PUMPS",
        "orifice": "ORIFICES",
        "weir": "WEIRS",
        "outlet": "OUTLETS",
    }
    link_rows = {
        row[0]: row for s in rows_by_section.values() for row in sec.get(s, []) if len(row) >= 3
    }
    for name, kind in engine_links.items():
        lrow = link_rows.get(name)
        if lrow is None:
            raise NetworkError(f"{p}: link {name} is known to SWMM but not found in the file")
        where = f"{p} [{rows_by_section[kind]}] {name}"
        xs = xsec.get(name)
        net.links[name] = Link(
            name=name,
            kind=kind,
            from_node=lrow[1],
            to_node=lrow[2],
            length_m=_float(lrow[3], where) if kind == "conduit" and len(lrow) > 3 else None,
            roughness=_float(lrow[4], where) if kind == "conduit" and len(lrow) > 4 else None,
            shape=xs[1].upper() if xs and len(xs) > 1 else None,
            geom1_m=_float(xs[2], where) if xs and len(xs) > 2 else None,
            pump_curve=lrow[3] if kind == "pump" and len(lrow) > 3 else None,
            initial_on=(lrow[4].upper() != "OFF") if kind == "pump" and len(lrow) > 4 else None,
        )
    for row in sec.get("VERTICES", []):
        if len(row) >= 3:
            net.vertices.setdefault(row[0], []).append(
                (_float(row[1], f"{p} [VERTICES]"), _float(row[2], f"{p} [VERTICES]"))
            )
    return net


def with_pumps_off(text: str, pumps: list[str] | tuple[str, ...]) -> str:
    """The ``.inp`` text with the named pumps held off: their status OFF, no startup/shutoff
    depths (SWMM would switch them on by depth) and no control rule that acts on them (SWMM
    evaluates rules inside its step, where a setting from outside cannot override them)."""
    names = set(pumps)
    out: list[str] = []
    section = ""
    rule: list[str] = []
    rule_hits = False

    def flush() -> None:
        nonlocal rule, rule_hits
        if not rule_hits:
            out.extend(rule)
        rule, rule_hits = [], False

    for raw in text.splitlines():
        line = raw.split(";", 1)[0].strip()
        m = re.fullmatch(r"\[([^\]]+)\]", line)
        if m:
            if section == "CONTROLS":
                flush()
            section = m.group(1).strip().upper()
            out.append(raw)
            continue
        if section == "PUMPS" and line:
            fields = line.split()
            if fields[0] in names:
                curve = fields[3] if len(fields) > 3 else "*"
                out.append(f"{fields[0]} {fields[1]} {fields[2]} {curve} OFF 0 0")
                continue
        if section == "CONTROLS":
            if line.upper().startswith("RULE"):
                flush()
            rule.append(raw)
            words = line.upper().split()
            if any(
                w == "PUMP" and i + 1 < len(words) and words[i + 1] in {n.upper() for n in names}
                for i, w in enumerate(words)
            ):
                rule_hits = True
            continue
        out.append(raw)
    if section == "CONTROLS":
        flush()
    return "\n".join(out) + "\n"
