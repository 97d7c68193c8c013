"""`fangxun setup check` shows the drainage network: none held (fine: the catchment sink), held
and checked clean, or held with nodes the terrain check stopped on."""

from __future__ import annotations

from pathlib import Path

from drainage_cases import street_network, write_terrain, xy
from sqlalchemy.orm import Session

from fangxun.audit.service import SystemActor
from fangxun.config import Settings
from fangxun.drainage import service
from fangxun.inundation.io import read_terrain
from fangxun.setup.service import Area, ReadinessItem, readiness

ACTOR = SystemActor("test")


def _item(session: Session, settings: Settings, dem: Path) -> ReadinessItem:
    items = readiness(session=session, settings=settings, terrain=dem).items
    (item,) = [i for i in items if i.what.startswith("drainage network")]
    assert item.areas == (Area.forecasts,)
    return item


def test_readiness_reports_the_network_and_its_terrain_check(
    db_session: Session, settings: Settings, tmp_path: Path
) -> None:
    dem = write_terrain(tmp_path / "dem.tif")
    grid = read_terrain(dem)
    item = _item(db_session, settings, dem)
    assert item.ok and "none held" in item.what and "drainage import" in item.fix

    inp = tmp_path / "good.inp"
    inp.write_text(street_network())
    service.import_network(
        session=db_session, settings=settings, inp_path=inp, name="街区管网", actor=ACTOR,
        terrain=grid,
    )  # fmt: skip
    item = _item(db_session, settings, dem)
    assert item.ok and "街区管网: 4 nodes, 3 links" in item.what
    assert item.what.endswith("terrain check: nothing found")

    # a manhole placed off the terrain stops a coupled run: the item fails and says so
    x, y = xy(10, 30)
    text = street_network(extra_nodes="J9 7.0 2.0 0 0 0\nJ8 8.0 2.0 0 0 0")
    text = text.replace("[COORDINATES]", f"[COORDINATES]\nJ9 {x} {y}\nJ8 0 0")
    text = text.replace(
        "[XSECTIONS]", "C9 J9 J8 10 0.013 0 0 0\n\n[XSECTIONS]\nC9 CIRCULAR 0.3 0 0 0 1"
    )
    bad = tmp_path / "bad.inp"
    bad.write_text(text)
    service.import_network(
        session=db_session, settings=settings, inp_path=bad, name="错位管网", actor=ACTOR,
        terrain=grid,
    )  # fmt: skip
    item = _item(db_session, settings, dem)
    assert not item.ok and "错位管网" in item.what and "1 off the terrain" in item.what
