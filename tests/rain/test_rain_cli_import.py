"""`fangxun rain import`: a folder replayed into the frame store, a bad file refused by name with
exit code 65 and the good files kept."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fangxun.cli.main import app
from fangxun.config import get_settings
from fangxun.db import make_engine, session_scope
from fangxun.db.migrate import upgrade_engine
from fangxun.rain import service

DATA = Path(__file__).resolve().parents[1] / "data" / "radar"


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("FANGXUN_DATABASE_URL", url)
    monkeypatch.setenv("FANGXUN_ENVIRONMENT", "test")
    monkeypatch.setenv("FANGXUN_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    upgrade_engine(make_engine(url))
    yield url
    get_settings.cache_clear()


def test_import_folder_keeps_good_files_and_names_the_bad_one(db_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "replay"
    folder.mkdir()
    for p in sorted(DATA.glob("mch/*.gif"))[:3]:
        shutil.copy(p, folder / p.name)
    bad = folder / "AQC161932110V_00005.801.gif"
    bad.write_bytes(b"GIF89a truncated")
    result = CliRunner().invoke(
        app, ["rain", "import", str(folder), "--importer", "mch_gif", "--feed", "mch"]
    )
    assert result.exit_code == 65, result.output
    assert bad.name in result.output
    with session_scope(make_engine(db_url)) as session:
        rows = service.list_frames(session=session, feed="mch")
        assert len(rows) == 3
        assert all((tmp_path / "data" / r.path).is_file() for r in rows)
