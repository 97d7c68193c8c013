"""Upload of rain files through the API: stored and indexed, bad files refused by name, roles."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from fangxun.org.models import Role, UnitKind

DATA = Path(__file__).resolve().parents[1] / "data" / "radar"


def test_upload_list_and_refuse(client: TestClient, make_user: object, make_unit: object) -> None:
    unit = make_unit("DIST", UnitKind.district)  # type: ignore[operator]
    duty = make_user(Role.duty, unit)  # type: ignore[operator]
    viewer = make_user(Role.viewer, unit)  # type: ignore[operator]
    f = sorted(DATA.glob("bom/*.nc"))[0]
    form = {"importer": "bom_rf3", "feed": "bom2"}
    files = {"file": (f.name, f.read_bytes(), "application/x-netcdf")}
    assert client.post("/api/v1/rain/frames", data=form, files=files).status_code == 401
    r = client.post("/api/v1/rain/frames", data=form, files=files, headers=viewer.headers(client))
    assert r.status_code == 403
    r = client.post("/api/v1/rain/frames", data=form, files=files, headers=duty.headers(client))
    assert r.status_code == 200, r.text
    assert r.json() == {"file": f.name, "stored": 1, "repeated": 0, "error": None}
    r = client.post("/api/v1/rain/frames", data=form, files=files, headers=duty.headers(client))
    assert r.json()["repeated"] == 1
    bad = {"file": ("2_20180616_130000.prcp-cscn.nc", f.read_bytes()[:300], "application/x-netcdf")}
    r = client.post("/api/v1/rain/frames", data=form, files=bad, headers=duty.headers(client))
    assert r.status_code == 422
    assert "2_20180616_130000.prcp-cscn.nc" in r.text
    rows = client.get("/api/v1/rain/frames?feed=bom2", headers=viewer.headers(client)).json()
    assert len(rows) == 1
    assert rows[0]["valid_time"].startswith("2018-06-16T12:00:00")
    assert rows[0]["units"] == "mm/h" and rows[0]["width"] == 512
