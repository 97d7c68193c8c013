"""The payload parser: property tests (Hypothesis) and the bad inputs named in the issue."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fangxun.monitoring.ingest.parser import ObservationMessage, parse_payload

codes = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=64
)
offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda m: timezone(timedelta(minutes=m))
)
times = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1), timezones=offsets
)
values = st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(10**12), 10**12)
good_items = st.builds(
    lambda c, t, v: {"datastream": c, "time": t.isoformat(), "value": v}, codes, times, values
)
bad_items = st.one_of(
    good_items.map(lambda d: {**d, "value": str(d["value"])}),  # numeric string
    good_items.map(lambda d: {**d, "value": True}),
    good_items.map(lambda d: {**d, "value": None}),
    good_items.map(lambda d: {**d, "time": d["time"][:19]}),  # no offset
    good_items.map(lambda d: {**d, "time": "yesterday"}),
    good_items.map(lambda d: {k: v for k, v in d.items() if k != "datastream"}),
    good_items.map(lambda d: {**d, "extra": 1}),
    st.integers(),
    st.lists(st.integers(), max_size=2),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(good_items, min_size=1, max_size=20))
def test_every_good_item_round_trips(items: list[dict[str, object]]) -> None:
    result = parse_payload(json.dumps(items).encode())
    assert result.rejects == ()
    assert result.indices == tuple(range(len(items)))
    for item, msg in zip(items, result.messages, strict=True):
        assert msg.datastream == item["datastream"]
        assert msg.time == datetime.fromisoformat(str(item["time"]))
        assert msg.time.tzinfo is UTC
        assert msg.value == float(item["value"])  # type: ignore[arg-type]


# Measured 11 s (200 examples; --durations, load 12 on 2 cores).
@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.booleans(), good_items, bad_items), min_size=1, max_size=20))
def test_bad_items_are_rejected_and_good_ones_kept(
    mix: list[tuple[bool, dict[str, object], object]],
) -> None:
    payload = [good if keep else bad for keep, good, bad in mix]
    result = parse_payload(json.dumps(payload))
    good_idx = tuple(i for i, (keep, _, _) in enumerate(mix) if keep)
    assert result.indices == good_idx
    assert tuple(r.index for r in result.rejects) == tuple(
        i for i, (keep, _, _) in enumerate(mix) if not keep
    )
    assert all(r.reason for r in result.rejects)


@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    result = parse_payload(data)
    assert len(result.messages) == len(result.indices)


def test_single_object_and_reasons() -> None:
    one = parse_payload('{"datastream": "A", "time": "2021-07-20T16:00:00+08:00", "value": 1}')
    assert one.messages[0].time == datetime(2021, 7, 20, 8, tzinfo=UTC)
    assert "malformed JSON" in parse_payload(b"{not json").rejects[0].reason
    assert "not UTF-8" in parse_payload(b"\xff\xfe").rejects[0].reason
    assert (
        "not valid JSON"
        in parse_payload('{"datastream": "A", "time": "2021-07-20T16:00:00+08:00", "value": NaN}')
        .rejects[0]
        .reason
    )
    no_offset = parse_payload('{"datastream": "A", "time": "2021-07-20T16:00:00", "value": 1}')
    assert "offset" in no_offset.rejects[0].reason
    text = parse_payload('{"datastream": "A", "time": "2021-07-20T16:00:00Z", "value": "1"}')
    assert "value" in text.rejects[0].reason and "number" in text.rejects[0].reason
    assert parse_payload("[]").rejects[0].reason == "empty array"


def test_message_is_frozen() -> None:
    msg = ObservationMessage(datastream="A", time=datetime(2021, 1, 1, tzinfo=UTC), value=1.0)
    try:
        msg.value = 2.0  # type: ignore[misc]
    except Exception as exc:  # pydantic raises ValidationError for frozen models
        assert "frozen" in str(exc)
    else:
        raise AssertionError("message was mutable")
    assert math.isclose(msg.value, 1.0)
