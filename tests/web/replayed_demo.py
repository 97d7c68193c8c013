"""The demo district after its storm, played at once (:meth:`fangxun.demo.story.Story.play_offline`)
into a SQLite file: the state every page of a command room shows after ``fangxun demo``.

:func:`replayed_demo_db` builds the file once per test session and worker; each user of it copies
the file (pages write sessions and audit rows) with :func:`fresh_copy`.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from fangxun.config import Settings, load_settings
from fangxun.db import make_engine, session_scope
from fangxun.db.migrate import upgrade
from fangxun.demo import load_demo
from fangxun.demo.story import Story, StoryLog, StoryOptions
from fangxun.monitoring import heartbeat

SECRET = "replayed-demo-secret-key-0123456789abcdef"
#: Coarse cells and a look every half hour of replay time: the whole storm in about a minute.
OPTIONS = StoryOptions(cell_m=160.0)
TICK_S = 1800.0


@dataclass(frozen=True)
class ReplayedDemo:
    """A replayed demo database (``db``) with its data folder (terrain, hillshade, heartbeats)."""

    db: Path
    data_dir: Path
    log: StoryLog


def settings_for(db: Path, data_dir: Path) -> Settings:
    """Settings of an app serving ``db``: the demo environment, Chinese pages."""
    return load_settings(
        environment="demo",
        database_url=f"sqlite:///{db}",
        data_dir=data_dir,
        secret_key=SECRET,
        language="zh",
        basemap_url=None,
    )


def build(folder: Path, *, until_offset_s: float | None = None) -> ReplayedDemo:
    """Migrate, load the demo district and play the storm (to ``until_offset_s`` or its end)."""
    db, data_dir = folder / "demo.db", folder / "data"
    upgrade(f"sqlite:///{db}")
    settings = settings_for(db, data_dir)
    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as session:
            load_demo(session=session, settings=settings)
    finally:
        engine.dispose()
    story = Story(settings, OPTIONS, say=lambda _text: None)
    try:
        log = story.play_offline(tick_s=TICK_S, until_offset_s=until_offset_s)
    finally:
        story.engine.dispose()
    engine = make_engine(settings.database_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        engine.dispose()
    return ReplayedDemo(db=db, data_dir=data_dir, log=log)


def fresh_copy(demo: ReplayedDemo, folder: Path) -> ReplayedDemo:
    """A copy of ``demo`` in ``folder`` (its database and data folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(demo.db, folder / "demo.db")
    shutil.copytree(demo.data_dir, folder / "data", dirs_exist_ok=True)
    # ``fangxun demo`` keeps ingest and the warning rules running after the replay: their
    # heartbeats are fresh, as they would be (no "service stopped" banner from the copy's age).
    for name in heartbeat.SERVICES:
        heartbeat.beat(folder / "data", name, force=True)
    return ReplayedDemo(db=folder / "demo.db", data_dir=folder / "data", log=demo.log)
