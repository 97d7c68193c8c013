"""Impact texts: what a ponding warning means, where and when, in words a resident and an officer
understand ("雪松路下穿 预计 40 分钟后积水约 40 厘米，车辆禁止通行") — not millimetres and
datastream ids.

The text is built from the point's name and kind and the rule's evidence: the time the forecast
reaches the warned colour's threshold (minutes from the change, and the local clock time, so the
text stays true when read later), the depth then and at the peak in cm, and a measure by point
kind and colour (:data:`MEASURES`, an office convention to adapt). Depths are rounded to 5 cm:
a forecast is not more precise than that, and round numbers read as estimates.

>>> from datetime import UTC, datetime
>>> at = datetime(2026, 7, 20, 8, 0, tzinfo=UTC)
>>> ev = {"rule": "predicted_ponding", "point_kind": "underpass", "peak_depth_m": 0.52,
...       "thresholds_m": {"orange": 0.4},
...       "colours": {"orange": {"at": "2026-07-20T08:40:00+00:00"}}}
>>> impact("雪松路下穿", "orange", ev, at=at, zone=ZoneInfo("Asia/Shanghai"))[0]
'雪松路下穿 预计 40 分钟后（16:40）积水约 40 厘米，最深约 50 厘米，车辆禁止通行'
>>> impact("雪松路下穿", "orange", {"rule": "ponding", "depth_m": 0.43,
...        "point_kind": "underpass"}, at=at)[1]
'雪松路下穿: ponding about 45 cm now; no vehicles may pass'
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

#: Measures by point kind and colour (Chinese, English); blue … red. A CONVENTION of this
#: project, to be set per office with its plans (预案); ``other`` for kinds not listed.
MEASURES: Final[dict[str, dict[str, tuple[str, str]]]] = {
    "underpass": {
        "blue": ("车辆减速慢行", "vehicles slow down"),
        "yellow": ("小型车辆绕行", "small vehicles take another way"),
        "orange": ("车辆禁止通行", "no vehicles may pass"),
        "red": ("封闭下穿通道，人车禁行", "underpass closed to people and vehicles"),
    },
    "low_lying_road": {
        "blue": ("车辆减速慢行", "vehicles slow down"),
        "yellow": ("小型车辆绕行", "small vehicles take another way"),
        "orange": ("车辆禁止通行", "no vehicles may pass"),
        "red": ("封闭路段，人车禁行", "road closed to people and vehicles"),
    },
    "bridge_culvert": {
        "blue": ("车辆减速慢行", "vehicles slow down"),
        "yellow": ("小型车辆绕行", "small vehicles take another way"),
        "orange": ("车辆禁止通行", "no vehicles may pass"),
        "red": ("封闭桥涵，人车禁行", "culvert closed to people and vehicles"),
    },
    "residential_compound": {
        "blue": ("检查挡水板和排水口", "check flood boards and drains"),
        "yellow": ("地下车库车辆转移", "move cars out of underground garages"),
        "orange": (
            "封闭地下空间，低层住户转移财物",
            "close basements; ground floors move goods up",
        ),
        "red": ("组织低层住户转移", "evacuate ground-floor residents"),
    },
    "construction_site": {
        "blue": ("检查基坑排水", "check pit drainage"),
        "yellow": ("停止基坑和地下作业", "stop pit and underground work"),
        "orange": ("撤离基坑和地下作业人员", "evacuate pits and underground works"),
        "red": ("撤离全部作业人员", "evacuate the whole site"),
    },
    "river_embankment": {
        "blue": ("加强巡堤", "patrol the embankment more often"),
        "yellow": ("巡堤查险，备好抢险物资", "patrol and ready flood-fighting supplies"),
        "orange": ("抢险队伍到位", "flood-fighting team on site"),
        "red": ("转移堤后危险区人员", "evacuate the area behind the embankment"),
    },
    "pump_station": {
        "blue": ("确认泵组和电源正常", "check pumps and power"),
        "yellow": ("泵组预抽，备用电源待命", "pre-pump; backup power on standby"),
        "orange": ("全部泵组运行，人员值守", "all pumps running, station manned"),
        "red": ("启动应急排水，防止泵房进水", "emergency pumping; keep water out of the station"),
    },
    "channel": {
        "blue": ("清理沟渠杂物", "clear debris from the channel"),
        "yellow": ("禁止靠近沟渠", "keep away from the channel"),
        "orange": ("沿线人员撤离", "people along the channel move away"),
        "red": ("沿线区域封控", "area along the channel closed"),
    },
    "other": {
        "blue": ("注意防范", "take care"),
        "yellow": ("避免进入积水区", "keep out of the water"),
        "orange": ("封闭积水区域", "flooded area closed"),
        "red": ("人员撤离积水区域", "evacuate the flooded area"),
    },
}


def _cm(depth_m: float) -> int:
    """Depth, m, as cm rounded to 5 (never 0 for a wet point)."""
    return max(5, int(5 * round(depth_m * 100.0 / 5.0)))


def measure(point_kind: str | None, colour: str) -> tuple[str, str]:
    """The measure (Chinese, English) for ``colour`` at a point of ``point_kind``."""
    table = MEASURES.get(point_kind or "other", MEASURES["other"])
    return table.get(colour, MEASURES["other"][colour])


def _when(iso: str | None) -> datetime | None:
    if not iso:
        return None
    try:
        return datetime.fromisoformat(iso)
    except ValueError:
        return None


def impact(
    place: str | None,
    colour: str,
    evidence: dict[str, Any] | None,
    *,
    at: datetime,
    zone: ZoneInfo | None = None,
) -> tuple[str, str]:
    """The impact text (Chinese, English) of a ponding or predicted-ponding warning of
    ``colour`` at ``place``, as of ``at`` (the change's time); ``("", "")`` for other rules."""
    from fangxun.times import to_local

    ev = evidence or {}
    rule = ev.get("rule")
    name = place or "该点"
    name_en = place or "this point"
    mz, me = measure(ev.get("point_kind"), colour)
    if rule == "ponding" and ev.get("depth_m") is not None:
        cm = _cm(float(ev["depth_m"]))
        return (f"{name} 现积水约 {cm} 厘米，{mz}", f"{name_en}: ponding about {cm} cm now; {me}")
    if rule != "predicted_ponding":
        return "", ""
    c = (ev.get("colours") or {}).get(colour) or {}
    when = _when(c.get("at"))
    thr = (ev.get("thresholds_m") or {}).get(colour)
    peak = ev.get("peak_depth_m")
    parts_zh = [name]
    parts_en = [f"{name_en}:"]
    if when is not None and thr is not None:
        minutes = max(0, round((when - at).total_seconds() / 60.0))
        clock = to_local(when, zone).strftime("%H:%M")
        soon_zh = "即将" if minutes == 0 else f"预计 {minutes} 分钟后（{clock}）"
        soon_en = "about now" if minutes == 0 else f"in about {minutes} min ({clock})"
        parts_zh.append(f" {soon_zh}积水约 {_cm(float(thr))} 厘米")
        parts_en.append(f" ponding about {_cm(float(thr))} cm {soon_en}")
        if peak is not None and _cm(float(peak)) > _cm(float(thr)):
            parts_zh.append(f"，最深约 {_cm(float(peak))} 厘米")
            parts_en.append(f", up to about {_cm(float(peak))} cm")
    elif peak is not None:
        parts_zh.append(f" 预计积水约 {_cm(float(peak))} 厘米")
        parts_en.append(f" ponding up to about {_cm(float(peak))} cm expected")
    return "".join(parts_zh) + f"，{mz}", "".join(parts_en) + f"; {me}"
