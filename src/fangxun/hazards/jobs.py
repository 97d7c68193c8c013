"""Imports of the hazard ledger as jobs with progress (issue 20, item 5), in the forecast's
job pattern (:mod:`fangxun.forecast.flows`): a job row is stored first, the import runs, and its
progress and outcome are committed on the row.

The import itself runs in a **child process** (one spawned worker, reused): reading and checking
a 30 000-row file is seconds of pure-Python CPU, which on the event loop held ``/health`` for
87 s and in a worker thread still starves the loop of the GIL on a busy machine. The web process
only waits on a future (GIL released). ``POST /hazard-points/import-jobs`` answers 202 at once
and runs :func:`run_import_job` after the response; ``POST /hazard-points/import`` waits for the
job (:func:`import_and_wait`) and answers its report or its problems.

The functions that take an ``engine`` are flows: they commit in scopes of their own.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from fangxun.db import make_engine, session_scope
from fangxun.db.types import utcnow
from fangxun.errors import FangxunError, FieldProblem, NotFoundError, PermissionDeniedError
from fangxun.hazards import io as hazard_io
from fangxun.hazards import service
from fangxun.hazards.models import HazardImportJob, ImportJobStatus
from fangxun.hazards.schemas import ImportReport
from fangxun.org.models import User
from fangxun.org.permissions import Actor

logger = logging.getLogger(__name__)

#: Progress is written at most this often, s (each write is a transaction).
PROGRESS_EVERY_S = 0.5


def create_job(engine: Engine, *, actor: Actor, filename: str, size_bytes: int) -> int:
    """Store a queued import job for ``actor`` (allowed to manage points) and return its id."""
    service._require(actor, service.HazardAction.manage_points, "import hazard points")
    if not isinstance(actor, User):
        raise PermissionDeniedError("import jobs belong to users")
    with session_scope(engine) as session:
        job = HazardImportJob(
            status=ImportJobStatus.queued.value,
            filename=filename[:200],
            size_bytes=size_bytes,
            progress=0.0,
            problem_count=0,
            user_id=actor.id,
            created_by=actor.username,
        )
        session.add(job)
        session.flush()
        return job.id


def get_import_job(*, session: Session, job_id: int, actor: Actor) -> HazardImportJob:
    """One of the actor's own import jobs, else :class:`NotFoundError`."""
    job = session.get(HazardImportJob, job_id)
    if job is None or not isinstance(actor, User) or job.user_id != actor.id:
        raise NotFoundError(f"import job {job_id} not found")
    return job


def _update(engine: Engine, job_id: int, **values: Any) -> None:
    with session_scope(engine) as session:
        job = session.get(HazardImportJob, job_id)
        if job is not None:
            for key, value in values.items():
                setattr(job, key, value)


_pool: ProcessPoolExecutor | None = None
_pool_lock = threading.Lock()


def _executor() -> ProcessPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            # Spawned, not forked: the server process has threads (and their locks) to leave behind.
            _pool = ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn"))
        return _pool


def _noop() -> None:
    """Nothing: submitted once so the worker starts (and imports this module) ahead of need."""


def warm_up() -> Future[None]:
    """Start the import worker now rather than on the first import: spawning it costs a second
    or two of CPU, which a busy machine would take from the first import's server (the app's
    lifespan calls this outside tests, without waiting for the returned future)."""
    return _executor().submit(_noop)


def _reset_executor() -> None:
    global _pool
    with _pool_lock:
        if _pool is not None:
            _pool.shutdown(wait=False, cancel_futures=True)
        _pool = None


def run_import_job(engine: Engine, job_id: int, content: bytes, settings: Any) -> str:
    """Run import job ``job_id`` on ``content`` to the end in the worker process; returns its
    final status. Never raises for a bad file or a failure: the reason is stored on the job."""
    url = engine.url.render_as_string(hide_password=False)
    limits = hazard_io.ImportLimits.from_settings(settings)
    thresholds = dict(settings.hazard_thresholds_cm)
    try:
        future = _executor().submit(_child, url, job_id, content, limits, thresholds)
        return str(future.result())
    except BrokenProcessPool:
        _reset_executor()
        logger.error("hazard import job %s: the worker process died", job_id)
        _fail(engine, job_id, "internal error: the import worker process died; try again")
    except Exception as exc:
        logger.exception("hazard import job %s could not run", job_id)
        _fail(engine, job_id, f"internal error ({type(exc).__name__}); see the server log")
    return ImportJobStatus.failed.value


_engines: dict[str, Engine] = {}


def _child(url: str, job_id: int, content: bytes, limits: Any, thresholds: Any) -> str:
    """In the worker process: one engine per database, kept for the next job."""
    engine = _engines.get(url)
    if engine is None:
        engine = _engines[url] = make_engine(url)
    return execute_import_job(engine, job_id, content, limits=limits, thresholds_table=thresholds)


def execute_import_job(
    engine: Engine,
    job_id: int,
    content: bytes,
    *,
    limits: hazard_io.ImportLimits,
    thresholds_table: Any,
) -> str:
    """The job itself (in whichever process calls it): the import and the job's outcome are
    committed together; a refusal stores the first problems and their count."""
    _update(engine, job_id, status=ImportJobStatus.running.value, started_at=utcnow())
    last = [time.monotonic()]

    def progress(share: float) -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_EVERY_S:
            last[0] = now
            _update(engine, job_id, progress=round(min(max(share, 0.0), 0.99), 4))

    try:
        with session_scope(engine) as session:
            job = session.get(HazardImportJob, job_id)
            if job is None:
                raise NotFoundError(f"import job {job_id} not found")
            user = session.get(User, job.user_id)
            if user is None or not user.is_active:
                raise NotFoundError("the user who started the import no longer exists")
            report = hazard_io.import_points(
                session=session,
                content=content,
                filename=job.filename,
                actor=user,
                thresholds_table=thresholds_table,
                limits=limits,
                progress=progress,
            )
            job.rows = report.created + report.updated + report.unchanged
            job.report = report.model_dump()
            job.status = ImportJobStatus.done.value
            job.progress = 1.0
            job.finished_at = utcnow()
        return ImportJobStatus.done.value
    except hazard_io.ImportFailed as exc:
        problems = [{"loc": list(p.loc), "msg": p.msg} for p in exc.problems]
        _fail(engine, job_id, str(exc), problems=problems, count=exc.problem_count)
    except FangxunError as exc:
        _fail(engine, job_id, str(exc))
    except Exception as exc:  # a bug must not leave the job "running" for ever
        logger.exception("hazard import job %s failed", job_id)
        _fail(engine, job_id, f"internal error ({type(exc).__name__}); see the server log")
    return ImportJobStatus.failed.value


def import_and_wait(
    engine: Engine, *, actor: Actor, filename: str, content: bytes, settings: Any
) -> ImportReport:
    """Import as a job and wait for it: its report, or :class:`~fangxun.hazards.io.ImportFailed`
    with its first problems (the synchronous ``POST /hazard-points/import``)."""
    job_id = create_job(engine, actor=actor, filename=filename, size_bytes=len(content))
    run_import_job(engine, job_id, content, settings)
    with session_scope(engine) as session:
        job = session.get(HazardImportJob, job_id)
        assert job is not None
        if job.status == ImportJobStatus.done.value and job.report is not None:
            return ImportReport(**job.report)
        problems = [FieldProblem(tuple(p["loc"]), str(p["msg"])) for p in job.problems or []]
        raise hazard_io.ImportFailed(
            job.message or "the import failed", problems=problems, problem_count=job.problem_count
        )


def _fail(
    engine: Engine, job_id: int, message: str, *, problems: list[Any] | None = None, count: int = 0
) -> None:
    logger.info("hazard import job %s refused: %s", job_id, message)
    _update(
        engine,
        job_id,
        status=ImportJobStatus.failed.value,
        message=message,
        problems=problems or None,
        problem_count=count,
        finished_at=utcnow(),
    )


__all__ = [
    "create_job",
    "execute_import_job",
    "get_import_job",
    "import_and_wait",
    "run_import_job",
    "warm_up",
]
