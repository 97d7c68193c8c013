"""CAP 1.2 (OASIS Common Alerting Protocol) alerts, built with lxml and checked against the schema.

Every warning change is one alert: ``Alert`` (issue), ``Update`` (upgrade, downgrade, update) or
``Cancel`` (lift), each ``Update``/``Cancel`` naming the previous alert in ``<references>``. Times
carry the Asia/Shanghai offset (``+08:00``, no fractions: the schema's pattern). One ``<info>`` per
language. The area is a closed polygon or a circle (``lat,lon radius_km``), plus ``areaDesc``.

>>> from datetime import UTC, datetime
>>> cap_time(datetime(2021, 7, 20, 8, 0, 30, 123, tzinfo=UTC))
'2021-07-20T16:00:30+08:00'
>>> xml = build_alert(Alert(
...     identifier="x.1", sender="a@b.example", sent=datetime(2021, 7, 20, 8, tzinfo=UTC),
...     msg_type="Alert", references=(),
...     infos=(Info(language="en", category="Met", event="Rainstorm", urgency="Immediate",
...                 severity="Moderate", certainty="Observed", headline="Yellow rainstorm",
...                 description="50 mm in 6 h"),),
...     area=Area(desc="the district", circle=(34.8, 113.55, 3.0))))
>>> validate(xml)
>>> b"<circle>34.800000,113.550000 3.000</circle>" in xml
True
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Final, cast

from lxml import etree

from fangxun.times import local_zone

CAP_NS: Final = "urn:oasis:names:tc:emergency:cap:1.2"
SCHEMA_PATH: Final = Path(__file__).with_name("CAP-v1.2.xsd")
MSG_TYPES: Final = frozenset({"Alert", "Update", "Cancel"})


class CapInvalid(ValueError):
    """An alert that does not validate against the CAP 1.2 schema (a bug: it is never stored)."""


def cap_time(value: datetime) -> str:
    """``value`` (aware) as CAP wants it: Asia/Shanghai with its numeric offset, whole seconds."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value.isoformat()} refused: give it a time zone")
    return value.astimezone(local_zone()).replace(microsecond=0).isoformat()


@dataclass(frozen=True)
class Area:
    """Where: ``desc`` (areaDesc), and a closed ``polygon`` of (lat, lon) pairs or a ``circle``
    (lat, lon, radius in km), or neither."""

    desc: str
    polygon: Sequence[tuple[float, float]] | None = None
    circle: tuple[float, float, float] | None = None


@dataclass(frozen=True)
class Info:
    """One ``<info>`` block (one language)."""

    language: str
    category: str
    event: str
    urgency: str
    severity: str
    certainty: str
    headline: str
    description: str
    instruction: str | None = None
    sender_name: str | None = None
    response_type: str | None = None
    effective: datetime | None = None
    expires: datetime | None = None
    event_code: tuple[str, str] | None = None
    parameters: Sequence[tuple[str, str]] = field(default_factory=tuple)
    web: str | None = None


@dataclass(frozen=True)
class Alert:
    """One alert; ``references`` are (sender, identifier, sent) of earlier alerts."""

    identifier: str
    sender: str
    sent: datetime
    msg_type: str
    references: Sequence[tuple[str, str, datetime]]
    infos: Sequence[Info]
    area: Area | None = None
    status: str = "Actual"
    scope: str = "Public"
    #: Who may see a ``Restricted`` alert (CAP requires it with that scope).
    restriction: str | None = None
    note: str | None = None


def _sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    el = etree.SubElement(parent, f"{{{CAP_NS}}}{tag}")
    if text is not None:
        el.text = text
    return el


def _polygon_text(points: Sequence[tuple[float, float]]) -> str:
    pts = list(points)
    if pts[0] != pts[-1]:
        pts.append(pts[0])  # CAP polygons are closed
    return " ".join(f"{lat:.6f},{lon:.6f}" for lat, lon in pts)


def _area(info: etree._Element, where: Area) -> None:
    """The ``<area>`` of one ``<info>``: its description, polygon and circle."""
    area = _sub(info, "area")
    _sub(area, "areaDesc", where.desc)
    if where.polygon:
        _sub(area, "polygon", _polygon_text(where.polygon))
    if where.circle:
        lat, lon, r = where.circle
        _sub(area, "circle", f"{lat:.6f},{lon:.6f} {r:.3f}")


def build_alert(alert: Alert) -> bytes:
    """The alert as UTF-8 XML bytes (with declaration). Raises ``ValueError`` on a bad msgType."""
    if alert.msg_type not in MSG_TYPES:
        raise ValueError(f"msgType must be one of {sorted(MSG_TYPES)}, got {alert.msg_type!r}")
    root = etree.Element(f"{{{CAP_NS}}}alert", nsmap={None: CAP_NS})  # type: ignore[dict-item]
    _sub(root, "identifier", alert.identifier)
    _sub(root, "sender", alert.sender)
    _sub(root, "sent", cap_time(alert.sent))
    _sub(root, "status", alert.status)
    _sub(root, "msgType", alert.msg_type)
    _sub(root, "scope", alert.scope)
    if alert.restriction:
        _sub(root, "restriction", alert.restriction)
    if alert.note:
        _sub(root, "note", alert.note)
    if alert.references:
        _sub(root, "references", " ".join(f"{s},{i},{cap_time(t)}" for s, i, t in alert.references))
    for info in alert.infos:
        el = _sub(root, "info")
        _sub(el, "language", info.language)
        _sub(el, "category", info.category)
        _sub(el, "event", info.event)
        if info.response_type:
            _sub(el, "responseType", info.response_type)
        _sub(el, "urgency", info.urgency)
        _sub(el, "severity", info.severity)
        _sub(el, "certainty", info.certainty)
        if info.event_code:
            code = _sub(el, "eventCode")
            _sub(code, "valueName", info.event_code[0])
            _sub(code, "value", info.event_code[1])
        if info.effective:
            _sub(el, "effective", cap_time(info.effective))
        if info.expires:
            _sub(el, "expires", cap_time(info.expires))
        if info.sender_name:
            _sub(el, "senderName", info.sender_name)
        _sub(el, "headline", info.headline)
        _sub(el, "description", info.description)
        if info.instruction:
            _sub(el, "instruction", info.instruction)
        if info.web:
            _sub(el, "web", info.web)
        for name, value in info.parameters:
            p = _sub(el, "parameter")
            _sub(p, "valueName", name)
            _sub(p, "value", value)
        if alert.area is not None:
            _area(el, alert.area)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


@lru_cache(maxsize=1)
def schema() -> etree.XMLSchema:
    """The OASIS CAP 1.2 schema shipped with this package (parsed once)."""
    return etree.XMLSchema(etree.parse(str(SCHEMA_PATH)))


def validate(xml: bytes) -> None:
    """Raise :class:`CapInvalid`, naming the first problems, unless ``xml`` is valid CAP 1.2."""
    try:
        doc = etree.fromstring(xml)
    except etree.XMLSyntaxError as exc:
        raise CapInvalid(f"not well-formed XML: {exc}") from exc
    s = schema()
    if not s.validate(doc):
        problems = "; ".join(
            f"line {e.line}: {e.message}" for e in list(cast(Iterable[Any], s.error_log))[:3]
        )
        raise CapInvalid(f"not a valid CAP 1.2 alert: {problems}")
