"""The network layer of the one map: the active network as GeoJSON (API and web), in WGS 84."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from drainage_cases import X0, Y0, street_network, write_terrain
from fastapi.testclient import TestClient
from pyproj import Transformer
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from fangxun.api.app import create_app
from fangxun.audit.service import SystemActor
from fangxun.config import Settings
from fangxun.db import session_scope
from fangxun.drainage import service
from fangxun.inundation.io import read_terrain
from fangxun.monitoring.models import Station, StationKind
from web_harness import csrf_of

ACTOR = SystemActor("test")


def _import(session: Session, settings: Settings, tmp_path: Path) -> None:
    dem = write_terrain(tmp_path / "dem.tif")
    inp = tmp_path / "district.inp"
    inp.write_text(street_network(pump=True))
    row = service.import_network(
        session=session, settings=settings, inp_path=inp, name="街区管网", actor=ACTOR,
        terrain=read_terrain(dem),
    )  # fmt: skip
    session.add(Station(code="PS9", name_zh="泵站", kind=StationKind.pump_station, lon=0, lat=0))
    session.flush()
    service.link_station(
        session=session, network=row, station_code="PS9", role=service.StationRole.pump,
        swmm_name="P1", actor=ACTOR, settings=settings,
    )  # fmt: skip


def test_geojson_has_pipes_manholes_outfalls_and_pump_stations_in_lon_lat(
    db_session: Session, settings: Settings, tmp_path: Path
) -> None:
    s = settings.model_copy(update={"forecast_terrain_path": tmp_path / "dem.tif"})
    assert service.network_geojson(session=db_session, settings=s)["features"] == []
    _import(db_session, s, tmp_path)
    body = service.network_geojson(session=db_session, settings=s)
    by_kind: dict[str, list[dict]] = {}
    for f in body["features"]:
        by_kind.setdefault(f["properties"]["kind"], []).append(f)
    assert {f["properties"]["name"] for f in by_kind["manhole"]} == {"J1", "J2", "J3"}
    assert [f["properties"]["name"] for f in by_kind["outfall"]] == ["O1"]
    (station,) = by_kind["pump_station"]
    assert station["properties"]["pumps"] == ["P1"] and station["properties"]["station"] == "PS9"
    assert all(f["geometry"]["type"] == "LineString" for f in by_kind["pipe"])
    assert sorted(f["properties"]["name"] for f in by_kind["pipe"]) == ["C1", "C2", "C3"]
    # positions: the terrain's CRS (EPSG:4547) turned into WGS 84 lon/lat
    j1 = next(f for f in by_kind["manhole"] if f["properties"]["name"] == "J1")
    lon, lat = Transformer.from_crs("EPSG:4547", "EPSG:4326", always_xy=True).transform(
        X0 + 10.5 * 2.0, Y0 - 10.5 * 2.0
    )
    assert abs(j1["geometry"]["coordinates"][0] - lon) < 1e-6
    assert abs(j1["geometry"]["coordinates"][1] - lat) < 1e-6


def test_api_and_map_serve_the_layer_to_any_login(
    make_user: Any, settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    s = settings.model_copy(update={"forecast_terrain_path": tmp_path / "dem.tif"})
    with session_scope(engine) as session:
        _import(session, s, tmp_path)
    with TestClient(create_app(s, engine=engine)) as client:
        _serve(client, make_user)


def _serve(client: TestClient, make_user: Any) -> None:
    viewer = make_user("viewer")
    assert client.get("/api/v1/drainage/network.geojson").status_code == 401
    api = client.get("/api/v1/drainage/network.geojson", headers=viewer.headers(client))
    assert api.status_code == 200
    assert any(f["properties"]["kind"] == "pump_station" for f in api.json()["features"])
    form = client.get("/login")
    client.post(
        "/login",
        data={"username": viewer.username, "password": viewer.password,
              "csrf_token": csrf_of(form)},
    )  # fmt: skip
    web = client.get("/drainage/network.geojson")
    assert web.status_code == 200 and web.headers["content-type"].startswith("application/geo")
    details = {f["properties"]["name"]: f["properties"]["detail"] for f in web.json()["features"]}
    assert details["C1"] == "DN600" and details["W1"] == "P1 · PS9"
