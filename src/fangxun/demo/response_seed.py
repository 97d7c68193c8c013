"""The demo district's contingency plan (预案): actions at levels IV → I for the departments and
every street office, in force, so a rule or a decision creates a realistic checklist.

The actions follow the shape of district flood-control plans (预排降低水位, 排水车辆待命,
下穿通道封闭, 转移群众 …); the wording is the demo's own and fictitious in its details.
Deterministic and idempotent: a plan of the same name in the district is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from fangxun.demo.actor import DEMO_ACTOR
from fangxun.org.models import Unit, UnitKind
from fangxun.response import service
from fangxun.response.models import ContingencyPlan, ResponseLevel
from fangxun.response.schemas import PlanActionIn, PlanCreate

#: Name of the demo plan.
PLAN_NAME: Final = "高新区城市内涝防汛应急预案（演示）"
#: The district's unit code (as in :mod:`fangxun.demo.org_seed`).
DISTRICT_CODE: Final = "GXQ"
#: Marker for "every street office" in :data:`ACTIONS`.
OFFICES: Final = "*OFFICES*"

_IV, _III, _II, _I = ResponseLevel.IV, ResponseLevel.III, ResponseLevel.II, ResponseLevel.I

#: (level, department code or OFFICES, action, confirmation required).
ACTIONS: Final[tuple[tuple[ResponseLevel, str, str, bool], ...]] = (
    (_IV, "SWJ", "泵站、闸坝预排降低水位，检查排水设施运行", True),
    (_IV, "CGJ", "清掏雨水篦子，调度排水车辆到低洼易涝点待命", True),
    (_IV, "YJGLJ", "防汛抢险队伍和物资进入待命状态", True),
    (_IV, "GAJJ", "加强易积水路段交通巡逻", False),
    (_IV, OFFICES, "巡查辖区低洼积水点和在建工地，一点一策责任人到岗", True),
    (_III, "SWJ", "泵站全部开机运行，河道水位每小时报送", True),
    (_III, "CGJ", "排水车辆、移动泵车到下穿通道和低洼路段现场抽排", True),
    (_III, "GAJJ", "下穿通道积水超过 27 cm 时封闭交通，设置警示和绕行", True),
    (_III, "HBAJJ", "在建工地停止露天作业，深基坑、塔吊专人值守", True),
    (_III, OFFICES, "转移低洼地带和地下空间人员", True),
    (_II, "YJGLJ", "抢险队伍前置到重点区域，与消防救援联动", True),
    (_II, "NYNCJ", "巡查河道堤防和塘坝，发现险情立即上报", True),
    (_II, "CGJ", "停止户外临时设施作业，加固或拆除危险设施", True),
    (_II, OFFICES, "关闭地下商场、地下车库出入口，组织人员撤离", True),
    (_I, "YJGLJ", "24 小时联合值守，请求上级和驻地部队支援", True),
    (_I, "GAJJ", "对全部下穿通道和积水路段实施交通管制", True),
    (_I, "HBAJJ", "全区在建工地全部停工，人员撤离", True),
    (_I, OFFICES, "全员上岗，按预案组织群众转移安置", True),
)


@dataclass
class ResponseSeedSummary:
    """What :func:`seed_response` did."""

    plans_created: int = 0
    actions_created: int = 0


def seed_response(*, session: Session) -> ResponseSeedSummary:
    """Create the demo plan in force for the district (nothing when it exists or the district's
    units are missing). Never commits."""
    summary = ResponseSeedSummary()
    units = {u.code: u for u in session.scalars(select(Unit))}
    district = units.get(DISTRICT_CODE)
    if district is None:
        return summary
    exists = session.scalar(
        select(ContingencyPlan.id).where(
            ContingencyPlan.unit_id == district.id, ContingencyPlan.name == PLAN_NAME
        )
    )
    if exists is not None:
        return summary
    offices = sorted(
        (
            u
            for u in units.values()
            if u.kind is UnitKind.street_office and u.parent_id == district.id
        ),
        key=lambda u: u.code,
    )
    actions: list[PlanActionIn] = []
    for order, (level, who, text, confirm) in enumerate(ACTIONS, start=1):
        targets = offices if who == OFFICES else [units[who]] if who in units else []
        actions.extend(
            PlanActionIn(
                level=level,
                department_id=unit.id,
                action=text,
                sort_order=order,
                requires_confirmation=confirm,
            )
            for unit in targets
        )
    plan = service.create_plan(
        session=session,
        plan_in=PlanCreate(
            unit_id=district.id,
            name=PLAN_NAME,
            description="演示预案：黄色暴雨预警启动Ⅳ级，橙色Ⅲ级，红色Ⅱ级；Ⅰ级由指挥部决定。",
            is_active=True,
            actions=actions,
        ),
        actor=DEMO_ACTOR,
    )
    summary.plans_created = 1
    summary.actions_created = len(plan.actions)
    return summary
