"""Parse observation payloads: one JSON object ``{"datastream", "time", "value"}`` or an array.

Every transport (MQTT, HTTP, CSV) turns its input into :class:`ObservationMessage` here. An item
that fails becomes a :class:`Reject` with the reason and its raw text; the other items of the same
payload are kept, so one broken reading never costs the good ones.

>>> result = parse_payload(b'[{"datastream": "RG01-rain", "time": "2021-07-20T16:00:00+08:00",'
...                        b' "value": 201.9}, {"datastream": "RG01-rain", "value": "x"}]')
>>> [m.value for m in result.messages], [r.index for r in result.rejects]
([201.9], [1])
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

#: The largest payload accepted, bytes (a day of one-minute data from a big station fits easily).
MAX_PAYLOAD_BYTES = 4 * 1024 * 1024
#: The longest raw text kept in a dead letter, characters.
MAX_RAW_CHARS = 10_000


class ObservationMessage(BaseModel):
    """One observation as sent: datastream code, time with offset, value in the datastream's unit.

    Frozen: it is passed between threads and batches and must not change on the way.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    datastream: str = Field(min_length=1, max_length=64)
    time: datetime
    value: float

    @field_validator("time", mode="before")
    @classmethod
    def _time(cls, value: Any) -> datetime:
        if isinstance(value, datetime):
            parsed = value
        elif isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value.strip())
            except ValueError:
                raise ValueError(f"not an ISO 8601 time: {value!r}") from None
        else:
            raise ValueError("must be an ISO 8601 string with an offset")
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            raise ValueError("needs a UTC offset, e.g. 2021-07-20T16:00:00+08:00")
        return parsed.astimezone(UTC)

    @field_validator("value", mode="before")
    @classmethod
    def _value(cls, value: Any) -> float:
        # bool is an int in Python; strings like "3.2" are refused so a bad encoder shows up.
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"must be a number, got {type(value).__name__}")
        as_float = float(value)
        if not math.isfinite(as_float):
            raise ValueError("must be finite")
        return as_float


@dataclass(frozen=True)
class Reject:
    """An item that could not be parsed: ``index`` in the array (None: the whole payload)."""

    index: int | None
    reason: str
    raw: str


@dataclass(frozen=True)
class ParseResult:
    """The items that parsed, in payload order with their indices, and the rejects."""

    messages: tuple[ObservationMessage, ...]
    indices: tuple[int, ...]
    rejects: tuple[Reject, ...]


def clip_raw(text: str) -> str:
    """``text`` cut to :data:`MAX_RAW_CHARS` (dead letters keep evidence, not megabytes)."""
    return text if len(text) <= MAX_RAW_CHARS else text[:MAX_RAW_CHARS] + "…[truncated]"


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ())) or "item"
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{where}: {msg}")
    return "; ".join(parts)


def parse_item(item: Any) -> ObservationMessage:
    """Validate one decoded JSON item; raises ``ValueError`` whose text says what was wrong."""
    if not isinstance(item, dict):
        raise ValueError(f"item must be a JSON object, got {type(item).__name__}")
    try:
        return ObservationMessage.model_validate(item)
    except ValidationError as exc:
        raise ValueError(_describe(exc)) from None


def _raw_item(item: Any) -> str:
    try:
        return clip_raw(json.dumps(item, ensure_ascii=False, allow_nan=True))
    except (TypeError, ValueError):
        return clip_raw(repr(item))


def parse_decoded(data: Any) -> ParseResult:
    """Parse an already decoded JSON value (an object or an array of objects)."""
    items = data if isinstance(data, list) else [data]
    messages: list[ObservationMessage] = []
    indices: list[int] = []
    rejects: list[Reject] = []
    for i, item in enumerate(items):
        try:
            messages.append(parse_item(item))
            indices.append(i)
        except ValueError as exc:
            rejects.append(Reject(i if isinstance(data, list) else None, str(exc), _raw_item(item)))
    if isinstance(data, list) and not data:
        rejects.append(Reject(None, "empty array", "[]"))
    return ParseResult(tuple(messages), tuple(indices), tuple(rejects))


def _reject_constant(name: str) -> float:
    # json.loads accepts NaN/Infinity by default; they are not JSON, so refuse them at decode time.
    raise ValueError(f"{name} is not valid JSON")


def parse_payload(payload: bytes | str) -> ParseResult:
    """Decode and parse a payload; never raises for bad input (it becomes a :class:`Reject`)."""
    if isinstance(payload, bytes):
        if len(payload) > MAX_PAYLOAD_BYTES:
            reason = f"payload too large ({len(payload)} bytes, limit {MAX_PAYLOAD_BYTES})"
            return ParseResult((), (), (Reject(None, reason, clip_raw(payload[:200].hex())),))
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError as exc:
            raw = payload.decode("utf-8", errors="replace")
            return ParseResult((), (), (Reject(None, f"not UTF-8: {exc.reason}", clip_raw(raw)),))
    else:
        text = payload
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        return ParseResult((), (), (Reject(None, f"malformed JSON: {exc}", clip_raw(text)),))
    return parse_decoded(data)
