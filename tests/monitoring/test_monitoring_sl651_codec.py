"""SL 651-2014 codec: published sample frames, every report type in both encodings, round trips,
rejections with their reasons, the stream splitter and the `sl651-decode` CLI contract."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from fangxun.cli.main import app
from fangxun.monitoring.ingest import sl651
from fangxun.monitoring.ingest.sl651 import BEIJING, Element, FrameError, Header, Report

# Sample frames published with their decoded values ("SL651-2014全协议解析(HEX编码格式)",
# toymoban.com/news/detail-686475.html): a test report, a scheduled report, a link-maintenance
# report and the centre's answer to the test report.
TEST_REPORT = (
    "7E7E010012345678123430002B020003591011154947F1F1001234567848F0F0591011154920190000052619"
    "000005392300000127381211150320FA"
)
TEST_REPORT_ANSWER = "7E7E00123456780112343080080200035910111549471B75D4"
SCHEDULED = (
    "7E7E05001122334403E832002B020034170718110016F1F1001122334448F0F0170718110020190000402619"
    "0000403923000104903812109903A421"
)
LINK = "7E7E01001234567812342F0008020003591011155111036BCA"

runner = CliRunner()
T0 = datetime(2026, 7, 20, 16, 0, tzinfo=BEIJING)


def values(frame: sl651.Frame) -> list[tuple[str, float | None]]:
    assert frame.report is not None
    return [(e.id, e.value) for e in frame.report.elements]


def test_crc_is_modbus() -> None:
    assert sl651.crc(b"123456789") == 0x4B37  # the CRC-16/MODBUS check value


def test_published_test_report() -> None:
    frame = sl651.decode(bytes.fromhex(TEST_REPORT))
    assert frame.crc_ok and frame.encoding == "hex" and frame.upstream
    assert (frame.centre, frame.station, frame.password, frame.function_code) == (
        1, "0012345678", 0x1234, 0x30
    )  # fmt: skip
    assert frame.report is not None
    assert frame.report.serial == 3
    assert frame.report.station == "0012345678" and frame.report.station_type == 0x48
    # Published values: 当前降水量 0.5 mm, 降水量累计值 0.5 mm, 瞬时河道水位 0.127 m,
    # 电源电压 11.15 V.
    assert values(frame) == [("PJ", 0.5), ("PT", 0.5), ("Z", 0.127), ("VT", 11.15)]


def test_published_scheduled_report() -> None:
    frame = sl651.decode(bytes.fromhex(SCHEDULED))
    assert frame.function_code == 0x32 and frame.centre == 5 and frame.password == 0x03E8
    assert frame.report is not None and frame.report.serial == 0x34
    assert frame.report.sent_at == datetime(2017, 7, 18, 11, 0, 16, tzinfo=BEIJING)
    assert frame.report.observed_at == datetime(2017, 7, 18, 11, 0, tzinfo=BEIJING)
    # Published: 当前降水量 4 mm, 降水量累计值 4 mm, 瞬时河道水位 10.49 m, 电源电压 10.99 V.
    assert values(frame) == [("PJ", 4.0), ("PT", 4.0), ("Z", 10.49), ("VT", 10.99)]


def test_published_link_maintenance_and_answer() -> None:
    link = sl651.decode(bytes.fromhex(LINK))
    assert link.function_code == 0x2F and link.report is not None and link.report.serial == 3
    assert link.report.elements == ()
    # Our acknowledgement of the test report is byte for byte the published answer.
    frame = sl651.decode(bytes.fromhex(TEST_REPORT))
    assert sl651.acknowledgement(frame).hex().upper() == TEST_REPORT_ANSWER
    answer = sl651.decode(bytes.fromhex(TEST_REPORT_ANSWER))
    assert not answer.upstream and answer.end == sl651.ESC and answer.station == "0012345678"


def _report(function_code: int) -> Report:
    hour = tuple(round(0.1 * k, 1) for k in range(12))
    elements: tuple[Element, ...]
    if function_code == 0x34:
        elements = (
            Element("DRP", values=hour, step_s=300),
            Element("DRZ1", values=(*(1.0 + 0.01 * k for k in range(11)), None), step_s=300),
            Element("P1", 6.6), Element("PT", 123.4), Element("Z", -1.25), Element("VT", 12.07),
        )  # fmt: skip
    elif function_code == 0x31:
        elements = (Element("PN05", values=(0.0, 1.5, None, 2.0), step_s=300),)
    else:
        elements = (Element("PN05", 1.5), Element("PT", 88.8), Element("Z", 3.456),
                    Element("VT", 12.5))  # fmt: skip
    return Report(7, T0 + timedelta(seconds=12), "0012345678", 0x50, T0, elements)


@pytest.mark.parametrize("encoding", ["hex", "ascii"])
@pytest.mark.parametrize("function_code", [0x30, 0x31, 0x32, 0x33, 0x34, 0x37, 0x3A])
def test_every_report_type_round_trips(encoding: str, function_code: int) -> None:
    report = _report(function_code)
    header = Header(1, "0012345678", 0x1234, function_code)
    [raw] = sl651.encode(header, report, encoding=encoding)  # type: ignore[arg-type]
    frame = sl651.decode(raw)
    assert frame.encoding == encoding and frame.function_code == function_code
    assert frame.report is not None
    assert frame.report.serial == 7 and frame.report.observed_at == T0
    assert frame.report.sent_at == T0 + timedelta(seconds=12)
    got = {e.id: (e.value, e.values) for e in frame.report.elements}
    want = {e.id: (e.value, e.values) for e in report.elements}
    assert got == want


def test_negative_and_missing_values() -> None:
    assert sl651.decode_number(bytes.fromhex("FF000125"), 3, "x") == -0.125
    assert sl651.decode_number(bytes.fromhex("F0000125"), 3, "x") == -0.125
    assert sl651.decode_number(bytes.fromhex("FFFFFFFF"), 3, "x") is None
    assert sl651.encode_number(-1.25, 4, 3) == bytes.fromhex("FF001250")
    with pytest.raises(FrameError, match="not BCD"):
        sl651.decode_number(bytes.fromhex("00A1"), 1, "element Z")


def test_uniform_interval_series_times() -> None:
    frame = sl651.decode(sl651.encode(Header(1, "0012345678", 1, 0x31), _report(0x31))[0])
    assert frame.report is not None
    [series] = frame.report.elements
    assert series.id == "PN05" and series.step_s == 300 and series.values == (0.0, 1.5, None, 2.0)


elements_strategy = st.lists(
    st.one_of(
        st.builds(lambda v: Element("PN05", v / 10), st.integers(0, 99_999)),
        st.builds(lambda v: Element("PT", v / 10), st.integers(0, 99_999)),
        st.builds(lambda v: Element("Z", v / 1000), st.integers(-999_999, 9_999_999)),
        st.builds(lambda v: Element("VT", v / 100), st.integers(0, 9_999)),
        st.builds(
            lambda vs: Element(
                "DRP", values=tuple(None if v > 254 else v / 10 for v in vs), step_s=300
            ),
            st.lists(st.integers(0, 255), min_size=12, max_size=12),
        ),
    ),
    max_size=12,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    elements=elements_strategy,
    encoding=st.sampled_from(["hex", "ascii"]),
    function_code=st.sampled_from([0x30, 0x32, 0x33, 0x34]),
    serial=st.integers(0, 65535),
    minutes=st.integers(0, 50 * 365 * 24 * 60),
    address=st.integers(0, 9_999_999_999),
    max_body=st.one_of(st.none(), st.integers(20, 80)),
)
def test_encoder_decoder_round_trip(
    elements: list[Element],
    encoding: str,
    function_code: int,
    serial: int,
    minutes: int,
    address: int,
    max_body: int | None,
) -> None:
    observed = datetime(2001, 1, 1, tzinfo=BEIJING) + timedelta(minutes=minutes)
    station = f"{address:010d}"
    report = Report(serial, observed + timedelta(seconds=42), station, 0x50, observed,
                    tuple(elements))  # fmt: skip
    frames = sl651.encode(
        Header(2, station, 0xBEEF, function_code), report,
        encoding=encoding, max_body=max_body,  # type: ignore[arg-type]
    )  # fmt: skip
    joiner = sl651.Reassembler()
    decoded = None
    for raw in frames:
        frame = sl651.decode(raw)
        decoded = joiner.add(frame) if frame.multi_packet else frame
    assert decoded is not None and decoded.report is not None
    got = decoded.report
    assert (got.serial, got.station, got.observed_at, got.sent_at) == (
        serial, station, observed, observed + timedelta(seconds=42)
    )  # fmt: skip
    assert [(e.id, e.value, e.values) for e in got.elements] == [
        (e.id, e.value, e.values) for e in elements
    ]


def _refresh_crc(raw: bytearray) -> bytes:
    raw[-2:] = sl651.crc(bytes(raw[:-2])).to_bytes(2, "big")
    return bytes(raw)


@settings(max_examples=200, deadline=None)
@given(bit=st.integers(0, 8 * len(bytes.fromhex(SCHEDULED)) - 1))
def test_any_flipped_bit_is_refused(bit: int) -> None:
    raw = bytearray(bytes.fromhex(SCHEDULED))
    raw[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(FrameError) as err:
        sl651.decode(bytes(raw))
    assert err.value.reason  # a reason, whichever check caught it


def test_flipped_crc_bit_says_crc() -> None:
    raw = bytearray(bytes.fromhex(SCHEDULED))
    raw[30] ^= 0x01  # inside the body: the length and header still read
    with pytest.raises(FrameError, match="CRC mismatch") as err:
        sl651.decode(bytes(raw))
    assert err.value.frame is not None and err.value.frame.station == "0011223344"


def test_user_defined_element_and_crc_failure_still_shows_the_body() -> None:
    report = _report(0x32)
    [raw] = sl651.encode(Header(1, "0012345678", 0x1234, 0x32), report)
    body_end = len(raw) - 3
    extra = bytes.fromhex("FF0A19000123")  # FF0A, 3 bytes, 1 decimal: 12.3
    patched = bytearray(raw[:body_end] + extra + raw[body_end:])
    length = int.from_bytes(patched[11:13], "big") + len(extra)
    patched[11:13] = length.to_bytes(2, "big")
    frame = sl651.decode(_refresh_crc(patched))
    assert frame.report is not None and frame.report.elements[-1].id == "FF0A"
    assert frame.report.elements[-1].value == 12.3
    patched[-1] ^= 0xFF
    with pytest.raises(FrameError, match="CRC mismatch") as err:
        sl651.decode(bytes(patched))
    assert err.value.frame is not None and err.value.frame.report is not None  # shown, not trusted


def test_truncated_frame_says_truncated() -> None:
    raw = bytes.fromhex(SCHEDULED)
    for cut in (5, 20, len(raw) - 1):
        with pytest.raises(FrameError, match="truncated frame"):
            sl651.decode(raw[:cut])


def test_unknown_function_code_says_so() -> None:
    raw = bytearray(bytes.fromhex(SCHEDULED))
    raw[10] = 0x99
    with pytest.raises(FrameError, match="unknown function code 0x99"):
        sl651.decode(_refresh_crc(raw))


def test_splitter_keeps_good_frames_around_bad_ones() -> None:
    good = bytes.fromhex(SCHEDULED)
    bad_crc = bytearray(good)
    bad_crc[30] ^= 1
    truncated = good[:25]
    stream = b"junk" + truncated + bytes(bad_crc) + good + good[:10]
    splitter = sl651.FrameSplitter()
    chunks = []
    for i in range(0, len(stream), 7):  # arrives in small pieces
        chunks += splitter.feed(stream[i : i + 7])
    frames = [c.data for c in chunks if c.error is None]
    errors = [c.error for c in chunks if c.error is not None]
    decoded = []
    for f in frames:
        try:
            decoded.append(sl651.decode(f))
        except FrameError as exc:
            errors.append(exc.reason)
    assert [d.report.serial for d in decoded if d.report] == [0x34]
    assert any("truncated" in e for e in errors) and any("CRC" in e for e in errors)
    tail = splitter.flush()
    assert tail is not None and tail.data == good[:10] and "truncated" in (tail.error or "")


def test_ascii_frame_shape() -> None:
    [raw] = sl651.encode(Header(1, "0012345678", 0x1234, 0x32), _report(0x32), encoding="ascii")
    assert raw[0] == 0x01 and raw[1:13] == b"010012345678"
    assert b" ST 0012345678 P TT 2607201600 PN05 1.5 PT 88.8 Z 3.456 VT 12.50" in raw
    assert int(raw[-4:], 16) == sl651.crc(raw[:-4])


# --- the CLI contract ----------------------------------------------------------------------------


def test_cli_decodes_a_published_frame() -> None:
    result = runner.invoke(app, ["monitoring", "sl651-decode", SCHEDULED])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["crc_ok"] is True and out["station"] == "0011223344" and out["centre"] == 5
    assert out["function_code"] == "0x32" and out["serial"] == 52
    assert out["sent_at"] == "2017-07-18T11:00:16+08:00"
    assert out["observed_at"] == "2017-07-18T11:00:00+08:00"
    assert {"id": "Z", "value": 10.49}.items() <= out["elements"][2].items()


def test_cli_ascii_frame_given_as_hex() -> None:
    [raw] = sl651.encode(Header(1, "0012345678", 0x1234, 0x33), _report(0x33), encoding="ascii")
    result = runner.invoke(app, ["monitoring", "sl651-decode", raw.hex()])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["encoding"] == "ascii" and out["function_code"] == "0x33"
    first = {"id": "PN05", "value": 1.5, "unit": "mm", "digits": 3, "decimals": 1}
    assert out["elements"][0] == {**first, "name": "5分钟时段降水量"}


@pytest.mark.parametrize(
    ("frame_hex", "reason"),
    [
        (SCHEDULED[:-1] + "0", "CRC mismatch"),
        (SCHEDULED[:40], "truncated frame"),
        ("zz", "not hexadecimal"),
    ],
)
def test_cli_refuses_with_exit_2_and_reason(frame_hex: str, reason: str) -> None:
    result = runner.invoke(app, ["monitoring", "sl651-decode", frame_hex])
    assert result.exit_code == 2
    assert reason in result.stderr
    out = json.loads(result.stdout)
    assert out["crc_ok"] is False and reason in out["error"]
