"""SL 651 reports to observations: station addresses and element identifiers mapped to
datastreams, through the same :class:`~fangxun.monitoring.ingest.parser.ParseResult` and idempotent
writer as MQTT and HTTP.

An element maps to a datastream by the station's configuration
(:class:`~fangxun.monitoring.models.Sl651Station.elements`), else by these defaults, looked up
among the station's own datastreams:

* ``PN05`` and ``DRP`` (5-minute rain) → the ``rainfall`` datastream with ``interval_s`` 300;
* ``P1`` (1-hour rain) → the ``rainfall`` datastream with ``interval_s`` 3600;
* ``PT`` (accumulated rain) → the ``rainfall_accumulated`` datastream;
* ``Z`` and ``DRZ1`` (instantaneous water level) → the ``river_level`` datastream.

An element without a mapping, a time far off (beyond the QC future tolerance or max age), or a
station address nobody registered is a dead letter with the frame in hex and the reason. Element
values are converted from the element's unit (mm, m) to the datastream's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from fangxun.monitoring.ingest.parser import ObservationMessage, ParseResult, Reject, clip_raw
from fangxun.monitoring.ingest.sl651 import Element, Frame
from fangxun.monitoring.ingest.writer import Pending, PendingReject, WriteOptions
from fangxun.monitoring.models import Datastream, ObservedProperty, Sl651Station, Station
from fangxun.monitoring.units import SI_FACTORS, from_si, to_si

#: Element id → (observed property code, interval_s or None) of the default datastream.
DEFAULT_ELEMENTS: dict[str, tuple[str, int | None]] = {
    "PN05": ("rainfall", 300),
    "DRP": ("rainfall", 300),
    "P1": ("rainfall", 3600),
    "PT": ("rainfall_accumulated", None),
    "Z": ("river_level", None),
    "DRZ1": ("river_level", None),
}


@dataclass(frozen=True)
class StationMap:
    """One registered SL 651 station: its Fangxun station and element → datastream mapping
    (None: ignored on purpose), with each datastream's unit."""

    address: str
    station_code: str
    password: int | None
    elements: dict[str, str | None]
    units: dict[str, str] = field(default_factory=dict)


def load_station_maps(*, session: Session) -> dict[str, StationMap]:
    """Every registered SL 651 station by address, its defaults resolved."""
    regs = session.execute(select(Sl651Station, Station.code).join(Station)).all()
    if not regs:
        return {}
    station_ids = {reg.station_id for reg, _ in regs}
    streams = session.execute(
        select(Datastream.station_id, Datastream.code, Datastream.unit, Datastream.interval_s,
               ObservedProperty.code)
        .join(ObservedProperty, Datastream.observed_property_id == ObservedProperty.id)
        .where(Datastream.station_id.in_(station_ids))
        .order_by(Datastream.id)
    ).all()  # fmt: skip
    out: dict[str, StationMap] = {}
    for reg, station_code in regs:
        own = [s for s in streams if s[0] == reg.station_id]
        units = {code: unit for _, code, unit, _, _ in own}
        mapping: dict[str, str | None] = {}
        for element, (prop, interval) in DEFAULT_ELEMENTS.items():
            for _, code, _, ds_interval, prop_code in own:
                if prop_code == prop and (interval is None or ds_interval == interval):
                    mapping[element] = code
                    break
        for element, target in (reg.elements or {}).items():
            mapping[str(element)] = None if target is None else str(target)
        if any(c is not None and c not in units for c in mapping.values()):
            # A datastream of another station: the writer refuses it with a clear reason.
            for code in session.scalars(select(Datastream.code).where(
                    Datastream.code.in_([c for c in mapping.values() if c]))):  # fmt: skip
                units.setdefault(code, "")
        out[reg.address] = StationMap(reg.address, station_code, reg.password, mapping, units)
    return out


def _times(el: Element, observed_at: datetime) -> list[datetime]:
    assert el.values is not None and el.step_s is not None
    if el.id == "DRP" or el.id.startswith("DRZ"):
        # Twelve 5-minute values of the hour that ends at the observation time.
        return [observed_at - timedelta(seconds=el.step_s * (11 - k)) for k in range(12)]
    return [observed_at + timedelta(seconds=el.step_s * k) for k in range(len(el.values))]


def _convert(value: float, from_unit: str, to_unit: str) -> float:
    if from_unit in SI_FACTORS and to_unit in SI_FACTORS:
        return from_si(to_si(value, from_unit), to_unit)
    return value


def frame_observations(
    frame: Frame, smap: StationMap, *, now: datetime, options: WriteOptions
) -> ParseResult:
    """The observations of a decoded report, with a :class:`Reject` (index: the element's
    position) for each element that cannot become one."""
    report = frame.report
    raw = clip_raw(frame.raw.hex().upper())
    if report is None or report.observed_at is None:
        return ParseResult((), (), ())
    messages: list[ObservationMessage] = []
    indices: list[int] = []
    rejects: list[Reject] = []
    earliest, latest = now - options.max_age, now + options.future_tolerance
    for i, el in enumerate(report.elements):
        if el.id not in smap.elements:
            reason = f"element {el.id} has no mapping at SL 651 station {smap.address}"
            rejects.append(Reject(i, reason, raw))
            continue
        target = smap.elements[el.id]
        if target is None:
            continue
        if el.values is not None:
            points = list(zip(_times(el, report.observed_at), el.values, strict=True))
        else:
            points = [(report.observed_at, el.value)]
        for t, v in points:
            if v is None:
                continue  # the station had no value (FF...)
            utc = t.astimezone(UTC)
            if not earliest <= utc <= latest:
                reason = (
                    f"element {el.id} at {t.isoformat()}: time far off (now "
                    f"{now.astimezone(t.tzinfo).isoformat(timespec='seconds')})"
                )
                rejects.append(Reject(i, reason, raw))
                continue
            unit = smap.units.get(target, "")
            messages.append(
                ObservationMessage(datastream=target, time=utc, value=_convert(v, el.unit, unit))
            )
            indices.append(i)
    return ParseResult(tuple(messages), tuple(indices), tuple(rejects))


def to_pending(
    result: ParseResult, *, origin: str, station_code: str | None
) -> tuple[list[Pending], list[PendingReject]]:
    """Writer inputs of a parse result; the station code makes the writer refuse datastreams of
    other stations."""
    return (
        [Pending(m, origin, station_code) for m in result.messages],
        [PendingReject(r, origin) for r in result.rejects],
    )


def frame_reject(reason: str, raw: bytes, origin: str) -> PendingReject:
    """A dead letter for bytes that did not decode (the hex frame and the reason)."""
    return PendingReject(Reject(None, reason, clip_raw(raw.hex().upper())), origin)


def register_station(
    *,
    session: Session,
    address: str,
    station_code: str,
    elements: dict[str, str | None] | None = None,
    password: int | None = None,
) -> Sl651Station:
    """Map an SL 651 address (10 digits) to a station, with element overrides. Never commits.
    Raises ``ValueError`` for a bad address or an unknown station."""
    if len(address) != 10 or not address.isdigit():
        raise ValueError(f"SL 651 address must be 10 digits, got {address!r}")
    station_id = session.scalar(select(Station.id).where(Station.code == station_code))
    if station_id is None:
        raise ValueError(f"unknown station {station_code!r}")
    reg = session.scalar(select(Sl651Station).where(Sl651Station.address == address))
    if reg is None:
        reg = Sl651Station(address=address, station_id=station_id)
        session.add(reg)
    reg.station_id = station_id
    reg.elements = dict(elements) if elements else None
    reg.password = password
    session.flush()
    return reg
