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

from fangxun.response.models import ResponseLevel as ResponseLevel  # the doctest above
from fangxun.response.service.common import (
    COLOURS,
    DECIDERS,
    RULE_ACTOR,
    TASK_MOVES,
    TASK_WRITERS,
    XLSX_HEADER,
    district_scope,
    rank_of_colour,
)
from fangxun.response.service.levels import (
    OFFICIAL_REF,
    apply_official_signal,
    apply_warning_signal,
    current_level,
    decide_level,
    decide_proposal,
    list_activations,
    list_changes,
    open_proposals,
    stand_down,
)
from fangxun.response.service.plan_import import import_plan
from fangxun.response.service.plans import (
    active_plan,
    create_plan,
    delete_plan,
    get_plan,
    list_plans,
    update_plan,
)
from fangxun.response.service.point_triggers import apply_point_trigger, trigger_met
from fangxun.response.service.tasks import (
    BoardRow,
    board,
    get_task,
    list_tasks,
    task_counts,
    update_task,
)

__all__ = [
    "COLOURS",
    "DECIDERS",
    "OFFICIAL_REF",
    "RULE_ACTOR",
    "TASK_MOVES",
    "TASK_WRITERS",
    "XLSX_HEADER",
    "BoardRow",
    "active_plan",
    "apply_official_signal",
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
    "rank_of_colour",
    "stand_down",
    "task_counts",
    "trigger_met",
    "update_plan",
    "update_task",
]
