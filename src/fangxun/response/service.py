"""Emergency response services: contingency plans (预案), response levels IV → I started, raised,
lowered and stood down by decision or proposed / started by rule from warnings, the action checklist
each level creates, and the tasks a point plan (一点一策) creates when its trigger is met.

Keyword-only functions that check role and jurisdiction (a task belongs to the unit that carries
it out; other units' tasks are *not found*), record every change by a person in the audit log and
never commit. ``apply_warning_signal`` and ``apply_point_trigger`` are called by
:mod:`fangxun.warnings` inside the transaction of the warning change; they take primitives, so
this module never imports the warnings domain.

Rules never lower a level: a yellow signal while level III runs changes nothing, and a lifted
signal (``colour=None``) changes nothing — stand-down is a decision.

>>> rank_of_colour("orange") > rank_of_colour("yellow")
True
>>> ResponseLevel.II.rank > ResponseLevel.IV.rank
True
"""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from fangxun import jsonsafe
from fangxun.audit.service import (
    SystemActor,
    audited_delete,
    audited_update,
    record_create,
    record_update,
    snapshot,
)
from fangxun.config import Settings
from fangxun.db.queries import flush_or_conflict
from fangxun.db.types import utcnow
from fangxun.errors import ConflictError, FieldProblem, NotFoundError, ValidationFailed
from fangxun.hazards.models import HazardPoint, PlanStatus, PointPlan
from fangxun.org.jurisdiction import get_in_jurisdiction, scope_query, unit_in_body
from fangxun.org.models import Person, Role, Unit, UnitKind
from fangxun.org.permissions import Actor, require_role
from fangxun.response.models import (
    LEVEL_ORDER,
    ActivationStatus,
    ChangeStatus,
    ChangeType,
    ContingencyPlan,
    LevelChange,
    PlanAction,
    ResponseActivation,
    ResponseLevel,
    ResponseTask,
    TaskStatus,
)
from fangxun.response.schemas import PlanActionIn, PlanCreate, PlanFile, PlanUpdate, TaskUpdate

log = logging.getLogger(__name__)

#: Warning colours from the weakest to the strongest.
COLOURS: tuple[str, ...] = ("blue", "yellow", "orange", "red")
#: Roles that may edit plans and decide levels (the district flood-control office).
DECIDERS = frozenset({Role.admin, Role.district})
#: Roles that may move checklist tasks on (a ``unit`` user only its own unit's tasks).
TASK_WRITERS = frozenset({Role.admin, Role.district, Role.duty, Role.unit})
#: How a task may move on.
TASK_MOVES: dict[TaskStatus, frozenset[TaskStatus]] = {
    TaskStatus.pending: frozenset(
        {TaskStatus.confirmed, TaskStatus.done, TaskStatus.not_applicable}
    ),
    TaskStatus.confirmed: frozenset(
        {TaskStatus.done, TaskStatus.not_applicable, TaskStatus.pending}
    ),
    TaskStatus.done: frozenset({TaskStatus.confirmed}),
    TaskStatus.not_applicable: frozenset({TaskStatus.pending}),
}
#: The name under which rules act in level changes and the audit log.
RULE_ACTOR = SystemActor(username="rule:response")
#: Column headings of a plan workbook (first sheet): level, department (code or name), action,
#: order, confirmation required (是/否).
XLSX_HEADER = ("级别", "部门", "措施", "顺序", "需确认")


def rank_of_colour(colour: str | None) -> int:
    """0 for none, 1 for blue … 4 for red; an unknown colour is 0."""
    return COLOURS.index(colour) + 1 if colour in COLOURS else 0


def _aware(value: datetime, what: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationFailed(f"{what}: give a time zone offset", loc=(what,))
    return value.astimezone(UTC)


def _name(actor: Actor) -> str:
    return actor.username if actor is not None else "system"


# --- scope -------------------------------------------------------------------------------------


def district_scope(*, session: Session, unit_id: int | None) -> int | None:
    """The district unit a response level belongs to.

    ``None`` means the district: the one root unit of kind ``district`` (``None`` when there is
    not exactly one). A street office or department resolves to the district above it.
    """
    if unit_id is None:
        roots = list(
            session.scalars(
                select(Unit.id)
                .where(Unit.parent_id.is_(None), Unit.kind == UnitKind.district)
                .limit(2)
            )
        )
        return roots[0] if len(roots) == 1 else None
    unit = session.get(Unit, unit_id)
    if unit is None:
        raise NotFoundError(f"unit {unit_id} not found")
    seen: set[int] = set()
    while unit.kind is not UnitKind.district and unit.parent is not None and unit.id not in seen:
        seen.add(unit.id)
        unit = unit.parent
    return unit.id


# --- plans -------------------------------------------------------------------------------------


def _plan_snapshot(plan: ContingencyPlan) -> dict[str, Any]:
    data = snapshot(plan)
    data["actions"] = [
        {
            "level": a.level.value,
            "department_id": a.department_id,
            "action": a.action,
            "sort_order": a.sort_order,
            "requires_confirmation": a.requires_confirmation,
        }
        for a in plan.actions
    ]
    return data


def _actions(session: Session, actor: Actor, items: Sequence[PlanActionIn]) -> list[PlanAction]:
    out: list[PlanAction] = []
    for i, item in enumerate(items):
        unit_in_body(session, actor, item.department_id, ("body", "actions", i, "department_id"))
        out.append(
            PlanAction(
                level=item.level,
                department_id=item.department_id,
                action=item.action,
                sort_order=item.sort_order,
                requires_confirmation=item.requires_confirmation,
            )
        )
    return out


def _deactivate_others(session: Session, plan: ContingencyPlan, actor: Actor) -> None:
    # One plan in force per unit: activating a plan retires the one before.
    for other in session.scalars(
        select(ContingencyPlan).where(
            ContingencyPlan.unit_id == plan.unit_id,
            ContingencyPlan.is_active.is_(True),
            ContingencyPlan.id != plan.id,
        )
    ):
        before = _plan_snapshot(other)
        other.is_active = False
        session.flush()
        record_update(session=session, actor=actor, obj=other, before=before)


def create_plan(*, session: Session, plan_in: PlanCreate, actor: Actor) -> ContingencyPlan:
    """Create a contingency plan with its actions (``district`` role)."""
    require_role(actor, DECIDERS, "edit contingency plans")
    unit_in_body(session, actor, plan_in.unit_id, ("body", "unit_id"))
    plan = ContingencyPlan(
        unit_id=plan_in.unit_id,
        name=plan_in.name,
        description=plan_in.description,
        is_active=plan_in.is_active,
    )
    plan.actions = _actions(session, actor, plan_in.actions)
    session.add(plan)
    flush_or_conflict(session, f"plan {plan_in.name!r}")
    if plan.is_active:
        _deactivate_others(session, plan, actor)
    session.refresh(plan)
    record_create(session=session, actor=actor, obj=plan, snap=_plan_snapshot)
    return plan


def get_plan(*, session: Session, plan_id: int, actor: Actor) -> ContingencyPlan:
    """A plan in the actor's jurisdiction, else :class:`NotFoundError`."""
    return get_in_jurisdiction(
        session=session, user=actor, model=ContingencyPlan, obj_id=plan_id, label="plan"
    )


def list_plans(*, session: Session, actor: Actor) -> list[ContingencyPlan]:
    """Plans in the actor's jurisdiction, active first."""
    stmt = scope_query(
        select(ContingencyPlan), ContingencyPlan.unit_id, session=session, user=actor
    ).options(selectinload(ContingencyPlan.actions).selectinload(PlanAction.department))
    return list(
        session.scalars(stmt.order_by(ContingencyPlan.is_active.desc(), ContingencyPlan.id))
    )


def update_plan(
    *, session: Session, plan_id: int, plan_in: PlanUpdate, actor: Actor
) -> ContingencyPlan:
    """Change a plan (``actions``, when given, replace all of them). Tasks already created keep
    their text: a checklist is what was asked at the time."""
    plan = get_plan(session=session, plan_id=plan_id, actor=actor)
    require_role(actor, DECIDERS, "edit contingency plans")
    with audited_update(session=session, actor=actor, obj=plan, snap=_plan_snapshot):
        if plan_in.name is not None:
            plan.name = plan_in.name
        if "description" in plan_in.model_fields_set:
            plan.description = plan_in.description
        if plan_in.actions is not None:
            plan.actions = _actions(session, actor, plan_in.actions)
        if plan_in.is_active is not None:
            plan.is_active = plan_in.is_active
        flush_or_conflict(session, f"plan {plan.name!r}")
        if plan.is_active:
            _deactivate_others(session, plan, actor)
        session.refresh(plan)
    return plan


def delete_plan(*, session: Session, plan_id: int, actor: Actor) -> None:
    """Delete a plan that no activation used; a used plan is kept for the record (deactivate it)."""
    plan = get_plan(session=session, plan_id=plan_id, actor=actor)
    require_role(actor, DECIDERS, "edit contingency plans")
    used = session.scalar(
        select(ResponseActivation.id).where(ResponseActivation.plan_id == plan.id).limit(1)
    )
    if used is not None:
        raise ConflictError(f"plan {plan.id} was used by activation {used}; deactivate it instead")
    audited_delete(session=session, actor=actor, obj=plan, snap=_plan_snapshot)


def active_plan(*, session: Session, unit_id: int | None) -> ContingencyPlan | None:
    """The plan in force for a district unit (no permission check: internal use)."""
    stmt = select(ContingencyPlan).where(ContingencyPlan.is_active.is_(True))
    if unit_id is not None:
        stmt = stmt.where(ContingencyPlan.unit_id == unit_id)
    return session.scalar(stmt.order_by(ContingencyPlan.id.desc()).limit(1))


# --- plan import -------------------------------------------------------------------------------

_LEVEL_ALIASES: dict[str, ResponseLevel] = {
    **{lvl.value: lvl for lvl in LEVEL_ORDER},
    "4": ResponseLevel.IV,
    "3": ResponseLevel.III,
    "2": ResponseLevel.II,
    "1": ResponseLevel.I,
    "四级": ResponseLevel.IV,
    "三级": ResponseLevel.III,
    "二级": ResponseLevel.II,
    "一级": ResponseLevel.I,
    "Ⅳ": ResponseLevel.IV,
    "Ⅲ": ResponseLevel.III,
    "Ⅱ": ResponseLevel.II,
    "Ⅰ": ResponseLevel.I,
}
_YES = {"true", "yes", "y", "1", "是", "需要", "√"}
_NO = {"false", "no", "n", "0", "否", "不需要", ""}


def _parse_level(value: Any, loc: tuple[str | int, ...]) -> ResponseLevel:
    text = "" if value is None else str(value).strip()
    upper = text.upper()
    for candidate in (text, upper, text.removesuffix("响应"), upper.removeprefix("LEVEL").strip()):
        if candidate in _LEVEL_ALIASES:
            return _LEVEL_ALIASES[candidate]
    raise ValidationFailed(f"unknown response level {value!r} (IV, III, II or I)", loc=loc)


def _parse_bool(value: Any, loc: tuple[str | int, ...]) -> bool:
    if isinstance(value, bool):
        return value
    text = "" if value is None else str(value).strip().lower()
    if text in _YES:
        return True
    if text in _NO:
        return False
    raise ValidationFailed(f"not yes/no: {value!r}", loc=loc)


def _department(session: Session, value: Any, loc: tuple[str | int, ...]) -> int:
    if isinstance(value, int):
        return value
    text = str(value).strip()
    unit_id = session.scalar(
        select(Unit.id).where((Unit.code == text) | (Unit.name_zh == text) | (Unit.name_en == text))
    )
    if unit_id is None:
        raise ValidationFailed(f"department {text!r} not found (by code or name)", loc=loc)
    return unit_id


def _rows_from_xlsx(filename: str, data: bytes) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The plan fields and its action rows from the first sheet of an Excel file."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a broken file
        raise ValidationFailed(f"{filename}: not a readable .xlsx file ({exc})") from exc
    sheet = book.worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    if not rows:
        raise ValidationFailed(f"{filename}: the first sheet is empty")
    header = [str(c).strip() if c is not None else "" for c in rows[0]]
    missing = [h for h in XLSX_HEADER[:3] if h not in header]
    if missing:
        raise ValidationFailed(
            f"{filename}: missing column(s) {', '.join(missing)} "
            f"(expected {', '.join(XLSX_HEADER)})"
        )
    idx = {h: header.index(h) for h in XLSX_HEADER if h in header}
    actions: list[dict[str, Any]] = []
    for n, row in enumerate(rows[1:], start=2):
        if all(c is None or str(c).strip() == "" for c in row):
            continue
        item: dict[str, Any] = {
            "level": row[idx["级别"]],
            "department": row[idx["部门"]],
            "action": row[idx["措施"]],
            "_row": n,
        }
        if "顺序" in idx and row[idx["顺序"]] not in (None, ""):
            item["sort_order"] = row[idx["顺序"]]
        if "需确认" in idx:
            item["requires_confirmation"] = row[idx["需确认"]]
        actions.append(item)
    return {"name": sheet.title}, actions


def _rows_from_file(filename: str, data: bytes) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The plan fields and its action rows from a JSON, YAML or Excel file."""
    lower = filename.lower()
    if lower.endswith(".xlsx"):
        return _rows_from_xlsx(filename, data)
    try:
        if lower.endswith((".yaml", ".yml")):
            import yaml

            doc = yaml.safe_load(data.decode("utf-8"))
        elif lower.endswith(".json"):
            doc = jsonsafe.loads(data)
        else:
            raise ValidationFailed(f"{filename}: give a .json, .yaml or .xlsx file")
    except jsonsafe.JsonTooDeep as exc:
        raise ValidationFailed(f"{filename}: JSON {exc}", loc=(filename,)) from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValidationFailed(f"{filename}: cannot parse ({exc})") from exc
    except RecursionError as exc:  # YAML nested too deep for its composer
        raise ValidationFailed(f"{filename}: nested too deep", loc=(filename,)) from exc
    except Exception as exc:  # yaml.YAMLError and friends
        if isinstance(exc, ValidationFailed):
            raise
        raise ValidationFailed(f"{filename}: cannot parse ({exc})") from exc
    return _validate_plan_file(filename, doc)


def _validate_plan_file(filename: str, doc: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Check a decoded JSON/YAML plan against :class:`PlanFile` (a mapping with ``name`` and a
    list of action mappings of plain values); every problem is named by its place in the file."""
    if not isinstance(doc, dict) or not isinstance(doc.get("actions"), list):
        raise ValidationFailed(
            f"{filename}: expected a mapping with 'name' and a list 'actions'", loc=(filename,)
        )
    try:
        plan = PlanFile.model_validate(doc)
    except PydanticValidationError as exc:
        problems = [FieldProblem((filename, *e["loc"]), e["msg"]) for e in exc.errors()[:100]]
        first = problems[0]
        where = " → ".join(str(p) for p in first.loc)
        raise ValidationFailed(f"{where}: {first.msg}", problems=problems) from None
    meta = {"name": plan.name, "description": plan.description}
    rows = [{**a.model_dump(), "_row": i + 1} for i, a in enumerate(plan.actions)]
    return meta, rows


def import_plan(
    *,
    session: Session,
    filename: str,
    data: bytes,
    unit_id: int,
    actor: Actor,
    activate: bool = False,
) -> ContingencyPlan:
    """Create a plan from a file: JSON or YAML ``{name, description?, actions: [{level,
    department, action, sort_order?, requires_confirmation?}]}`` or an Excel workbook whose first
    sheet has the columns :data:`XLSX_HEADER` (sheet name = plan name). ``department`` is a unit
    code or name. All or nothing: one bad row refuses the file, naming the row."""
    meta, rows = _rows_from_file(filename, data)
    actions: list[PlanActionIn] = []
    for i, row in enumerate(rows):
        where: tuple[str | int, ...] = (filename, f"row {row.get('_row', i + 1)}")
        try:
            level = _parse_level(row.get("level"), (*where, "level"))
            dept = _department(session, row.get("department"), (*where, "department"))
            action = str(row.get("action") or "").strip()
            if not action:
                raise ValidationFailed("the action is empty", loc=(*where, "action"))
            order = int(row.get("sort_order") or (i + 1))
            confirm = _parse_bool(row.get("requires_confirmation", True), (*where, "confirm"))
            actions.append(
                PlanActionIn(
                    level=level,
                    department_id=dept,
                    action=action,
                    sort_order=order,
                    requires_confirmation=confirm,
                )
            )
        except (TypeError, ValueError) as exc:
            raise ValidationFailed(str(exc), loc=where) from exc
    name = str(meta.get("name") or filename).strip()[:200]
    desc = meta.get("description")
    plan_in = PlanCreate(
        unit_id=unit_id,
        name=name,
        description=str(desc) if desc else None,
        is_active=activate,
        actions=actions,
    )
    return create_plan(session=session, plan_in=plan_in, actor=actor)


# --- levels ------------------------------------------------------------------------------------


def current_level(*, session: Session, unit_id: int | None = None) -> ResponseActivation | None:
    """The running activation of a district (``None``: the district; a street office or department
    resolves to its district), or None when no response runs."""
    scope = district_scope(session=session, unit_id=unit_id)
    stmt = select(ResponseActivation).where(ResponseActivation.status == ActivationStatus.active)
    stmt = stmt.where(
        ResponseActivation.unit_id.is_(None)
        if scope is None
        else ResponseActivation.unit_id == scope
    )
    return session.scalar(stmt.order_by(ResponseActivation.id.desc()).limit(1))


def open_proposals(*, session: Session, unit_id: int | None = None) -> list[LevelChange]:
    """Rule proposals waiting for a person, strongest first."""
    scope = district_scope(session=session, unit_id=unit_id)
    stmt = select(LevelChange).where(LevelChange.status == ChangeStatus.proposed)
    stmt = stmt.where(
        LevelChange.unit_id.is_(None) if scope is None else LevelChange.unit_id == scope
    )
    items = list(session.scalars(stmt.order_by(LevelChange.id)))
    return sorted(items, key=lambda c: -(c.to_level.rank if c.to_level else 0))


def list_changes(
    *, session: Session, unit_id: int | None = None, limit: int = 100
) -> list[LevelChange]:
    """Level changes and proposals of a district, newest first."""
    scope = district_scope(session=session, unit_id=unit_id)
    stmt = select(LevelChange).where(
        LevelChange.unit_id.is_(None) if scope is None else LevelChange.unit_id == scope
    )
    return list(session.scalars(stmt.order_by(LevelChange.id.desc()).limit(limit)))


def list_activations(
    *, session: Session, unit_id: int | None = None, limit: int = 50
) -> list[ResponseActivation]:
    """Activations of a district, newest first."""
    scope = district_scope(session=session, unit_id=unit_id)
    stmt = select(ResponseActivation).where(
        ResponseActivation.unit_id.is_(None)
        if scope is None
        else ResponseActivation.unit_id == scope
    )
    return list(session.scalars(stmt.order_by(ResponseActivation.id.desc()).limit(limit)))


def _create_checklists(
    session: Session, activation: ResponseActivation, level: ResponseLevel, source_ref: str | None
) -> list[ResponseTask]:
    """Tasks of the plan's actions for ``level`` and every lower level not yet created in this
    activation (raising IV → II creates III and II; going back up creates nothing)."""
    plan = activation.plan
    if plan is None:
        return []
    done = set(activation.checklist_levels or [])
    todo = [lvl for lvl in LEVEL_ORDER if lvl.rank <= level.rank and lvl.value not in done]
    created: list[ResponseTask] = []
    for lvl in todo:
        for action in plan.actions:
            if action.level is not lvl:
                continue
            key = f"act:{activation.id}:action:{action.id}"
            if session.scalar(select(ResponseTask.id).where(ResponseTask.dedupe_key == key)):
                continue
            task = ResponseTask(
                dedupe_key=key,
                activation_id=activation.id,
                level=lvl,
                plan_action_id=action.id,
                unit_id=action.department_id,
                sort_order=action.sort_order,
                action=action.action,
                details={},
                requires_confirmation=action.requires_confirmation,
                status=TaskStatus.pending,
                source_ref=source_ref,
            )
            session.add(task)
            created.append(task)
    # A new list, so the JSON column sees the change.
    activation.checklist_levels = sorted(
        done | {lvl.value for lvl in todo}, key=lambda v: ResponseLevel(v).rank
    )
    session.flush()
    return created


def _supersede_proposals(
    session: Session, scope: int | None, level: ResponseLevel | None, at: datetime
) -> None:
    """Proposals overtaken by a level now in force (all of them on a stand-down)."""
    stmt = select(LevelChange).where(LevelChange.status == ChangeStatus.proposed)
    stmt = stmt.where(
        LevelChange.unit_id.is_(None) if scope is None else LevelChange.unit_id == scope
    )
    for proposal in session.scalars(stmt):
        if level is None or (
            proposal.to_level is not None and proposal.to_level.rank <= level.rank
        ):
            proposal.status = ChangeStatus.superseded
            proposal.decided_at = at
            proposal.decided_by = proposal.decided_by or "superseded"


def _apply_level(
    session: Session,
    *,
    scope: int | None,
    level: ResponseLevel,
    actor_name: str,
    at: datetime,
    rule: str | None,
    reason: str | None,
    source_ref: str | None,
    change: LevelChange | None = None,
) -> LevelChange:
    """Start, raise or lower the response of ``scope`` to ``level``; creates the checklists."""
    current = current_level(session=session, unit_id=scope)
    if current is None:
        plan = active_plan(session=session, unit_id=scope)
        activation = ResponseActivation(
            unit_id=scope,
            plan=plan,
            level=level,
            status=ActivationStatus.active,
            started_at=at,
            started_by=actor_name,
            rule=rule,
            reason=reason,
            source_ref=source_ref,
            checklist_levels=[],
        )
        session.add(activation)
        # A concurrent start hits the one-running-response index: a clear conflict, not a 500.
        flush_or_conflict(session, "a new response of the district")
        change_type, from_level = ChangeType.start, None
    else:
        if current.level is level:
            raise ConflictError(f"the response is already at level {level.value}")
        activation = current
        from_level = current.level
        change_type = ChangeType.raise_ if level.rank > current.level.rank else ChangeType.lower_
        activation.level = level
    if change is None:
        change = LevelChange(unit_id=scope, actor=actor_name, rule=rule, source_ref=source_ref)
        session.add(change)
    change.activation_id = activation.id
    change.change_type = change_type
    change.from_level = from_level
    change.to_level = level
    change.status = ChangeStatus.applied
    change.at = at
    change.reason = reason
    session.flush()
    _supersede_proposals(session, scope, level, at)
    if change_type is not ChangeType.lower_:
        _create_checklists(session, activation, level, source_ref)
    session.flush()
    log.info(
        "response %s → level %s (%s by %s)",
        change_type.value,
        level.value,
        rule or "decision",
        actor_name,
    )
    return change


def apply_warning_signal(
    *,
    session: Session,
    warning_kind: str,
    colour: str | None,
    unit_id: int | None,
    source_ref: str,
    at: datetime,
    settings: Settings,
) -> LevelChange | None:
    """Apply the configured rule to a warning signal (``settings.response_level_rules``, default
    yellow → IV, orange → III, red → II; level I only by decision), in ``propose`` or ``start``
    mode (``settings.response_rule_mode``).

    Returns the applied change or the new proposal, or None when the rule asks for nothing new:
    not a rainstorm signal, a colour without a rule, a lifted signal (rules never lower a level),
    a level already at or above the rule's, or a proposal already waiting at or above it.
    """
    at = _aware(at, "at")
    if warning_kind != "rainstorm" or colour is None:
        return None
    target_name = settings.response_level_rules.get(colour)
    if target_name is None:
        return None
    target = ResponseLevel(target_name)
    if target is ResponseLevel.I:  # also refused by Settings; a rule never starts level I
        return None
    scope = district_scope(session=session, unit_id=unit_id)
    current = current_level(session=session, unit_id=scope)
    if current is not None and current.level.rank >= target.rank:
        return None
    rule = f"rainstorm:{colour}→{target.value}"
    if settings.response_rule_mode == "start":
        return _apply_level(
            session,
            scope=scope,
            level=target,
            actor_name=RULE_ACTOR.username,
            at=at,
            rule=rule,
            reason=None,
            source_ref=source_ref,
        )
    waiting = open_proposals(session=session, unit_id=scope)
    if any(p.to_level is not None and p.to_level.rank >= target.rank for p in waiting):
        return None
    for proposal in waiting:  # a weaker proposal is overtaken by this one
        proposal.status = ChangeStatus.superseded
        proposal.decided_at = at
        proposal.decided_by = "superseded"
    proposal = LevelChange(
        unit_id=scope,
        activation_id=current.id if current else None,
        change_type=ChangeType.start if current is None else ChangeType.raise_,
        from_level=current.level if current else None,
        to_level=target,
        status=ChangeStatus.proposed,
        at=at,
        actor=RULE_ACTOR.username,
        rule=rule,
        source_ref=source_ref,
    )
    session.add(proposal)
    session.flush()
    log.info("response proposal: level %s (%s)", target.value, rule)
    return proposal


def decide_level(
    *,
    session: Session,
    level: ResponseLevel,
    reason: str,
    actor: Actor,
    unit_id: int | None = None,
    at: datetime | None = None,
) -> LevelChange:
    """Start, raise or lower the response to ``level`` by decision (``district`` role)."""
    require_role(actor, DECIDERS, "decide the response level")
    if not reason.strip():
        raise ValidationFailed("give the reason of the decision", loc=("body", "reason"))
    scope = district_scope(session=session, unit_id=unit_id)
    before_act = current_level(session=session, unit_id=scope)
    before = snapshot(before_act) if before_act is not None else None
    change = _apply_level(
        session,
        scope=scope,
        level=level,
        actor_name=_name(actor),
        at=_aware(at, "at") if at else utcnow(),
        rule=None,
        reason=reason.strip(),
        source_ref=None,
    )
    activation = change.activation
    assert activation is not None
    if before is None:
        record_create(session=session, actor=actor, obj=activation)
    else:
        record_update(session=session, actor=actor, obj=activation, before=before)
    return change


def stand_down(
    *,
    session: Session,
    reason: str,
    actor: Actor,
    unit_id: int | None = None,
    at: datetime | None = None,
) -> LevelChange:
    """End the running response by decision (``district`` role); open proposals lapse."""
    require_role(actor, DECIDERS, "stand the response down")
    if not reason.strip():
        raise ValidationFailed("give the reason of the stand-down", loc=("body", "reason"))
    scope = district_scope(session=session, unit_id=unit_id)
    activation = current_level(session=session, unit_id=scope)
    if activation is None:
        raise ConflictError("no response is running")
    moment = _aware(at, "at") if at else utcnow()
    before = snapshot(activation)
    change = LevelChange(
        unit_id=scope,
        activation_id=activation.id,
        change_type=ChangeType.stand_down,
        from_level=activation.level,
        to_level=None,
        status=ChangeStatus.applied,
        at=moment,
        actor=_name(actor),
        reason=reason.strip(),
    )
    session.add(change)
    activation.status = ActivationStatus.ended
    activation.ended_at = moment
    activation.ended_by = _name(actor)
    activation.end_reason = reason.strip()
    _supersede_proposals(session, scope, None, moment)
    session.flush()
    record_update(session=session, actor=actor, obj=activation, before=before)
    return change


def decide_proposal(
    *,
    session: Session,
    change_id: int,
    confirm: bool,
    actor: Actor,
    reason: str | None = None,
) -> LevelChange:
    """Confirm (the level starts or rises now) or reject a rule's proposal (``district`` role)."""
    require_role(actor, DECIDERS, "decide on response proposals")
    proposal = session.get(LevelChange, change_id)
    if proposal is None or proposal.status is not ChangeStatus.proposed:
        raise NotFoundError(f"proposal {change_id} not found or already decided")
    assert proposal.to_level is not None
    now = utcnow()
    before = snapshot(proposal)
    if not confirm:
        proposal.status = ChangeStatus.rejected
        proposal.decided_by = _name(actor)
        proposal.decided_at = now
        proposal.reason = reason or proposal.reason
        session.flush()
        record_update(session=session, actor=actor, obj=proposal, before=before)
        return proposal
    current = current_level(session=session, unit_id=proposal.unit_id)
    if current is not None and current.level.rank >= proposal.to_level.rank:
        raise ConflictError(
            f"the response is already at level {current.level.value}; reject the proposal"
        )
    proposal.decided_by = _name(actor)
    proposal.decided_at = now
    change = _apply_level(
        session,
        scope=proposal.unit_id,
        level=proposal.to_level,
        actor_name=_name(actor),
        at=now,
        rule=proposal.rule,
        reason=reason or f"confirmed proposal of {proposal.rule}",
        source_ref=proposal.source_ref,
        change=proposal,
    )
    record_update(session=session, actor=actor, obj=change, before=before)
    return change


# --- point plans (一点一策) ----------------------------------------------------------------------


def _number(value: Any) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def trigger_met(trigger: Mapping[str, Any], *, colour: str | None, depth_m: float | None) -> bool:
    """True when a point plan's trigger is met by a warning colour or a ponding depth, m.

    A trigger names a colour (met at that colour or stronger) and/or a ponding depth (stored as
    ``ponding_cm`` by the hazard ledger, or ``ponding_m``; met at that depth or deeper). Rain
    triggers are not judged here (they need a gauge series; the rainstorm rules cover them).

    >>> trigger_met({"colour": "yellow"}, colour="orange", depth_m=None)
    True
    >>> trigger_met({"ponding_cm": 27.0}, colour=None, depth_m=0.2)
    False
    """
    wanted = trigger.get("colour")
    if wanted in COLOURS and colour in COLOURS and rank_of_colour(colour) >= rank_of_colour(wanted):
        return True
    limit_m = _number(trigger.get("ponding_m"))
    if limit_m is None and (cm := _number(trigger.get("ponding_cm"))) is not None:
        limit_m = cm / 100.0
    return limit_m is not None and depth_m is not None and depth_m >= limit_m


def apply_point_trigger(
    *,
    session: Session,
    hazard_point_id: int,
    colour: str,
    depth_m: float | None,
    source_ref: str,
    at: datetime,
) -> list[ResponseTask]:
    """Turn the approved point plan of a hazard point into tasks for its people when one of its
    triggers is met by the warning ``colour`` or the ponding depth ``depth_m`` (m).

    Once per activation: a second call while the same response runs creates nothing. Without a
    running response, a measure gets a new task only when its previous one is finished (done or
    not applicable). Returns the tasks created (empty when none).
    """
    at = _aware(at, "at")
    point = session.get(HazardPoint, hazard_point_id)
    if point is None:
        raise NotFoundError(f"hazard point {hazard_point_id} not found")
    plan = session.scalar(
        select(PointPlan)
        .where(PointPlan.point_id == point.id, PointPlan.status == PlanStatus.approved)
        .order_by(PointPlan.version.desc())
        .limit(1)
    )
    if plan is None:
        return []
    triggers = plan.triggers if isinstance(plan.triggers, list) else []
    if not any(
        isinstance(t, dict) and trigger_met(t, colour=colour, depth_m=depth_m) for t in triggers
    ):
        return []
    activation = current_level(session=session, unit_id=point.unit_id)
    created: list[ResponseTask] = []
    measures = plan.measures if isinstance(plan.measures, list) else []
    for i, measure in enumerate(measures):
        if not isinstance(measure, dict) or not str(measure.get("action") or "").strip():
            log.warning("point plan %s: measure %d has no action; skipped", plan.id, i)
            continue
        if activation is not None:
            key: str | None = f"act:{activation.id}:point-plan:{plan.id}:{i}"
            if session.scalar(select(ResponseTask.id).where(ResponseTask.dedupe_key == key)):
                continue
        else:
            key = None
            open_task = session.scalar(
                select(ResponseTask.id).where(
                    ResponseTask.activation_id.is_(None),
                    ResponseTask.point_plan_id == plan.id,
                    ResponseTask.measure_index == i,
                    ResponseTask.status.in_([TaskStatus.pending, TaskStatus.confirmed]),
                )
            )
            if open_task is not None:
                continue
        person_id = measure.get("responsible_person_id") or point.responsible_person_id
        person = session.get(Person, person_id) if isinstance(person_id, int) else None
        task = ResponseTask(
            dedupe_key=key,
            activation_id=activation.id if activation else None,
            level=activation.level if activation else None,
            hazard_point_id=point.id,
            point_plan_id=plan.id,
            measure_index=i,
            # The unit of the person who acts (their unit's users confirm it), else the point's.
            unit_id=person.unit_id if person is not None else point.unit_id,
            person_id=person.id if person is not None else None,
            sort_order=i + 1,
            action=f"{point.name}: {str(measure['action']).strip()}",
            details={k: measure[k] for k in ("team", "equipment", "supplies") if measure.get(k)}
            | {"point_code": point.code, "colour": colour, "depth_m": depth_m},
            requires_confirmation=True,
            status=TaskStatus.pending,
            source_ref=source_ref,
        )
        session.add(task)
        created.append(task)
    session.flush()
    if created:
        log.info(
            "point plan %s of %s: %d task(s) from %s", plan.id, point.code, len(created), source_ref
        )
    return created


# --- tasks -------------------------------------------------------------------------------------


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


__all__ = [
    "BoardRow",
    "active_plan",
    "apply_point_trigger",
    "apply_warning_signal",
    "board",
    "create_plan",
    "current_level",
    "decide_level",
    "decide_proposal",
    "delete_plan",
    "district_scope",
    "get_plan",
    "get_task",
    "import_plan",
    "list_activations",
    "list_changes",
    "list_plans",
    "list_tasks",
    "open_proposals",
    "stand_down",
    "task_counts",
    "trigger_met",
    "update_plan",
    "update_task",
]
