"""Drainage services: import a district network, link stations to it, and build the network a
forecast couples to (pumps from telemetry, outfalls' tailwater from the river gauges, what-ifs).

Keyword-only functions ``(*, session, ...)``; they never commit.

**At a forecast's start** (:func:`forecast_network`): each SWMM pump linked to a pump station is
off when the station's last ``power`` reading is 0 or its last ``pumps_running`` reading is
below the pump's place among the station's pumps (pumps are taken in name order: 2 running of
3 → the first two on); with no reading the ``.inp``'s own state and controls stand. Each outfall
linked to a river gauge takes the gauge's last ``river_level`` (m, assumed in the network's
datum) as its tailwater for the run.

**What-if** (a ``DrainageWhatIf``, for scenario runs beside the operational one): pump stations
(or SWMM pumps) off, inlets blocked by a factor, the river at its guarantee level (保证水位) at
every linked outfall.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from fangxun.audit.service import Actor, record_create
from fangxun.config import Settings
from fangxun.errors import NotFoundError, ValidationFailed
from fangxun.inundation import Grid
from fangxun.monitoring.models import Datastream, ObservedProperty, Station, StationKind

from .checks import check_against_terrain
from .models import DrainageNetwork, DrainageStationLink, StationRole
from .network import Network, NetworkError, read_inp

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DrainageWhatIf:
    """A what-if on the network for a scenario run.

    Attributes:
        pumps_off: pump station codes or SWMM pump names to hold off.
        inlet_factor: capacity factor (0–1) on every inlet (a float) or per node.
        river_at_guarantee: every outfall linked to a river gauge at the gauge's guarantee level.
    """

    pumps_off: tuple[str, ...] = ()
    inlet_factor: float | dict[str, float] | None = None
    river_at_guarantee: bool = False

    @classmethod
    def from_params(cls, params: dict[str, Any] | None) -> DrainageWhatIf | None:
        """From a run's ``params["drainage_whatif"]`` (None when absent)."""
        if not params:
            return None
        try:
            factor = params.get("inlet_factor")
            return cls(
                pumps_off=tuple(str(p) for p in params.get("pumps_off", ())),
                inlet_factor=(
                    None
                    if factor is None
                    else float(factor)
                    if isinstance(factor, (int, float))
                    else {str(k): float(v) for k, v in dict(factor).items()}
                ),
                river_at_guarantee=bool(params.get("river_at_guarantee", False)),
            )
        except (TypeError, ValueError) as exc:
            raise ValidationFailed(f"drainage_whatif is malformed: {exc}") from None


@dataclass
class ForecastNetwork:
    """The network for a run: the ``.inp`` text and how to drive it (plain data)."""

    network_id: int
    inp_text: str
    cells: dict[str, tuple[int, int]]
    pumps_off: tuple[str, ...] = ()
    inlet_factor: dict[str, float] = field(default_factory=dict)
    tailwater: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def import_network(
    *,
    session: Session,
    settings: Settings,
    inp_path: Path,
    name: str,
    actor: Actor,
    terrain: Grid | None = None,
) -> DrainageNetwork:
    """Read and check ``inp_path``, keep a copy in the data folder, make it the active network.

    Raises :class:`ValidationFailed` when the file cannot be read (SWMM's reason in the detail).
    The terrain check is stored as a report (problems there do not stop the import).
    """
    try:
        net = read_inp(inp_path)
    except NetworkError as exc:
        log.warning("network import refused: %s", exc)
        raise ValidationFailed(str(exc)) from None
    digest = hashlib.sha256(inp_path.read_bytes()).hexdigest()
    rel = Path("drainage") / f"{digest}.inp"
    dest = settings.data_dir / rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(inp_path, dest)
    report = check_against_terrain(net, terrain).as_dict() if terrain is not None else None
    session.execute(update(DrainageNetwork).values(is_active=False))
    row = DrainageNetwork(
        name=name,
        inp_file=rel.as_posix(),
        sha256=digest,
        flow_units=net.flow_units,
        node_count=len(net.nodes),
        link_count=len(net.links),
        pump_count=len(net.pumps),
        outfall_count=len(net.outfalls),
        check_report=report,
        is_active=True,
        imported_by=actor.username,
    )
    session.add(row)
    session.flush()
    record_create(session=session, actor=actor, obj=row)
    return row


def active_network(*, session: Session) -> DrainageNetwork | None:
    """The network forecasts couple to (the last imported), or None."""
    return session.scalar(
        select(DrainageNetwork)
        .where(DrainageNetwork.is_active.is_(True))
        .order_by(DrainageNetwork.id.desc())
        .limit(1)
    )


def link_station(
    *,
    session: Session,
    network: DrainageNetwork,
    station_code: str,
    role: StationRole,
    swmm_name: str,
    actor: Actor,
    settings: Settings,
    parsed: Network | None = None,
) -> DrainageStationLink:
    """Say that ``station_code``'s telemetry drives SWMM pump/outfall ``swmm_name``.

    ``parsed``: the network's file already read (:func:`read_inp`), to link many at once."""
    station = session.scalar(select(Station).where(Station.code == station_code))
    if station is None:
        raise NotFoundError(f"station {station_code} does not exist")
    want = StationKind.pump_station if role == StationRole.pump else StationKind.river_gauge
    if station.kind != want:
        raise ValidationFailed(f"station {station_code} is a {station.kind}, not a {want}")
    net = parsed or read_inp(settings.data_dir / network.inp_file)
    names = [p.name for p in net.pumps] if role == StationRole.pump else net.outfalls
    known = {n if isinstance(n, str) else n.name for n in names}
    if swmm_name not in known:
        raise ValidationFailed(
            f"{swmm_name} is not a {role.value} of network {network.name}: "
            f"{', '.join(sorted(known)) or 'none'}"
        )
    link = DrainageStationLink(
        network_id=network.id, station_id=station.id, role=role, swmm_name=swmm_name
    )
    session.add(link)
    session.flush()
    record_create(session=session, actor=actor, obj=link)
    return link


def _last(session: Session, station_id: int, prop: str) -> Datastream | None:
    return session.scalar(
        select(Datastream)
        .join(ObservedProperty, Datastream.observed_property_id == ObservedProperty.id)
        .where(Datastream.station_id == station_id, ObservedProperty.code == prop)
        .limit(1)
    )


def forecast_network(  # noqa: C901  telemetry → pumps, gauges → tailwater, what-ifs: split pending
    *,
    session: Session,
    settings: Settings,
    grid: Grid,
    whatif: DrainageWhatIf | None = None,
) -> ForecastNetwork | None:
    """The active network placed on ``grid`` (the forecast's model grid) with pumps and
    tailwater from the latest telemetry and the what-if applied; None without a network.

    Nodes off the grid run uncoupled (said in the notes).
    """
    row = active_network(session=session)
    if row is None:
        return None
    path = settings.data_dir / row.inp_file
    try:
        net = read_inp(path)
    except NetworkError as exc:
        raise ValidationFailed(f"the district network {row.name} cannot be used: {exc}") from None
    check = check_against_terrain(net, grid)
    coupled = ("junction", "storage", "divider")
    cells = {n: c for n, c in check.cells.items() if net.nodes[n].kind in coupled}
    out = ForecastNetwork(
        network_id=row.id,
        inp_text=path.read_text(encoding="utf-8-sig"),
        cells=cells,
    )
    out.notes.append(f"network {row.name}: {len(cells)} of {len(net.nodes)} nodes coupled")
    missing = [n for n in check.off_grid + check.on_nodata if net.nodes[n].kind in coupled]
    if missing:
        out.notes.append(f"{len(missing)} node(s) off the model grid run uncoupled")

    links = list(
        session.scalars(select(DrainageStationLink).where(DrainageStationLink.network_id == row.id))
    )
    stations = {s.id: s for s in session.scalars(select(Station))}
    off: set[str] = set()
    by_station: dict[int, list[str]] = {}
    for lk in links:
        if lk.role == StationRole.pump:
            by_station.setdefault(lk.station_id, []).append(lk.swmm_name)
    for sid, pumps in by_station.items():
        pumps.sort()
        power = _last(session, sid, "power")
        running = _last(session, sid, "pumps_running")
        code = stations[sid].code
        if power is not None and power.last_value is not None and power.last_value <= 0:
            off.update(pumps)
            out.notes.append(f"pump station {code}: no power, pumps {', '.join(pumps)} off")
        elif running is not None and running.last_value is not None:
            n_on = max(0, round(running.last_value))
            if n_on < len(pumps):
                off.update(pumps[n_on:])
                out.notes.append(f"pump station {code}: {n_on} of {len(pumps)} pumps running")
    for lk in links:
        if lk.role == StationRole.outfall:
            level = _last(session, lk.station_id, "river_level")
            if level is not None and level.last_value is not None:
                out.tailwater[lk.swmm_name] = float(level.last_value)
    if whatif is not None:
        codes = {s.code: sid for sid, s in stations.items()}
        for item in whatif.pumps_off:
            if item in codes and codes[item] in by_station:
                off.update(by_station[codes[item]])
            elif item in {p.name for p in net.pumps}:
                off.add(item)
            else:
                raise ValidationFailed(
                    f"what-if: {item} is neither a linked pump station nor a pump"
                )
        if isinstance(whatif.inlet_factor, float):
            out.inlet_factor = dict.fromkeys(cells, whatif.inlet_factor)
        elif isinstance(whatif.inlet_factor, dict):
            out.inlet_factor = {n: f for n, f in whatif.inlet_factor.items() if n in cells}
        if whatif.river_at_guarantee:
            for lk in links:
                if lk.role == StationRole.outfall:
                    level = _last(session, lk.station_id, "river_level")
                    if level is not None and level.guarantee_level_m is not None:
                        out.tailwater[lk.swmm_name] = float(level.guarantee_level_m)
        out.notes.append("what-if: " + ", ".join(_describe(whatif)))
    out.pumps_off = tuple(sorted(off))
    return out


def _describe(w: DrainageWhatIf) -> list[str]:
    parts = []
    if w.pumps_off:
        parts.append(f"pumps off ({', '.join(w.pumps_off)})")
    if w.inlet_factor is not None:
        parts.append(f"inlets at {w.inlet_factor}")
    if w.river_at_guarantee:
        parts.append("river at guarantee level")
    return parts or ["none"]


def district_terrain(settings: Settings) -> Grid | None:
    """The district terrain forecasts run on, or None before one is set up."""
    from fangxun.forecast.service import terrain_path
    from fangxun.inundation.io import read_terrain

    path = terrain_path(settings)
    return read_terrain(path) if path.exists() else None


#: Map colours of the network's features (CSS), by kind.
LAYER_COLOURS = {
    "pipe": "#3b6fb6",
    "manhole": "#3b6fb6",
    "outfall": "#0b8a7a",
    "storage": "#6a51a3",
    "pump_station": "#d95f02",
}


def network_geojson(*, session: Session, settings: Settings) -> dict[str, Any]:
    """The active network for the map (RFC 7946, WGS 84 lon/lat): pipes as lines (with their
    ``[VERTICES]``), manholes, outfalls and storage units as points, and one point per pump
    station (the wet well its pumps draw from) listing its pumps and the telemetry station
    that drives them. Every feature's ``kind`` is one of :data:`LAYER_COLOURS`' keys and
    carries that ``colour``. An empty collection without a network (or without coordinates).

    Coordinates are in the district terrain's CRS (what the terrain check assumes).
    """
    empty: dict[str, Any] = {"type": "FeatureCollection", "features": []}
    row = active_network(session=session)
    if row is None:
        return empty
    crs = _terrain_crs(settings)
    if crs is None:
        return empty
    links = session.scalars(
        select(DrainageStationLink).where(DrainageStationLink.network_id == row.id)
    )
    codes = {s.id: s.code for s in session.scalars(select(Station))}
    station_of = {lk.swmm_name: codes.get(lk.station_id) for lk in links}
    body = _network_features(str(settings.data_dir / row.inp_file), row.sha256, crs)
    features = copy.deepcopy(body)
    for f in features:
        p = f["properties"]
        if p["kind"] == "pump_station":
            p["station"] = next((station_of[q] for q in p["pumps"] if q in station_of), None)
        elif p["kind"] == "outfall":
            p["river_gauge"] = station_of.get(p["name"])
    return {"type": "FeatureCollection", "features": features, "network": row.name}


def _terrain_crs(settings: Settings) -> str | None:
    from fangxun.forecast.service import terrain_path

    path = terrain_path(settings)
    if not path.exists():
        return None
    import rasterio

    with rasterio.open(path) as src:
        return None if src.crs is None else src.crs.to_wkt()


@functools.lru_cache(maxsize=4)
def _network_features(path: str, sha256: str, crs_wkt: str) -> list[dict[str, Any]]:
    """The features of :func:`network_geojson` without telemetry (cached by file and CRS)."""
    from pyproj import Transformer

    del sha256  # part of the cache key: a re-import of another file at the same path
    net = read_inp(Path(path))
    to_wgs84 = Transformer.from_crs(crs_wkt, "EPSG:4326", always_xy=True)

    def lonlat(x: float, y: float) -> list[float]:
        lon, lat = to_wgs84.transform(x, y)
        return [round(float(lon), 7), round(float(lat), 7)]

    def point(kind: str, name: str, x: float, y: float, **props: Any) -> dict[str, Any]:
        return {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": lonlat(x, y)},
            "properties": {"kind": kind, "name": name, "colour": LAYER_COLOURS[kind], **props},
        }

    features: list[dict[str, Any]] = []
    for link in net.conduits:
        a, b = net.nodes[link.from_node], net.nodes[link.to_node]
        if a.x is None or a.y is None or b.x is None or b.y is None:
            continue
        xy = [(a.x, a.y), *net.vertices.get(link.name, []), (b.x, b.y)]
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": [lonlat(*p) for p in xy]},
                "properties": {
                    "kind": "pipe",
                    "name": link.name,
                    "colour": LAYER_COLOURS["pipe"],
                    "diameter_m": link.geom1_m,
                    "length_m": link.length_m,
                },
            }
        )
    pumps_by_well: dict[str, list[str]] = {}
    for pump in net.pumps:
        pumps_by_well.setdefault(pump.from_node, []).append(pump.name)
    kinds = {"junction": "manhole", "outfall": "outfall", "storage": "storage"}
    for node in net.nodes.values():
        if node.x is None or node.y is None:
            continue
        if node.name in pumps_by_well:
            pumps = sorted(pumps_by_well[node.name])
            features.append(point("pump_station", node.name, node.x, node.y, pumps=pumps))
        elif node.kind in kinds:
            features.append(
                point(
                    kinds[node.kind],
                    node.name,
                    node.x,
                    node.y,
                    rim_m=round(node.rim_m, 3),
                    invert_m=round(node.invert_m, 3),
                )
            )
    return features


def linked_pump_stations(*, session: Session) -> list[str]:
    """Codes of the pump stations that drive pumps of the active network (for a what-if form)."""
    row = active_network(session=session)
    if row is None:
        return []
    stmt = (
        select(Station.code)
        .join(DrainageStationLink, DrainageStationLink.station_id == Station.id)
        .where(
            DrainageStationLink.network_id == row.id,
            DrainageStationLink.role == StationRole.pump,
        )
        .distinct()
        .order_by(Station.code)
    )
    return list(session.scalars(stmt))
