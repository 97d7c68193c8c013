"""Checklist tasks: list, read, move on; the board by department and the counts by status."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from fangxun.audit.service import record_update, snapshot
from fangxun.db.types import utcnow
from fangxun.errors import ConflictError, ValidationFailed
from fangxun.org.jurisdiction import get_in_jurisdiction, scope_query
from fangxun.org.permissions import Actor, require_role
from fangxun.response.models import ResponseTask, TaskStatus
from fangxun.response.schemas import TaskUpdate
from fangxun.response.service.common import TASK_MOVES, TASK_WRITERS, _name
from fangxun.response.service.levels import current_level


def list_tasks(
    *,
    session: Session,
    actor: Actor,
    activation_id: int | None = None,
    status: TaskStatus | None = None,
    unit_id: int | None = None,
    limit: int = 500,
) -> list[ResponseTask]:
    """Tasks in the actor's jurisdiction, by level, unit and order."""
    stmt = scope_query(select(ResponseTask), ResponseTask.unit_id, session=session, user=actor)
    if activation_id is not None:
        stmt = stmt.where(ResponseTask.activation_id == activation_id)
    if status is not None:
        stmt = stmt.where(ResponseTask.status == status)
    if unit_id is not None:
        stmt = stmt.where(ResponseTask.unit_id == unit_id)
    stmt = stmt.options(selectinload(ResponseTask.unit), selectinload(ResponseTask.person))
    items = list(session.scalars(stmt.order_by(ResponseTask.id).limit(limit)))
    return sorted(
        items,
        key=lambda t: (t.level.rank if t.level else 0, t.unit_id, t.sort_order, t.id),
    )


def get_task(*, session: Session, task_id: int, actor: Actor) -> ResponseTask:
    """A task in the actor's jurisdiction, else :class:`NotFoundError`."""
    return get_in_jurisdiction(
        session=session, user=actor, model=ResponseTask, obj_id=task_id, label="task"
    )


def update_task(
    *, session: Session, task_id: int, task_in: TaskUpdate, actor: Actor
) -> ResponseTask:
    """Move a task on (pending → confirmed → done, or not applicable with a note), recording who
    and when; a ``unit`` user only for its own unit's tasks."""
    task = get_task(session=session, task_id=task_id, actor=actor)
    require_role(actor, TASK_WRITERS, "confirm response tasks")
    if task_in.status is task.status:
        raise ConflictError(f"task {task.id} is already {task.status.value}")
    if task_in.status not in TASK_MOVES[task.status]:
        raise ConflictError(
            f"task {task.id} cannot go from {task.status.value} to {task_in.status.value}"
        )
    if task_in.status is TaskStatus.not_applicable and not task_in.note:
        raise ValidationFailed("say why the task does not apply", loc=("body", "note"))
    before = snapshot(task)
    now = utcnow()
    who = _name(actor)
    task.status = task_in.status
    if task_in.status is TaskStatus.confirmed:
        task.confirmed_by, task.confirmed_at = who, now
    elif task_in.status is TaskStatus.done:
        task.done_by, task.done_at = who, now
        if task.confirmed_at is None:
            task.confirmed_by, task.confirmed_at = who, now
    elif task_in.status is TaskStatus.pending:
        task.confirmed_by = task.confirmed_at = None
    if task_in.note:
        task.note = task_in.note
    session.flush()
    record_update(session=session, actor=actor, obj=task, before=before)
    return task


@dataclass
class BoardRow:
    """One department's tasks on the board, by status."""

    unit_id: int
    unit_name: str
    cells: dict[str, list[ResponseTask]] = field(default_factory=dict)

    @property
    def open_count(self) -> int:
        """Tasks still pending or confirmed."""
        return len(self.cells.get("pending", [])) + len(self.cells.get("confirmed", []))


def board(*, session: Session, actor: Actor, activation_id: int | None = None) -> list[BoardRow]:
    """The checklist board: one row per department (unit), one cell per status; without
    ``activation_id``, the running activation's tasks and open point-plan tasks."""
    if activation_id is None:
        running = current_level(session=session)
        tasks = [
            t
            for t in list_tasks(session=session, actor=actor)
            if (running is not None and t.activation_id == running.id)
            or (t.activation_id is None and t.status in (TaskStatus.pending, TaskStatus.confirmed))
        ]
    else:
        tasks = list_tasks(session=session, actor=actor, activation_id=activation_id)
    rows: dict[int, BoardRow] = {}
    for task in tasks:
        row = rows.setdefault(
            task.unit_id,
            BoardRow(task.unit_id, task.unit_name, {s.value: [] for s in TaskStatus}),
        )
        row.cells[task.status.value].append(task)
    return sorted(rows.values(), key=lambda r: (-r.open_count, r.unit_name))


def task_counts(tasks: Sequence[ResponseTask]) -> dict[str, int]:
    """Tasks per status (every status present, 0 when none)."""
    counts = {s.value: 0 for s in TaskStatus}
    for task in tasks:
        counts[task.status.value] += 1
    return counts
