"""The forecast job: queued → running → done | failed, in short transactions of its own.

Unlike a service, the job owns its transactions: it commits ``running`` before the (long) model
run, commits progress after every member so that the API and CLI show it, and commits the outcome.
A failure at any step marks the run ``failed`` with the reason; the forecast in force stays.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable

from sqlalchemy import Engine

from fangxun.config import Settings
from fangxun.db import session_scope
from fangxun.db.types import utcnow
from fangxun.forecast import engine as fx_engine
from fangxun.forecast import service
from fangxun.forecast.models import ForecastRun, RunStatus

log = logging.getLogger(__name__)

#: Share of the progress bar given to preparing inputs and to storing outputs.
_PREP, _STORE = 0.05, 0.05


def _set_progress(db: Engine, run_id: int, value: float) -> None:
    with session_scope(db) as session:
        run = session.get(ForecastRun, run_id)
        if run is not None:
            run.progress = round(min(max(value, 0.0), 1.0), 4)


def execute_run(
    db: Engine,
    run_id: int,
    settings: Settings,
    *,
    executor: str = "process",
    on_progress: Callable[[int, int], None] | None = None,
) -> RunStatus:
    """Run forecast ``run_id`` to the end; returns its final status (never raises for a model
    failure: the reason is stored on the run).

    ``executor``: ``"process"`` (members in parallel processes; a Dask cluster when
    ``Settings.forecast_dask_address`` is set) or ``"serial"``. ``on_progress(done, total)``
    after each member (the CLI's Rich bar).
    """
    with session_scope(db) as session:
        run = service.get_run(session=session, run_id=run_id)
        if run.status != RunStatus.queued:
            raise ValueError(f"forecast run {run_id} is {run.status.value}, not queued")
        run.status = RunStatus.running
        run.started_at = utcnow()
    try:
        with session_scope(db) as session:
            run = service.get_run(session=session, run_id=run_id)
            prepared = service.prepare_run(session=session, run=run, settings=settings)
        _set_progress(db, run_id, _PREP)

        def progress(done: int, total: int) -> None:
            _set_progress(db, run_id, _PREP + (1.0 - _PREP - _STORE) * done / total)
            if on_progress is not None:
                on_progress(done, total)

        results = fx_engine.run_members(
            prepared.district,
            prepared.specs,
            executor=executor,
            dask_address=settings.forecast_dask_address,
            progress=progress,
        )
        output_dir, bounds = service.write_outputs(
            settings=settings, run_id=run_id, prepared=prepared, control=results[0]
        )
        with session_scope(db) as session:
            run = service.get_run(session=session, run_id=run_id)
            service.store_results(
                session=session,
                run=run,
                prepared=prepared,
                results=results,
                output_dir=output_dir,
                bounds=bounds,
            )
        return RunStatus.done
    except Exception as exc:  # any failure of inputs, model or files: record it, keep the old
        log.warning("forecast run %s failed:\n%s", run_id, traceback.format_exc())
        reason = f"{type(exc).__name__}: {exc}"
        with session_scope(db) as session:
            run = service.get_run(session=session, run_id=run_id)
            service.mark_failed(session=session, run=run, reason=reason)
        return RunStatus.failed
