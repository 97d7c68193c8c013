"""Fuzzing (hypothesis) of the inputs that come from outside: the MQTT payload parser, the CSV
observation importer and the hazard-point Excel/GeoJSON reader. Bad input must end as a clear,
located error (a reject, a dead letter, a ValidationFailed), never as a crash."""

from __future__ import annotations

import io
import json
import string
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from fangxun.errors import ValidationFailed
from fangxun.hazards import io as hazard_io
from fangxun.monitoring.ingest.csv_import import import_rows
from fangxun.monitoring.ingest.parser import MAX_RAW_CHARS, ObservationMessage, parse_payload
from fangxun.monitoring.models import DeadLetter

FUZZ = settings(
    max_examples=100, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=30,
)
#: Items shaped like observations, with every field sometimes wrong.
observation_like = st.fixed_dictionaries(
    {},
    optional={
        "datastream": st.text(max_size=20) | st.integers() | st.none(),
        "time": st.sampled_from(
            [
                "2026-07-20T16:00:00+08:00",
                "2026-07-20T16:00:00",
                "yesterday",
                "",
                "2026-13-40T99:00Z",
            ]
        )
        | st.integers(),
        "value": st.floats(allow_nan=False, allow_infinity=False)
        | st.integers()
        | st.text(max_size=5)
        | st.booleans()
        | st.none(),
        "extra": json_values,
    },
)


def _check_result(result: Any) -> None:
    assert len(result.messages) == len(result.indices)
    for reject in result.rejects:
        assert reject.reason, "a reject must say why"
        assert len(reject.raw) <= MAX_RAW_CHARS + 20


@FUZZ
@given(payload=st.binary(max_size=2000))
def test_mqtt_parser_survives_any_bytes(payload: bytes) -> None:
    result = parse_payload(payload)
    _check_result(result)
    assert all(isinstance(m, ObservationMessage) for m in result.messages)


@FUZZ
@given(value=json_values | st.lists(observation_like, max_size=8) | observation_like)
def test_mqtt_parser_survives_any_json(value: Any) -> None:
    result = parse_payload(json.dumps(value).encode())
    _check_result(result)
    items = value if isinstance(value, list) else [value]
    if items:
        # Every item is either parsed or rejected with a reason: nothing silently dropped.
        assert len(result.messages) + len(result.rejects) == len(items)


def test_mqtt_parser_deep_nesting_and_constants() -> None:
    for payload in (b"[" * 100_000, b'{"value": NaN}', b'{"value": Infinity}', b"\xff\xfe"):
        result = parse_payload(payload)
        assert not result.messages and result.rejects and result.rejects[0].reason


cells = st.text(alphabet=string.printable + "中文，。", max_size=30)
#: Excel refuses control characters before the reader sees them: printable text only.
xlsx_cells = st.text(
    alphabet=string.ascii_letters + string.digits + string.punctuation + " 中文", max_size=20
)
csv_rows = st.lists(st.lists(cells, max_size=5), max_size=12)
headers = st.sampled_from(
    [["datastream", "time", "value"], ["time", "value"], ["Datastream", " TIME ", "value", "x"], []]
)


@FUZZ
@given(header=headers, rows=csv_rows)
def test_csv_import_rejects_clearly(
    sqlite_engine: Engine, header: list[str], rows: list[list[str]]
) -> None:
    with Session(sqlite_engine) as session:
        before = session.scalar(select(func.count()).select_from(DeadLetter)) or 0
        try:
            result = import_rows(session=session, rows=[header, *rows], name="fuzz.csv")
        except ValidationFailed as exc:
            assert exc.detail.startswith("fuzz.csv") and exc.problems
        else:
            # No datastream exists: every non-blank row is a dead letter with its line number.
            data_rows = [r for r in rows if any(c.strip() for c in r)]
            assert result.stored == 0
            after = session.scalar(select(func.count()).select_from(DeadLetter)) or 0
            assert after - before == len(data_rows) == result.dead_lettered
        finally:
            session.rollback()


@FUZZ
@given(
    content=st.binary(max_size=3000), ext=st.sampled_from([".xlsx", ".geojson", ".json", ".csv"])
)
def test_hazard_reader_survives_any_bytes(content: bytes, ext: str) -> None:
    try:
        hazard_io.read_any(content, "points" + ext)
    except ValidationFailed as exc:
        assert exc.detail and exc.problems


geojson_features = st.lists(
    st.fixed_dictionaries(
        {"type": st.sampled_from(["Feature", "feature", "Point"])},
        optional={
            "geometry": st.none()
            | json_values
            | st.fixed_dictionaries(
                {
                    "type": st.sampled_from(["Point", "Polygon", "LineString"]),
                    "coordinates": st.lists(st.floats() | st.text(max_size=3), max_size=3),
                }
            ),
            "properties": st.none()
            | json_values
            | st.dictionaries(cells, json_scalars, max_size=6),
        },
    ),
    max_size=6,
)


@FUZZ
@given(
    features=geojson_features, collection_type=st.sampled_from(["FeatureCollection", "Feature", 3])
)
def test_hazard_geojson_reader_structured(features: list[Any], collection_type: Any) -> None:
    doc = {"type": collection_type, "features": features}
    try:
        rows, _kind = hazard_io.read_geojson(json.dumps(doc).encode())
    except ValidationFailed as exc:
        assert exc.detail and exc.problems
    else:
        assert isinstance(rows, list)


@FUZZ
@given(
    table=st.lists(
        st.lists(
            xlsx_cells
            | st.integers()
            | st.floats(allow_nan=False, allow_infinity=False)
            | st.none(),
            max_size=6,
        ),
        max_size=8,
    )
)
def test_hazard_xlsx_reader_structured(table: list[list[Any]]) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in table:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    try:
        rows, _kind = hazard_io.read_xlsx(buffer.getvalue())
    except ValidationFailed as exc:
        assert exc.detail and exc.problems
    else:
        assert isinstance(rows, list)
