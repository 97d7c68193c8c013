"""Shared by the report services: who detects events and confirms causes, the cause codes' Chinese
names and measures, local time for the reports."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from fangxun.org.models import Role
from fangxun.times import local as local_time

DETECT_ROLES: Final = frozenset({Role.admin, Role.district, Role.duty})
CONFIRM_ROLES: Final = frozenset({Role.admin, Role.district, Role.unit})
COLOURS: Final = ("blue", "yellow", "orange", "red")

#: Chinese names of the cause codes (reports are in Chinese); a configured code not listed here
#: is shown as its code.
CAUSE_LABELS_ZH: Final[dict[str, str]] = {
    "drainage_capacity": "排水能力不足（超标降雨）",
    "blocked_inlets": "雨水口/管道堵塞",
    "pump_failure": "泵站故障或停电",
    "river_backwater": "河道水位顶托",
    "construction_works": "施工影响",
    "terrain_low_point": "地势低洼",
    "other": "其他",
}
#: The measure a review proposes for a cause (the owner edits it in the ledger).
CAUSE_MEASURES_ZH: Final[dict[str, str]] = {
    "drainage_capacity": "评估排水管网提标改造，汛期增设移动泵车",
    "blocked_inlets": "清掏雨水口与管道，落实汛前汛中巡查清淤",
    "pump_failure": "检修泵站设备，落实双电源或备用发电机",
    "river_backwater": "加设排水口拍门/闸门，制定河道高水位时的强排方案",
    "construction_works": "督促施工单位恢复排水设施，清理占压的雨水口",
    "terrain_low_point": "完善低洼处强排设施与警示封控措施",
    "other": "现场核实原因后制定整改措施",
}


def cause_label(code: str) -> str:
    """Chinese name of a cause code (the code itself when unknown)."""
    return CAUSE_LABELS_ZH.get(code, code)


def local(moment: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A UTC time shown in the district's zone ("—" for None)."""
    return local_time(moment, fmt, empty="—")
