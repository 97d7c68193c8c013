"""Contingency plans from a file: JSON, YAML or an Excel workbook (:data:`XLSX_HEADER`)."""

from __future__ import annotations

import io
from typing import Any

from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from fangxun import jsonsafe
from fangxun.errors import FieldProblem, ValidationFailed
from fangxun.org.models import Unit
from fangxun.org.permissions import Actor
from fangxun.response.models import LEVEL_ORDER, ContingencyPlan, ResponseLevel
from fangxun.response.schemas import PlanActionIn, PlanCreate, PlanFile
from fangxun.response.service.common import XLSX_HEADER
from fangxun.response.service.plans import create_plan

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
