"""Official rainstorm signals: CAP 1.2 alerts of the meteorological service (气象台 / 12379).

The rainstorm signal (暴雨预警信号) is issued by the meteorological service, not by us. This
module takes their CAP 1.2 alerts from a feed URL (an Atom or RSS feed whose entries link to or
embed CAP alerts, or a single CAP document) or from a folder of CAP files, validates each against
the CAP 1.2 schema (:func:`fangxun.warnings.cap.validate`, the schema our own alerts pass), stores
each message once per (``sender``, ``identifier``) and lets the ``Actual`` ones drive the response
(:func:`fangxun.response.service.apply_official_signal`): ``Alert``/``Update`` set the mapped level
(``FANGXUN_RESPONSE_LEVEL_RULES``), a ``Cancel`` ends what the signal drove. ``Exercise`` (and
``Test``, ``System``, ``Draft``) alerts are stored but never drive the live response.

Colour mapping (event first, severity when the event names no colour):

=============  ==========  ======
event          severity    colour
=============  ==========  ======
暴雨蓝色预警   Minor       blue
暴雨黄色预警   Moderate    yellow
暴雨橙色预警   Severe      orange
暴雨红色预警   Extreme     red
=============  ==========  ======

English events (``Rainstorm Red Warning``…) map the same way. An event that is not a rainstorm
(暴雨 / rainstorm / heavy rain) has no colour: it is stored, it drives nothing.

>>> colour_of("暴雨红色预警", "Extreme")
'red'
>>> colour_of("暴雨预警", "Moderate")
'yellow'
>>> colour_of("Rainstorm Orange Warning", "Severe")
'orange'
>>> colour_of("大风蓝色预警", "Minor") is None
True
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import urljoin

import httpx
from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session
from tenacity import (
    retry,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from fangxun.config import Settings
from fangxun.response import service as response
from fangxun.warnings.cap import CAP_NS, CapInvalid, validate
from fangxun.warnings.models import OfficialSignal

log = logging.getLogger(__name__)

ATOM_NS: Final = "http://www.w3.org/2005/Atom"
#: CAP colour words (Chinese and English) → our colour.
COLOUR_WORDS: Final = {
    "蓝": "blue",
    "黄": "yellow",
    "橙": "orange",
    "红": "red",
    "blue": "blue",
    "yellow": "yellow",
    "orange": "orange",
    "red": "red",
}
#: CAP ``severity`` → colour, when the event names none (GB/T 35965 practice for 暴雨 signals).
SEVERITY_COLOUR: Final = {
    "Minor": "blue",
    "Moderate": "yellow",
    "Severe": "orange",
    "Extreme": "red",
}
RAINSTORM_WORDS: Final = ("暴雨", "rainstorm", "heavy rain")
#: Only these drive the live response; Exercise/Test/System/Draft are stored only.
LIVE_STATUS: Final = "Actual"
#: Files of a folder that are read (the 12379 system writes ``.xml``; some export ``.cap``).
FILE_SUFFIXES: Final = (".xml", ".cap")


class FeedUnavailable(RuntimeError):
    """The feed could not be fetched (after the retries)."""


def colour_of(event: str, severity: str) -> str | None:
    """The rainstorm colour of a CAP ``event`` / ``severity``, or None (not a rainstorm signal)."""
    low = event.lower()
    if not any(w in low for w in RAINSTORM_WORDS):
        return None
    # The colour word sits after the hazard name: "暴雨红色预警", "Rainstorm Red Warning".
    for word, colour in COLOUR_WORDS.items():
        if f"{word}色" in event or (word.isascii() and f" {word}" in f" {low}"):
            return colour
    return SEVERITY_COLOUR.get(severity)


@dataclass(frozen=True)
class ParsedSignal:
    """The fields we keep of one CAP alert (the first ``<info>``, ``zh-CN`` preferred)."""

    identifier: str
    sender: str
    sent: datetime
    status: str
    msg_type: str
    references: tuple[tuple[str, str], ...]
    references_text: str | None
    event: str
    severity: str
    colour: str | None
    area: str | None
    effective: datetime | None
    expires: datetime | None


def _text(el: etree._Element, path: str) -> str | None:
    found = el.find(path, {"c": CAP_NS})
    return found.text.strip() if found is not None and found.text else None


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def parse(xml: bytes) -> ParsedSignal:
    """Validate ``xml`` against CAP 1.2 and read it. Raises :class:`CapInvalid` saying why."""
    validate(xml)  # the schema also guarantees the required elements read below
    root = etree.fromstring(xml)
    infos = root.findall("c:info", {"c": CAP_NS})
    info = next(
        (i for i in infos if (_text(i, "c:language") or "").lower().startswith("zh")),
        infos[0] if infos else None,
    )
    refs_text = _text(root, "c:references")
    refs: list[tuple[str, str]] = []
    for ref in (refs_text or "").split():
        parts = ref.split(",")
        if len(parts) != 3:
            raise CapInvalid(f"references: {ref!r} is not sender,identifier,sent")
        refs.append((parts[0], parts[1]))
    event = (_text(info, "c:event") if info is not None else None) or ""
    severity = (_text(info, "c:severity") if info is not None else None) or "Unknown"
    areas = info.findall("c:area/c:areaDesc", {"c": CAP_NS}) if info is not None else []
    sent = _time(_text(root, "c:sent"))
    assert sent is not None  # required by the schema
    return ParsedSignal(
        identifier=_text(root, "c:identifier") or "",
        sender=_text(root, "c:sender") or "",
        sent=sent,
        status=_text(root, "c:status") or "",
        msg_type=_text(root, "c:msgType") or "",
        references=tuple(refs),
        references_text=refs_text,
        event=event,
        severity=severity,
        colour=colour_of(event, severity),
        area="; ".join(a.text or "" for a in areas) or None,
        effective=_time(_text(info, "c:effective")) if info is not None else None,
        expires=_time(_text(info, "c:expires")) if info is not None else None,
    )


@dataclass
class IngestReport:
    """What one poll did: stored identifiers, duplicates, refused sources (with why), response
    changes (``LevelChange`` ids)."""

    stored: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    response_changes: list[int] = field(default_factory=list)


def ingest(
    *,
    session: Session,
    documents: Sequence[tuple[str, bytes]],
    settings: Settings,
    report: IngestReport | None = None,
) -> IngestReport:
    """Store and apply ``documents`` ((source, CAP bytes) pairs), oldest ``sent`` first.

    A document that is not valid CAP 1.2 is refused (logged, named in the report) and the others
    are kept; a (sender, identifier) already stored is a duplicate and changes nothing.
    """
    report = report or IngestReport()
    parsed: list[tuple[str, bytes, ParsedSignal]] = []
    for source, xml in documents:
        try:
            parsed.append((source, xml, parse(xml)))
        except CapInvalid as exc:
            log.warning("official CAP refused: %s: %s", source, exc)
            report.refused.append((source, str(exc)))
    parsed.sort(key=lambda t: t[2].sent)
    for source, xml, sig in parsed:
        _store_one(session, source, xml, sig, settings, report)
    return report


def _store_one(
    session: Session,
    source: str,
    xml: bytes,
    sig: ParsedSignal,
    settings: Settings,
    report: IngestReport,
) -> None:
    existing = session.scalars(
        select(OfficialSignal).where(
            OfficialSignal.sender == sig.sender, OfficialSignal.identifier == sig.identifier
        )
    ).first()
    if existing is not None:
        report.duplicates.append(sig.identifier)
        return
    row = OfficialSignal(
        identifier=sig.identifier,
        sender=sig.sender,
        sent=sig.sent,
        status=sig.status,
        msg_type=sig.msg_type,
        references=sig.references_text,
        event=sig.event,
        severity=sig.severity,
        colour=sig.colour,
        area=sig.area,
        effective=sig.effective,
        expires=sig.expires,
        source=source[:500],
        raw_xml=xml.decode("utf-8", errors="replace"),
    )
    session.add(row)
    referenced: list[OfficialSignal] = []
    for sender, identifier in sig.references:
        ref = session.scalars(
            select(OfficialSignal).where(
                OfficialSignal.sender == sender, OfficialSignal.identifier == identifier
            )
        ).first()
        if ref is not None:
            ref.superseded_by = sig.identifier
            referenced.append(ref)
    session.flush()
    report.stored.append(sig.identifier)
    log.info(
        "official CAP %s %s %s (%s, %s) from %s",
        sig.msg_type,
        sig.identifier,
        sig.event,
        sig.status,
        sig.colour or "no colour",
        source,
    )
    if sig.status != LIVE_STATUS:
        return  # an exercise never drives the live response
    rainstorm = sig.colour is not None or any(r.colour is not None for r in referenced)
    if not rainstorm:
        return
    change = response.apply_official_signal(
        session=session,
        colour=None if sig.msg_type == "Cancel" else sig.colour,
        source_ref=f"{response.OFFICIAL_REF}{sig.identifier}"[:200],
        at=sig.sent,
        settings=settings,
    )
    if change is not None:
        report.response_changes.append(change.id)


def list_signals(*, session: Session, limit: int = 50) -> list[OfficialSignal]:
    """The latest official signals received, newest ``sent`` first."""
    stmt = select(OfficialSignal).order_by(OfficialSignal.sent.desc()).limit(limit)
    return list(session.scalars(stmt))


def signal_in_force(*, session: Session, now: datetime) -> OfficialSignal | None:
    """The strongest official rainstorm signal in force at ``now`` (aware): live (Actual), not
    cancelled, not replaced by an Update or Cancel, not expired; None when there is none. For the
    pages and reports that show "the rainstorm signal" (暴雨预警信号)."""
    stmt = select(OfficialSignal).where(
        OfficialSignal.status == LIVE_STATUS,
        OfficialSignal.msg_type != "Cancel",
        OfficialSignal.superseded_by.is_(None),
        OfficialSignal.colour.is_not(None),
        OfficialSignal.sent <= now,
    )
    live = [s for s in session.scalars(stmt) if s.expires is None or s.expires > now]
    order = ("blue", "yellow", "orange", "red")
    return max(live, key=lambda s: (order.index(s.colour or "blue"), s.sent), default=None)


# --- sources -----------------------------------------------------------------------------------


def read_folder(folder: Path) -> list[tuple[str, bytes]]:
    """Every ``.xml``/``.cap`` file of ``folder`` (not recursive), by name."""
    if not folder.is_dir():
        raise FileNotFoundError(f"not a folder: {folder}")
    return [
        (str(p), p.read_bytes())
        for p in sorted(folder.iterdir())
        if p.is_file() and p.suffix.lower() in FILE_SUFFIXES
    ]


def _retrying_get(
    client: httpx.Client, url: str, attempts: int, sleep: Callable[[float], None]
) -> bytes:
    """GET ``url`` with exponential backoff (0.5 s, 1 s, 2 s … at most 30 s) on transport errors
    and 5xx (tenacity); ``sleep`` is injectable so tests need not wait."""

    @retry(
        retry=retry_if_exception_type((httpx.TransportError, httpx.HTTPStatusError)),
        stop=stop_after_attempt(attempts),
        wait=wait_exponential(multiplier=0.5, max=30),
        sleep=sleep,
        reraise=True,
    )
    def get() -> bytes:
        resp = client.get(url)
        if resp.status_code >= 500:
            resp.raise_for_status()
        if resp.status_code >= 400:  # a 4xx will not mend itself: no retry
            raise FeedUnavailable(f"{url}: HTTP {resp.status_code}")
        return resp.content

    try:
        return get()
    except (httpx.TransportError, httpx.HTTPStatusError) as exc:
        raise FeedUnavailable(f"{url}: {exc}") from exc


def _entry_links(root: etree._Element, base: str) -> Iterable[str]:
    """CAP links of an Atom (``entry/link``) or RSS (``item/link``) feed, resolved on ``base``."""
    for entry in root.iter(f"{{{ATOM_NS}}}entry"):
        links = entry.findall(f"{{{ATOM_NS}}}link")
        cap = [ln for ln in links if "cap" in (ln.get("type") or "")]
        chosen = cap or [ln for ln in links if ln.get("rel") in (None, "alternate")]
        if chosen and chosen[0].get("href"):
            yield urljoin(base, str(chosen[0].get("href")))
    for item in root.iter("item"):
        link = item.findtext("link")
        if link:
            yield urljoin(base, link.strip())


def read_url(
    url: str,
    *,
    client: httpx.Client | None = None,
    attempts: int = 4,
    sleep: Callable[[float], None] = time.sleep,
) -> list[tuple[str, bytes]]:
    """The CAP documents at ``url``: the document itself if it is a CAP alert, else the alerts
    a feed embeds (Atom ``content``) or links to. An entry that cannot be fetched is refused by
    :func:`ingest` later as an empty document, so the others are kept."""
    own = client or httpx.Client(timeout=20.0, follow_redirects=True)
    try:
        body = _retrying_get(own, url, attempts, sleep)
        try:
            root = etree.fromstring(body)
        except etree.XMLSyntaxError:
            return [(url, body)]  # ingest refuses it, saying why
        if root.tag == f"{{{CAP_NS}}}alert":
            return [(url, body)]
        docs: list[tuple[str, bytes]] = []
        for alert in root.iter(f"{{{CAP_NS}}}alert"):  # embedded in Atom <content>
            docs.append(
                (f"{url}#{alert.findtext(f'{{{CAP_NS}}}identifier')}", etree.tostring(alert))
            )
        for link in _entry_links(root, url):
            try:
                docs.append((link, _retrying_get(own, link, attempts, sleep)))
            except FeedUnavailable as exc:
                log.warning("official CAP entry unavailable: %s", exc)
                docs.append((link, b""))
        return docs
    finally:
        if client is None:
            own.close()


__all__ = [
    "CapInvalid",
    "FeedUnavailable",
    "IngestReport",
    "ParsedSignal",
    "colour_of",
    "ingest",
    "list_signals",
    "parse",
    "read_folder",
    "read_url",
    "signal_in_force",
]


def signal_panel(*, session: Session, now: datetime) -> dict[str, Any]:
    """What pages and reports show as "the rainstorm signal" (暴雨预警信号) at ``now``:

    * ``colour``/``basis``: the official signal in force (``official``: the meteorological
      service's CAP alert), else a rainstorm warning a person relays by hand (``relayed``), else
      None — never the district's gauge rule;
    * ``gauge_indication``: the gauge rule's colour, labelled as what it is (雨量站指示), or None.
    """
    from fangxun.warnings.models import Origin, Warning, WarningKind, WarningPurpose, rank

    out: dict[str, Any] = {"colour": None, "basis": None, "label": None, "since": None}
    official = signal_in_force(session=session, now=now)
    rows = list(
        session.scalars(
            select(Warning).where(
                Warning.status == "active",
                Warning.kind == WarningKind.rainstorm,
                Warning.purpose == WarningPurpose.operational,
            )
        )
    )
    relayed = [w for w in rows if w.origin is Origin.manual]
    gauge = [w for w in rows if w.origin is Origin.rule]
    if official is not None:
        out.update(
            colour=official.colour,
            basis="official",
            label=f"{official.event}（{official.sender}）",
            since=(official.effective or official.sent).isoformat(),
            identifier=official.identifier,
        )
    elif relayed:
        top = max(relayed, key=lambda w: rank(w.colour))
        out.update(
            colour=top.colour.value,
            basis="relayed",
            label="暴雨预警信号（人工转发）",
            since=top.changed_at.isoformat(),
            warning_id=top.id,
        )
    indication = max(gauge, key=lambda w: rank(w.colour)) if gauge else None
    out["gauge_indication"] = (
        {
            "colour": indication.colour.value,
            "label": "雨量站指示（非正式信号）",
            "since": indication.changed_at.isoformat(),
        }
        if indication is not None
        else None
    )
    return out
