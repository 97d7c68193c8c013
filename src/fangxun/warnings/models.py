"""Warning models: a warning (预警) per subject, and every change it went through with its CAP
alert.

A *subject* is what a warning is about, as a stable key: ``rainstorm`` (district-wide),
``ponding:<point id>``, ``predicted_ponding:<point id>``, ``river_level:<datastream id>``,
``pump_failure:<station id>``, ``stale_sensor:<station id>``; a drill's warnings are
``exercise:<run id>:<subject>``. At most one warning per subject is active at a time.
``hazard_point_id``, ``datastream_id`` and ``station_id`` are plain integers (no foreign keys),
like the other domains that point at the ledger and the network.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fangxun.db.base import Base
from fangxun.db.types import json_type, string_enum, utcnow


class WarningKind(enum.StrEnum):
    """What a warning is about."""

    rainstorm = "rainstorm"  # 暴雨预警信号
    ponding = "ponding"  # 积水预警 (observed)
    predicted_ponding = "predicted_ponding"  # 积水预报预警
    river_level = "river_level"  # 河道水位预警
    pump_failure = "pump_failure"  # 泵站故障
    stale_sensor = "stale_sensor"  # 关键监测设备离线


class Colour(enum.StrEnum):
    """Warning colours, lowest first (compare with :func:`rank`)."""

    blue = "blue"
    yellow = "yellow"
    orange = "orange"
    red = "red"


def rank(colour: Colour | str | None) -> int:
    """0 for no warning, 1 (blue) … 4 (red)."""
    if colour is None:
        return 0
    return list(Colour).index(Colour(colour)) + 1


class WarningStatus(enum.StrEnum):
    """A warning is in force (``active``) until it is lifted."""

    active = "active"
    lifted = "lifted"


class ChangeType(enum.StrEnum):
    """What a change did; ``update`` keeps the colour (new evidence or text)."""

    issue = "issue"  # 发布
    upgrade = "upgrade"  # 升级
    downgrade = "downgrade"  # 降级
    update = "update"  # 更新
    lift = "lift"  # 解除


class WarningPurpose(enum.StrEnum):
    """A live warning, or a drill's (CAP ``status`` Exercise: only the drill's people are told,
    never the public feed or the response rules)."""

    operational = "operational"
    exercise = "exercise"


class Origin(enum.StrEnum):
    """Who owns a warning: the rules, or a person (the rules then never lower or lift it)."""

    rule = "rule"
    manual = "manual"


class Warning(Base):
    """One warning, from issue to lift. ``evidence`` holds the latest values and rule that fired."""

    __tablename__ = "warning"
    __table_args__ = (
        Index("ix_warning_status_subject", "status", "subject"),
        # One warning in force per subject, even with two evaluations racing.
        Index(
            "uq_warning_active_subject",
            "subject",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(120))
    kind: Mapped[WarningKind] = mapped_column(string_enum(WarningKind, "warning_kind"))
    colour: Mapped[Colour] = mapped_column(string_enum(Colour, "warning_colour"))
    status: Mapped[WarningStatus] = mapped_column(
        string_enum(WarningStatus, "warning_status"), default=WarningStatus.active
    )
    origin: Mapped[Origin] = mapped_column(string_enum(Origin, "warning_origin"))
    #: Live (operational) or a drill's (exercise); see :class:`WarningPurpose`.
    purpose: Mapped[WarningPurpose] = mapped_column(
        string_enum(WarningPurpose, "warning_purpose"),
        default=WarningPurpose.operational,
        server_default=WarningPurpose.operational.value,
    )
    #: The drill of an exercise warning (plain integer, like the other references).
    drill_id: Mapped[int | None] = mapped_column(Integer)
    #: The unit whose jurisdiction the warning belongs to; None: district-wide.
    unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("org_unit.id", ondelete="RESTRICT"), index=True
    )
    hazard_point_id: Mapped[int | None] = mapped_column(Integer, index=True)
    datastream_id: Mapped[int | None] = mapped_column(Integer)
    station_id: Mapped[int | None] = mapped_column(Integer)
    #: Human description of the place (the point's or station's name).
    place: Mapped[str | None] = mapped_column(String(200))
    evidence: Mapped[dict[str, Any] | None] = mapped_column(json_type())
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Time of the latest change (the minimum hold time counts from here).
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    lifted_at: Mapped[datetime | None] = mapped_column()

    changes: Mapped[list[WarningChange]] = relationship(
        back_populates="warning",
        cascade="all, delete-orphan",
        order_by="(WarningChange.at, WarningChange.id)",
    )


class WarningChange(Base):
    """One change of a warning, with the evidence behind it and its CAP 1.2 alert."""

    __tablename__ = "warning_change"
    __table_args__ = (Index("ix_warning_change_at", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    warning_id: Mapped[int] = mapped_column(
        ForeignKey("warning.id", ondelete="CASCADE"), index=True
    )
    change_type: Mapped[ChangeType] = mapped_column(string_enum(ChangeType, "warning_change_type"))
    from_colour: Mapped[Colour | None] = mapped_column(
        string_enum(Colour, "warning_change_from_colour")
    )
    to_colour: Mapped[Colour | None] = mapped_column(
        string_enum(Colour, "warning_change_to_colour")
    )
    at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Username of the person, or ``rules`` / ``system``.
    actor: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    evidence: Mapped[dict[str, Any] | None] = mapped_column(json_type())
    cap_identifier: Mapped[str | None] = mapped_column(String(200), unique=True)
    cap_sent: Mapped[datetime | None] = mapped_column()
    #: The alert as sent (validated against the CAP 1.2 schema before it is stored).
    cap_xml: Mapped[str | None] = mapped_column(Text)

    warning: Mapped[Warning] = relationship(back_populates="changes")


class OfficialSignal(Base):
    """One CAP 1.2 alert of the meteorological service (气象台 / 12379), as received.

    The official rainstorm signal (暴雨预警信号) is theirs; the district's own gauge rule is only a
    rain-gauge indication (雨量站指示). A message is stored once per (sender, identifier);
    ``superseded_by`` names the Update or Cancel that replaced it. ``colour`` is mapped from the
    event (暴雨蓝/黄/橙/红色预警) or else the severity (Minor/Moderate/Severe/Extreme), see
    :mod:`fangxun.warnings.official`; ``status`` is CAP's (Actual, Exercise, …): only ``Actual``
    drives the live response.
    """

    __tablename__ = "warning_official_signal"
    __table_args__ = (
        UniqueConstraint("sender", "identifier", name="uq_warning_official_signal_sender_ident"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    identifier: Mapped[str] = mapped_column(String(200), index=True)
    sender: Mapped[str] = mapped_column(String(200))
    sent: Mapped[datetime] = mapped_column()
    status: Mapped[str] = mapped_column(String(16))
    msg_type: Mapped[str] = mapped_column(String(16))
    #: CAP ``references`` as sent ("sender,identifier,sent" separated by spaces).
    references: Mapped[str | None] = mapped_column(Text)
    event: Mapped[str] = mapped_column(String(200))
    severity: Mapped[str] = mapped_column(String(16))
    #: blue/yellow/orange/red, or None when the event is not a rainstorm signal.
    colour: Mapped[str | None] = mapped_column(String(8))
    area: Mapped[str | None] = mapped_column(Text)
    effective: Mapped[datetime | None] = mapped_column()
    expires: Mapped[datetime | None] = mapped_column()
    #: The identifier of the Update/Cancel that replaced this message, if any.
    superseded_by: Mapped[str | None] = mapped_column(String(200))
    #: Where it came from (feed URL or file path).
    source: Mapped[str] = mapped_column(String(500))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    raw_xml: Mapped[str] = mapped_column(Text)


class ProposalStatus(enum.StrEnum):
    """A forecast run's proposed warning changes: waiting for the duty officer (``pending``), then
    ``approved`` (applied), ``rejected``, ``superseded`` by a newer run's proposal, or
    ``withdrawn`` when a later evaluation of the same run no longer proposes anything."""

    pending = "pending"
    approved = "approved"
    rejected = "rejected"
    superseded = "superseded"
    withdrawn = "withdrawn"


class WarningProposal(Base):
    """The predicted-ponding warning changes one forecast run calls for, held for the duty
    officer's approval (as Delft-FEWS's forecaster promotes a run).

    ``items`` is one dict per subject: ``subject``, ``change_type``, ``from_colour`` (in force when
    proposed), ``to_colour`` (None: lift), ``hazard_point_id``, ``unit_id``, ``place`` and the
    rule's ``evidence``. ``diff`` says what changed since the last approved run (per subject:
    the colour that run proposed and this one's). Past ``deadline_at`` an unapproved proposal is
    escalated to the leader on duty once (``escalated_at``).
    """

    __tablename__ = "warning_proposal"
    __table_args__ = (Index("ix_warning_proposal_status", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    forecast_run_id: Mapped[int | None] = mapped_column(Integer, index=True)
    status: Mapped[ProposalStatus] = mapped_column(
        string_enum(ProposalStatus, "warning_proposal_status"), default=ProposalStatus.pending
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Latest evaluation that refreshed the items.
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: When an unapproved proposal escalates; a superseding proposal keeps the earlier deadline.
    deadline_at: Mapped[datetime] = mapped_column()
    items: Mapped[list[dict[str, Any]]] = mapped_column(json_type())
    diff: Mapped[list[dict[str, Any]] | None] = mapped_column(json_type())
    decided_at: Mapped[datetime | None] = mapped_column()
    #: Username of the person who approved or rejected it.
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decision_note: Mapped[str | None] = mapped_column(Text)
    #: Ids of the warning changes the approval made.
    applied_change_ids: Mapped[list[int] | None] = mapped_column(json_type())
    escalated_at: Mapped[datetime | None] = mapped_column()
    escalation_note: Mapped[str | None] = mapped_column(String(300))
    #: The proposal this one replaced (pending when superseded).
    supersedes_id: Mapped[int | None] = mapped_column(Integer)


class VerificationKind(enum.StrEnum):
    """Events of the verification archive: an observed threshold ``crossing`` at a point (upward,
    per colour), the point drying out again (``dry``: the end of an episode), and a predicted
    ponding ``warning`` issued or raised to a colour."""

    crossing = "crossing"
    dry = "dry"
    warning = "warning"


class VerificationEvent(Base):
    """One event of the verification archive (see :mod:`fangxun.warnings.verification`): kept for
    a season, so that hit rate, false alarms and lead time per point and colour can be computed
    from evidence and thresholds tuned."""

    __tablename__ = "warning_verification_event"
    __table_args__ = (Index("ix_warning_verification_event_point_at", "hazard_point_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[VerificationKind] = mapped_column(
        string_enum(VerificationKind, "warning_verification_kind")
    )
    hazard_point_id: Mapped[int] = mapped_column(Integer)
    #: blue … red (None for ``dry``).
    colour: Mapped[str | None] = mapped_column(String(8))
    at: Mapped[datetime] = mapped_column()
    #: The warning of a ``warning`` event.
    warning_id: Mapped[int | None] = mapped_column(Integer)
    #: Depth observed, or forecast peak, m.
    depth_m: Mapped[float | None] = mapped_column(Float)
    detail: Mapped[dict[str, Any] | None] = mapped_column(json_type())
