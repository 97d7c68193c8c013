"""SL 651-2014 (水文监测数据通信规约) frames: decode and encode, HEX/BCD and ASCII.

A frame is a header, a body and a CRC-16 (Modbus: polynomial 0xA001 reflected, initial 0xFFFF,
sent high byte first) over every byte before the CRC. HEX/BCD frames start ``7E 7E``; ASCII frames
start with SOH (0x01) and carry the same fields as hexadecimal or decimal text.

HEX header: ``7E7E`` · centre (1) · station address (5, BCD) · password (2) · function code (1) ·
up/down flag (high 4 bits, 0 up, 8 down) and body length (low 12 bits) (2) · STX (0x02), or SYN
(0x16) followed by packet count and number (12 bits each, 3 bytes). The body length counts the
bytes between the start character and the end character (the packet bytes included). The body is
followed by the end character (ETX, ETB: more packets, ENQ: answer asked, EOT, ESC) and the CRC.
Downlink frames put the station address before the centre address.

Report body: serial number (2) · send time YYMMDDHHmmSS (BCD) · ``F1F1`` station address ·
station type (1) · ``F0F0`` observation time YYMMDDHHmm · elements: identifier (1) · data
definition (high 5 bits: bytes, low 3 bits: decimals) · BCD value (all ``FF``: no value; a first
byte ``FF`` (or a first nibble ``F``): negative). ``F4`` DRP and ``F5``–``FC`` DRZ1–8 are hourly
series of twelve 5-minute values in binary; ``04`` DRxnn starts a uniform-interval series.
Times in frames are Beijing time (UTC+08:00).

>>> frame = decode(bytes.fromhex(
...     "7E7E010012345678123430002B020003591011154947F1F1001234567848F0F059101115492019000005"
...     "2619000005392300000127381211150320FA"))
>>> frame.crc_ok, frame.station, frame.function_code
(True, '0012345678', 48)
>>> [(e.id, e.value) for e in frame.report.elements]
[('PJ', 0.5), ('PT', 0.5), ('Z', 0.127), ('VT', 11.15)]
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Literal

from fastcrc import crc16

#: Times in frames are Beijing time.
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")

SOH_HEX = b"\x7e\x7e"
SOH_ASCII = 0x01
STX, SYN = 0x02, 0x16
ETX, ETB, ENQ, EOT, ACK, NAK, ESC = 0x03, 0x17, 0x05, 0x04, 0x06, 0x15, 0x1B
END_CHARS = {ETX: "ETX", ETB: "ETB", ENQ: "ENQ", EOT: "EOT", ACK: "ACK", NAK: "NAK", ESC: "ESC"}

#: HEX header bytes up to and including the start character.
HEX_HEADER = 14
#: ASCII header characters up to and including the start character.
ASCII_HEADER = 24
MAX_BODY = 0xFFF

#: Function codes (功能码) of SL 651-2014, table 8.
FUNCTION_CODES: dict[int, str] = {
    0x2F: "link maintenance 链路维持报",
    0x30: "test 测试报",
    0x31: "uniform-interval 均匀时段水文信息报",
    0x32: "scheduled 遥测站定时报",
    0x33: "additional 遥测站加报报",
    0x34: "hourly 遥测站小时报",
    0x35: "manual 遥测站人工置数报",
    0x36: "picture 遥测站图片报",
    0x37: "real-time query answer 中心站查询遥测站实时数据",
    0x38: "period query answer 中心站查询遥测站时段数据",
    0x39: "manual query answer 中心站查询遥测站人工置数",
    0x3A: "element query answer 中心站查询遥测站指定要素数据",
    0x40: "modify basic configuration 中心站修改遥测站基本配置表",
    0x41: "read basic configuration 中心站读取遥测站基本配置表",
    0x42: "modify runtime parameters 中心站修改遥测站运行参数配置表",
    0x43: "read runtime parameters 中心站读取遥测站运行参数配置表",
    0x44: "pump motor query 查询水泵电机实时工作数据",
    0x45: "software version 查询遥测终端软件版本",
    0x46: "status and alarms 查询遥测站状态和报警信息",
    0x47: "initialise storage 初始化固态存储数据",
    0x48: "factory settings 恢复终端机出厂设置",
    0x49: "change password 修改密码",
    0x4A: "set clock 设置遥测站时钟",
    0x4B: "IC card status 设置遥测终端IC卡状态",
    0x4C: "pump control 控制水泵开关命令",
    0x4D: "valve control 控制阀门开关命令",
    0x4E: "gate control 控制闸门开关命令",
    0x4F: "water quota 水量定值控制命令",
    0x50: "event record 中心站查询遥测站事件记录",
    0x51: "clock query 中心站查询遥测站时钟",
}
#: Report types whose body is serial, send time, station, type, observation time, elements.
ELEMENT_REPORTS = frozenset({0x30, 0x31, 0x32, 0x33, 0x34, 0x37, 0x38, 0x3A})
#: Reports the centre acknowledges (after the data is committed).
ACKNOWLEDGED = frozenset({0x2F, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36})

#: Station types (遥测站分类码).
STATION_TYPES: dict[int, str] = {
    0x50: "P rain 降水", 0x48: "H river 河道", 0x4B: "K reservoir 水库(湖泊)",
    0x5A: "Z gate 闸坝", 0x44: "D pump 泵站", 0x54: "T tide 潮汐", 0x4D: "M soil 墒情",
    0x47: "G groundwater 地下水", 0x51: "Q water quality 水质", 0x49: "I intake 取水口",
    0x4F: "O outfall 排水口",
}  # fmt: skip


@dataclass(frozen=True)
class ElementDef:
    """An element identifier (要素标识符): code, name, unit, default data definition."""

    code: int
    id: str
    name: str
    unit: str
    definition: int


def _defs(*rows: tuple[int, str, str, str, int]) -> dict[int, ElementDef]:
    return {row[0]: ElementDef(*row) for row in rows}


#: Element identifiers of SL 651-2014 appendix C (the numeric ones: identifier, id, unit, N(x,y)).
ELEMENTS: dict[int, ElementDef] = _defs(
    (0x01, "AC", "断面面积", "m2", 0x2A), (0x02, "AI", "瞬时气温", "°C", 0x11),
    (0x03, "C", "瞬时水温", "°C", 0x11), (0x05, "DT", "时段长", "h", 0x19),
    (0x06, "ED", "日蒸发量", "mm", 0x19), (0x07, "EJ", "当前蒸发", "mm", 0x19),
    (0x08, "FL", "气压", "hPa", 0x28), (0x09, "GH", "闸门开启高度", "m", 0x1A),
    (0x0A, "GN", "闸门编号", "1", 0x08), (0x0B, "GS", "输水设备类别", "1", 0x08),
    (0x0C, "GT", "闸门开启孔数", "1", 0x10), (0x0D, "GTP", "地温", "°C", 0x11),
    (0x0E, "H", "地下水瞬时埋深", "m", 0x2A), (0x0F, "HW", "波浪高度", "m", 0x2A),
    (0x10, "M10", "10厘米处土壤含水量", "%", 0x21), (0x11, "M20", "20厘米处土壤含水量", "%", 0x21),
    (0x12, "M30", "30厘米处土壤含水量", "%", 0x21), (0x13, "M40", "40厘米处土壤含水量", "%", 0x21),
    (0x14, "M50", "50厘米处土壤含水量", "%", 0x21), (0x15, "M60", "60厘米处土壤含水量", "%", 0x21),
    (0x16, "M80", "80厘米处土壤含水量", "%", 0x21),
    (0x17, "M100", "100厘米处土壤含水量", "%", 0x21),
    (0x18, "MST", "湿度", "%", 0x21), (0x19, "NS", "开机台数", "1", 0x10),
    (0x1A, "P1", "1小时时段降水量", "mm", 0x19), (0x1B, "P2", "2小时时段降水量", "mm", 0x19),
    (0x1C, "P3", "3小时时段降水量", "mm", 0x19), (0x1D, "P6", "6小时时段降水量", "mm", 0x19),
    (0x1E, "P12", "12小时时段降水量", "mm", 0x19), (0x1F, "PD", "日降水量", "mm", 0x19),
    (0x20, "PJ", "当前降水量", "mm", 0x19), (0x21, "PN01", "1分钟时段降水量", "mm", 0x19),
    (0x22, "PN05", "5分钟时段降水量", "mm", 0x19), (0x23, "PN10", "10分钟时段降水量", "mm", 0x19),
    (0x24, "PN30", "30分钟时段降水量", "mm", 0x19), (0x25, "PR", "暴雨量", "mm", 0x19),
    (0x26, "PT", "降水量累计值", "mm", 0x19), (0x27, "Q", "瞬时流量", "m3/s", 0x2B),
    (0x28, "Q1", "取(排)水口流量1", "m3/s", 0x2B), (0x29, "Q2", "取(排)水口流量2", "m3/s", 0x2B),
    (0x2A, "Q3", "取(排)水口流量3", "m3/s", 0x2B), (0x2B, "Q4", "取(排)水口流量4", "m3/s", 0x2B),
    (0x2C, "Q5", "取(排)水口流量5", "m3/s", 0x2B), (0x2D, "Q6", "取(排)水口流量6", "m3/s", 0x2B),
    (0x2E, "Q7", "取(排)水口流量7", "m3/s", 0x2B), (0x2F, "Q8", "取(排)水口流量8", "m3/s", 0x2B),
    (0x30, "QA", "总出库流量", "m3/s", 0x2B), (0x31, "QZ", "输水设备流量", "m3/s", 0x2B),
    (0x32, "SW", "输沙量", "kg", 0x58), (0x33, "UC", "风向", "1", 0x10),
    (0x34, "UE", "风力", "1", 0x10), (0x35, "US", "风速", "m/s", 0x19),
    (0x36, "VA", "断面平均流速", "m/s", 0x1B), (0x37, "VJ", "当前瞬时流速", "m/s", 0x1B),
    (0x38, "VT", "电源电压", "V", 0x12), (0x39, "Z", "瞬时河道水位、潮位", "m", 0x23),
    (0x3A, "ZB", "库(闸、站)下水位", "m", 0x23), (0x3B, "ZU", "库(闸、站)上水位", "m", 0x23),
    (0x3C, "Z1", "取(排)水口水位1", "m", 0x23), (0x3D, "Z2", "取(排)水口水位2", "m", 0x23),
    (0x3E, "Z3", "取(排)水口水位3", "m", 0x23), (0x3F, "Z4", "取(排)水口水位4", "m", 0x23),
    (0x40, "Z5", "取(排)水口水位5", "m", 0x23), (0x41, "Z6", "取(排)水口水位6", "m", 0x23),
    (0x42, "Z7", "取(排)水口水位7", "m", 0x23), (0x43, "Z8", "取(排)水口水位8", "m", 0x23),
    (0x44, "SQ", "含沙量", "kg/m3", 0x2B), (0x46, "PH", "pH值", "1", 0x22),
    (0x47, "DO", "溶解氧", "mg/L", 0x21), (0x48, "COND", "电导率", "μS/cm", 0x28),
    (0x49, "TURB", "浊度", "NTU", 0x18), (0x4A, "CODMN", "高锰酸盐指数", "mg/L", 0x21),
    (0x4B, "REDOX", "氧化还原电位", "mV", 0x29), (0x4C, "NH4N", "氨氮", "mg/L", 0x32),
    (0x4D, "TP", "总磷", "mg/L", 0x1B), (0x4E, "TN", "总氮", "mg/L", 0x1A),
    (0x4F, "TOC", "总有机碳", "mg/L", 0x1A), (0x50, "CU", "铜", "mg/L", 0x2C),
    (0x51, "ZN", "锌", "mg/L", 0x2C), (0x52, "SE", "硒", "mg/L", 0x2D),
    (0x53, "AS", "砷", "mg/L", 0x2D), (0x54, "THG", "总汞", "mg/L", 0x2D),
    (0x55, "CD", "镉", "mg/L", 0x2D), (0x56, "PB", "铅", "mg/L", 0x2D),
    (0x57, "CHLA", "叶绿素a", "mg/L", 0x2C),
    (0x58, "WP1", "水压1", "kPa", 0x22), (0x59, "WP2", "水压2", "kPa", 0x22),
    (0x5A, "WP3", "水压3", "kPa", 0x22), (0x5B, "WP4", "水压4", "kPa", 0x22),
    (0x5C, "WP5", "水压5", "kPa", 0x22), (0x5D, "WP6", "水压6", "kPa", 0x22),
    (0x5E, "WP7", "水压7", "kPa", 0x22), (0x5F, "WP8", "水压8", "kPa", 0x22),
    (0x70, "VTA", "交流A相电压", "V", 0x19), (0x71, "VTB", "交流B相电压", "V", 0x19),
    (0x72, "VTC", "交流C相电压", "V", 0x19), (0x73, "VIA", "交流A相电流", "A", 0x19),
    (0x74, "VIB", "交流B相电流", "A", 0x19), (0x75, "VIC", "交流C相电流", "A", 0x19),
)  # fmt: skip
ELEMENTS_BY_ID: dict[str, ElementDef] = {d.id: d for d in ELEMENTS.values()}

#: Hourly series of twelve 5-minute values (binary, not BCD): DRP rain in 0.1 mm (1 byte each,
#: FF: none), DRZ1–8 levels in 0.01 m (2 bytes each, FFFF: none).
SERIES: dict[int, tuple[str, str, str, int, float]] = {
    0xF4: ("DRP", "1小时内每5分钟时段雨量", "mm", 1, 0.1),
    **{0xF4 + n: (f"DRZ{n}", f"1小时内5分钟间隔相对水位{n}", "m", 2, 0.01) for n in range(1, 9)},
}
SERIES_BY_ID = {v[0]: k for k, v in SERIES.items()}
TIME_STEP = 0x04  # DRxnn: time step code DDHHMM of a uniform-interval series
ADDRESS_ID, OBS_TIME_ID, MANUAL_ID, PICTURE_ID = 0xF1, 0xF0, 0xF2, 0xF3
STATUS_ID = 0x45  # ZT: status and alarm bits (4 bytes, binary)


class FrameError(ValueError):
    """A frame that cannot be decoded; ``str()`` says what and where. ``frame`` holds what was
    decoded before the fault (the header, when it got that far)."""

    def __init__(self, reason: str, frame: Frame | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.frame = frame


@dataclass(frozen=True)
class Element:
    """One decoded element. ``value`` in ``unit`` (None: the station sent 'no value'); a series
    (DRP, DRZn, a uniform-interval series) has ``values`` at ``step_s`` seconds instead."""

    id: str
    value: float | None = None
    unit: str = ""
    name: str = ""
    digits: int = 0
    decimals: int = 0
    values: tuple[float | None, ...] | None = None
    step_s: int | None = None
    text: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The element as the CLI prints it."""
        out: dict[str, Any] = {"id": self.id, "value": self.value, "unit": self.unit}
        if self.name:
            out["name"] = self.name
        if self.values is not None:
            out["values"] = list(self.values)
            out["step_s"] = self.step_s
        else:
            out["digits"] = self.digits
            out["decimals"] = self.decimals
        if self.text is not None:
            out["text"] = self.text
        return out


@dataclass(frozen=True)
class Report:
    """The body of a report: serial, send time, station, observation time, elements."""

    serial: int
    sent_at: datetime
    station: str | None = None
    station_type: int | None = None
    observed_at: datetime | None = None
    elements: tuple[Element, ...] = ()


@dataclass(frozen=True)
class Frame:
    """One frame (one packet of a multi-packet message), checked and, when it carries a whole
    message, decoded into ``report``."""

    encoding: Literal["hex", "ascii"]
    centre: int
    station: str
    password: int
    function_code: int
    upstream: bool
    start: int
    end: int
    body: bytes
    crc_ok: bool
    raw: bytes
    packet_count: int | None = None
    packet_number: int | None = None
    report: Report | None = None

    @property
    def multi_packet(self) -> bool:
        """True for a packet of a multi-packet message (start character SYN)."""
        return self.start == SYN

    def as_json(self) -> dict[str, Any]:
        """The frame as ``fangxun monitoring sl651-decode`` prints it."""
        r = self.report
        out: dict[str, Any] = {
            "crc_ok": self.crc_ok,
            "encoding": self.encoding,
            "station": self.station,
            "centre": self.centre,
            "password": f"{self.password:04X}",
            "function_code": f"0x{self.function_code:02X}",
            "function": FUNCTION_CODES.get(self.function_code, "unknown"),
            "direction": "up" if self.upstream else "down",
            "end": END_CHARS.get(self.end, f"0x{self.end:02X}"),
            "serial": r.serial if r else None,
            "sent_at": r.sent_at.isoformat() if r else None,
            "observed_at": r.observed_at.isoformat() if r and r.observed_at else None,
            "station_type": STATION_TYPES.get(r.station_type, f"0x{r.station_type:02X}")
            if r and r.station_type is not None
            else None,
            "elements": [e.as_json() for e in r.elements] if r else [],
        }
        if self.multi_packet:
            out["packet"] = {"count": self.packet_count, "number": self.packet_number}
        return out


def crc(data: bytes) -> int:
    """CRC-16/Modbus of ``data`` (poly 0xA001 reflected, init 0xFFFF).

    >>> hex(crc(b"123456789"))
    '0x4b37'
    """
    return int(crc16.modbus(data))


# --- BCD ---------------------------------------------------------------------------------------


def bcd_digits(data: bytes, where: str) -> str:
    """The decimal digits of packed BCD ``data``; a nibble above 9 is an error naming ``where``."""
    text = data.hex()
    if not text.isdigit():
        raise FrameError(f"{where}: not BCD ({data.hex().upper()})")
    return text


def to_bcd(digits: str) -> bytes:
    """Packed BCD of a string of an even number of decimal digits."""
    return bytes.fromhex(digits)


def _time(digits: str, where: str) -> datetime:
    fmt = "%y%m%d%H%M%S" if len(digits) == 12 else "%y%m%d%H%M"
    try:
        return datetime.strptime(digits, fmt).replace(tzinfo=BEIJING)
    except ValueError:
        raise FrameError(f"{where}: not a valid time ({digits})") from None


def _fmt_time(t: datetime, seconds: bool) -> str:
    return t.astimezone(BEIJING).strftime("%y%m%d%H%M%S" if seconds else "%y%m%d%H%M")


def decode_number(data: bytes, decimals: int, where: str) -> float | None:
    """A BCD value with ``decimals`` decimals; all ``FF``: None (no value); a first byte ``FF`` or
    a first nibble ``F``: negative."""
    if all(b == 0xFF for b in data):
        return None
    sign = 1
    if data[0] == 0xFF:
        sign, data = -1, data[1:]
    elif data[0] >> 4 == 0xF:
        sign, data = -1, bytes([data[0] & 0x0F]) + data[1:]
    digits = bcd_digits(data, where)
    return sign * float(Decimal(int(digits)).scaleb(-decimals))


def encode_number(value: float | None, nbytes: int, decimals: int) -> bytes:
    """``value`` as ``nbytes`` of BCD with ``decimals`` decimals (negative: first byte ``FF``;
    None: all ``FF``). Raises ``ValueError`` when it does not fit."""
    if value is None:
        return b"\xff" * nbytes
    scaled = round(Decimal(repr(abs(value))).scaleb(decimals))
    width = 2 * (nbytes - 1 if value < 0 else nbytes)
    text = f"{scaled:0{width}d}"
    if len(text) > width:
        raise ValueError(f"{value} does not fit in {nbytes} BCD bytes with {decimals} decimals")
    return (b"\xff" if value < 0 else b"") + to_bcd(text)


def definition(nbytes: int, decimals: int) -> int:
    """The data-definition byte: bytes in the high 5 bits, decimals in the low 3."""
    return (nbytes << 3) | decimals


# --- HEX body ----------------------------------------------------------------------------------


def _element_def(code: int) -> ElementDef:
    found = ELEMENTS.get(code)
    if found is None:
        return ElementDef(code, f"0x{code:02X}", "unknown element 未知要素", "", 0)
    return found


def _decode_hex_hourly_series(body: bytes, pos: int, ident: int, where: str) -> tuple[Element, int]:
    """The 12 five-minute values of an hourly series element (DRP, DRZ1…) at ``pos``; returns
    the element and the position after it."""
    name_id, name, unit, width, scale = SERIES[ident]
    chunk = body[pos + 2 : pos + 2 + 12 * width]
    if len(chunk) < 12 * width:
        raise FrameError(f"{where} ({name_id}): needs {12 * width} bytes")
    vals: list[float | None] = []
    for k in range(12):
        raw = int.from_bytes(chunk[k * width : (k + 1) * width], "big")
        vals.append(None if raw == (1 << (8 * width)) - 1 else round(raw * scale, 3))
    element = Element(name_id, None, unit, name, values=tuple(vals), step_s=300)
    return element, pos + 2 + 12 * width


def _decode_hex_uniform_series(body: bytes, pos: int, ddef: int, where: str) -> Element:
    """A uniform-interval series: the time-step code at ``pos``, one element identifier and its
    values to the end of the body."""
    if ddef != 0x18 or pos + 5 > len(body):
        raise FrameError(f"{where}: time-step code needs data definition 0x18 and 3 bytes")
    d, h, m = (int(x) for x in re.findall("..", bcd_digits(body[pos + 2 : pos + 5], where)))
    step = ((d * 24 + h) * 60 + m) * 60
    pos += 5
    if pos + 2 > len(body) or step <= 0:
        raise FrameError(f"{where}: a uniform-interval series needs a step and an element")
    series_def = _element_def(body[pos])
    nbytes, decimals = body[pos + 1] >> 3, body[pos + 1] & 7
    rest = body[pos + 2 :]
    if nbytes == 0 or len(rest) % nbytes:
        raise FrameError(
            f"element {series_def.id} series: {len(rest)} bytes is not a multiple of {nbytes}"
        )
    vals = [
        decode_number(rest[i : i + nbytes], decimals, f"{series_def.id} series value {i}")
        for i in range(0, len(rest), nbytes)
    ]
    return Element(series_def.id, None, series_def.unit, series_def.name, nbytes * 2,
                   decimals, values=tuple(vals), step_s=step)  # fmt: skip


def _decode_hex_elements(body: bytes, pos: int, observed_at: datetime | None) -> list[Element]:
    out: list[Element] = []
    while pos < len(body):
        if pos + 2 > len(body):
            raise FrameError(f"element at body byte {pos}: truncated identifier")
        ident, ddef = body[pos], body[pos + 1]
        where = f"element 0x{ident:02X} at body byte {pos}"
        if ident in SERIES and ident != TIME_STEP:
            element, pos = _decode_hex_hourly_series(body, pos, ident, where)
            out.append(element)
            continue
        if ident == TIME_STEP:
            out.append(_decode_hex_uniform_series(body, pos, ddef, where))
            return out
        if ident in (MANUAL_ID, PICTURE_ID):
            # Free text or a JPEG to the end of the body (identifier doubled as F2F2 / F3F3).
            text = body[pos + 2 :].decode("gbk", errors="replace") if ident == MANUAL_ID else None
            out.append(Element("RGZS" if ident == MANUAL_ID else "PIC", None, text=text))
            return out
        custom = None
        if ident == 0xFF:
            # A two-byte user-defined identifier (FFxx) and then its data definition.
            if pos + 3 > len(body):
                raise FrameError(f"{where}: truncated user-defined identifier")
            custom, ddef = body[pos + 1], body[pos + 2]
            pos += 1
        nbytes, decimals = ddef >> 3, ddef & 7
        if nbytes == 0:
            raise FrameError(f"{where}: data definition 0x{ddef:02X} gives 0 bytes")
        data = body[pos + 2 : pos + 2 + nbytes]
        if len(data) < nbytes:
            raise FrameError(f"{where}: needs {nbytes} bytes, {len(data)} left")
        meta = _element_def(ident)
        if custom is not None:
            meta = ElementDef(0xFF00 | custom, f"FF{custom:02X}", "user-defined 自定义要素", "", 0)
        if ident == STATUS_ID and nbytes == 4:
            out.append(Element("ZT", float(int.from_bytes(data, "big")), "1", "状态及报警信息", 8))
        else:
            value = decode_number(data, decimals, f"{where} ({meta.id})")
            out.append(Element(meta.id, value, meta.unit, meta.name, nbytes * 2, decimals))
        pos += 2 + nbytes
    return out


def _decode_hex_body(function_code: int, body: bytes) -> Report:
    if len(body) < 8:
        raise FrameError(f"body of {len(body)} bytes: a report needs serial and send time (8)")
    serial = int.from_bytes(body[0:2], "big")
    sent_at = _time(bcd_digits(body[2:8], "send time"), "send time")
    if function_code not in ELEMENT_REPORTS and function_code != 0x35:
        return Report(serial, sent_at)
    pos = 8
    station = station_type = observed_at = None
    if function_code == 0x35:
        return Report(serial, sent_at, elements=tuple(_decode_hex_elements(body, pos, None)))
    if body[pos : pos + 2] != b"\xf1\xf1" or len(body) < pos + 8:
        raise FrameError("body byte 8: station address identifier F1F1 expected")
    station = bcd_digits(body[pos + 2 : pos + 7], "body station address")
    station_type = body[pos + 7]
    pos += 8
    if body[pos : pos + 2] != b"\xf0\xf0" or len(body) < pos + 7:
        raise FrameError(f"body byte {pos}: observation time identifier F0F0 expected")
    observed_at = _time(bcd_digits(body[pos + 2 : pos + 7], "observation time"), "observation time")
    pos += 7
    elements = _decode_hex_elements(body, pos, observed_at)
    return Report(serial, sent_at, station, station_type, observed_at, tuple(elements))


# --- ASCII body --------------------------------------------------------------------------------


def _ascii_number(token: str, where: str) -> tuple[float | None, int]:
    if token and set(token) <= {"F"}:
        return None, 0
    if not re.fullmatch(r"[+-]?\d+(\.\d+)?", token):
        raise FrameError(f"{where}: not a number ({token!r})")
    decimals = len(token.split(".")[1]) if "." in token else 0
    return float(token), decimals


def _ascii_hourly_series(ident: str, value_token: str) -> Element:
    """An hourly series element (DRP, DRZ1…) in ASCII: 12 values as hexadecimal characters."""
    name_id, name, unit, width, scale = SERIES[SERIES_BY_ID[ident]]
    if len(value_token) != 24 * width:
        raise FrameError(f"ASCII element {ident}: {24 * width} hex characters expected")
    vals: list[float | None] = []
    for k in range(12):
        chunk = value_token[k * 2 * width : (k + 1) * 2 * width]
        try:
            raw = int(chunk, 16)
        except ValueError:
            raise FrameError(f"ASCII element {ident}: {chunk!r} is not hex") from None
        vals.append(None if raw == (1 << (8 * width)) - 1 else round(raw * scale, 3))
    return Element(name_id, None, unit, name, values=tuple(vals), step_s=300)


def _decode_ascii_body(function_code: int, body: bytes) -> Report:
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        raise FrameError("ASCII body holds a non-ASCII byte") from None
    tokens = text.split()
    if not tokens or len(tokens[0]) < 16:
        raise FrameError("ASCII body: serial (4 hex) and send time (12 digits) expected")
    head = tokens[0]
    try:
        serial = int(head[0:4], 16)
    except ValueError:
        raise FrameError(f"ASCII body: serial {head[0:4]!r} is not hexadecimal") from None
    sent_at = _time(head[4:16], "send time")
    if function_code not in ELEMENT_REPORTS:
        return Report(serial, sent_at)
    rest = tokens[1:]
    if len(rest) < 5 or rest[0] != "ST" or rest[3] != "TT":
        raise FrameError("ASCII body: 'ST <station> <type> TT <time>' expected after send time")
    station = rest[1]
    if not re.fullmatch(r"\d{10}", station):
        raise FrameError(f"ASCII body: station address {station!r} is not 10 digits")
    station_type = ord(rest[2][0])
    observed_at = _time(rest[4], "observation time")
    elements: list[Element] = []
    i = 5
    step: int | None = None
    while i < len(rest):
        ident = rest[i]
        if i + 1 >= len(rest):
            raise FrameError(f"ASCII element {ident!r}: no value")
        value_token = rest[i + 1]
        if ident in SERIES_BY_ID:
            elements.append(_ascii_hourly_series(ident, value_token))
            i += 2
            continue
        if ident == "DRxnn" or (ident.startswith("DR") and ident[2:3] in "DHN" and len(ident) == 5):
            # Time-step code: DRDnn (days), DRHnn (hours), DRNnn (minutes); a series follows.
            unit_s = {"D": 86400, "H": 3600, "N": 60}[ident[2]]
            step = int(ident[3:5]) * unit_s
            i += 1
            continue
        meta = ELEMENTS_BY_ID.get(ident)
        if meta is None:
            raise FrameError(f"ASCII element {ident!r} is not an SL 651 element identifier")
        if step is not None:
            values: list[float | None] = []
            decimals = 0
            for token in rest[i + 1 :]:
                v, decimals = _ascii_number(token, f"ASCII series {ident}")
                values.append(v)
            elements.append(
                Element(ident, None, meta.unit, meta.name, 0, decimals, tuple(values), step)
            )
            break
        value, decimals = _ascii_number(value_token, f"ASCII element {ident}")
        elements.append(Element(ident, value, meta.unit, meta.name, len(value_token), decimals))
        i += 2
    return Report(serial, sent_at, station, station_type, observed_at, tuple(elements))


# --- frames ------------------------------------------------------------------------------------


def frame_length(buf: bytes | bytearray, start: int = 0) -> int | None:
    """Total length of the frame starting at ``buf[start]`` from its header, or None when the
    header is not complete yet. Raises :class:`FrameError` when the header cannot be a frame."""
    if buf[start : start + 2] == SOH_HEX:
        if len(buf) - start < HEX_HEADER:
            return None
        length = int.from_bytes(buf[start + 11 : start + 13], "big") & 0xFFF
        return HEX_HEADER + length + 3
    if buf[start] == SOH_ASCII:
        if len(buf) - start < ASCII_HEADER:
            return None
        field_ = bytes(buf[start + 19 : start + 23])
        try:
            length = int(field_.decode("ascii"), 16) & 0xFFF
        except (UnicodeDecodeError, ValueError):
            raise FrameError(f"ASCII header: length field {field_!r} is not hexadecimal") from None
        return ASCII_HEADER + length + 5
    raise FrameError("not a frame start (7E7E or SOH)")


def decode(raw: bytes, *, decode_body: bool = True) -> Frame:
    """Check and decode one frame. Raises :class:`FrameError` (with the header decoded so far in
    ``.frame``) for a bad CRC, a wrong length, an unknown function code or a body that does not
    decode. A packet of a multi-packet message is checked but its body is left for
    :class:`Reassembler`."""
    if len(raw) < 2:
        raise FrameError(f"truncated frame: {len(raw)} bytes")
    if raw[:2] == SOH_HEX:
        frame = _hex_header(raw)
    elif raw[0] == SOH_ASCII:
        frame = _ascii_header(raw)
    else:
        raise FrameError(f"frame starts with {raw[:2].hex().upper()}, not 7E7E (HEX) or 01 (ASCII)")
    if not frame.crc_ok:
        # Decode what can be read, for the operator's eyes only: none of it is trusted.
        if frame.upstream and not frame.multi_packet:
            with contextlib.suppress(FrameError, ValueError):
                frame = replace(
                    frame,
                    report=decode_body_of(frame.encoding, frame.function_code, frame.body),
                )
        raise FrameError("CRC mismatch: the frame was damaged on the way", frame)
    if frame.function_code not in FUNCTION_CODES:
        raise FrameError(f"unknown function code 0x{frame.function_code:02X}", frame)
    if frame.end not in END_CHARS:
        raise FrameError(f"unknown end character 0x{frame.end:02X}", frame)
    if not decode_body or frame.multi_packet:
        return frame
    try:
        # A downlink answer carries serial and send time only.
        code = frame.function_code if frame.upstream else 0x2F
        report = decode_body_of(frame.encoding, code, frame.body)
    except FrameError as exc:
        raise FrameError(exc.reason, frame) from None
    return replace(frame, report=report)


def decode_body_of(encoding: str, function_code: int, body: bytes) -> Report:
    """Decode a whole message body (one packet's, or the joined bodies of a multi-packet one)."""
    try:
        if encoding == "hex":
            return _decode_hex_body(function_code, body)
        return _decode_ascii_body(function_code, body)
    except FrameError:
        raise
    except (IndexError, ValueError, UnicodeError) as exc:
        # A body the checks above missed: still a reason, never a crash of the link.
        raise FrameError(f"body does not decode: {exc}") from None


def _hex_header(raw: bytes) -> Frame:
    if len(raw) < HEX_HEADER + 3:
        raise FrameError(f"truncated frame: {len(raw)} bytes, a HEX frame has at least 17")
    flag_len = int.from_bytes(raw[11:13], "big")
    upstream = (flag_len >> 12) == 0
    if (flag_len >> 12) not in (0, 8):
        raise FrameError(f"header byte 11: up/down flag {flag_len >> 12:X} is neither 0 nor 8")
    length = flag_len & 0xFFF
    expected = HEX_HEADER + length + 3
    if len(raw) != expected:
        raise FrameError(
            f"truncated frame: the header gives a body of {length} bytes, so {expected} bytes "
            f"in all, but {len(raw)} arrived"
        )
    if upstream:
        centre, addr = raw[2], raw[3:8]
    else:
        addr, centre = raw[2:7], raw[7]
    station = bcd_digits(addr, "station address")
    start = raw[13]
    if start not in (STX, SYN):
        raise FrameError(f"header byte 13: start character 0x{start:02X} is neither STX nor SYN")
    body_start = HEX_HEADER
    count = number = None
    if start == SYN:
        if length < 3:
            raise FrameError("multi-packet frame without packet count and number")
        packet = int.from_bytes(raw[14:17], "big")
        count, number = packet >> 12, packet & 0xFFF
        body_start += 3
    end = raw[HEX_HEADER + length]
    sent_crc = int.from_bytes(raw[-2:], "big")
    return Frame(
        "hex", centre, station, int.from_bytes(raw[8:10], "big"), raw[10], upstream, start, end,
        bytes(raw[body_start : HEX_HEADER + length]), crc(raw[:-2]) == sent_crc, bytes(raw),
        count, number,
    )  # fmt: skip


def _ascii_header(raw: bytes) -> Frame:
    if len(raw) < ASCII_HEADER + 5:
        raise FrameError(f"truncated frame: {len(raw)} bytes, an ASCII frame has at least 29")
    try:
        head = raw[1:23].decode("ascii")
        centre = int(head[0:2], 16)
        station = head[2:12]
        password = int(head[12:16], 16)
        function_code = int(head[16:18], 16)
        flag_len = int(head[18:22], 16)
        sent_crc = int(raw[-4:].decode("ascii"), 16)
    except (UnicodeDecodeError, ValueError):
        raise FrameError("ASCII header: a field is not hexadecimal") from None
    if not station.isdigit():
        raise FrameError(f"ASCII header: station address {station!r} is not 10 digits")
    if (flag_len >> 12) not in (0, 8):
        raise FrameError(f"ASCII header: up/down flag {flag_len >> 12:X} is neither 0 nor 8")
    length = flag_len & 0xFFF
    expected = ASCII_HEADER + length + 5
    if len(raw) != expected:
        raise FrameError(
            f"truncated frame: the header gives a body of {length} characters, so {expected} "
            f"in all, but {len(raw)} arrived"
        )
    start = raw[23]
    if start not in (STX, SYN):
        raise FrameError(f"ASCII header: start character 0x{start:02X} is neither STX nor SYN")
    body_start = ASCII_HEADER
    count = number = None
    if start == SYN:
        try:
            count, number = int(raw[24:27], 16), int(raw[27:30], 16)
        except ValueError:
            raise FrameError("ASCII multi-packet frame: packet count/number not hex") from None
        body_start += 6
    end = raw[ASCII_HEADER + length]
    return Frame(
        "ascii", centre, station, password, function_code, (flag_len >> 12) == 0, start, end,
        bytes(raw[body_start : ASCII_HEADER + length]), crc(raw[:-4]) == sent_crc, bytes(raw),
        count, number,
    )  # fmt: skip


# --- encoding ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Header:
    """What the encoder needs for a frame's header."""

    centre: int
    station: str
    password: int
    function_code: int
    upstream: bool = True


def _hex_frame(h: Header, body: bytes, end: int, packet: tuple[int, int] | None) -> bytes:
    addr = to_bcd(h.station)
    prefix = bytes([h.centre]) + addr if h.upstream else addr + bytes([h.centre])
    extra = b"" if packet is None else ((packet[0] << 12) | packet[1]).to_bytes(3, "big")
    length = len(body) + len(extra)
    if length > MAX_BODY:
        raise ValueError(f"body of {length} bytes exceeds {MAX_BODY}")
    flag = 0 if h.upstream else 0x8000
    head = (
        SOH_HEX + prefix + h.password.to_bytes(2, "big") + bytes([h.function_code])
        + (flag | length).to_bytes(2, "big") + bytes([STX if packet is None else SYN])
    )  # fmt: skip
    frame = head + extra + body + bytes([end])
    return frame + crc(frame).to_bytes(2, "big")


def _ascii_frame(h: Header, body: bytes, end: int, packet: tuple[int, int] | None) -> bytes:
    extra = b"" if packet is None else f"{packet[0]:03X}{packet[1]:03X}".encode()
    length = len(body) + len(extra)
    if length > MAX_BODY:
        raise ValueError(f"body of {length} characters exceeds {MAX_BODY}")
    flag = 0 if h.upstream else 0x8000
    head = (
        f"{h.centre:02X}{h.station}{h.password:04X}{h.function_code:02X}{flag | length:04X}"
    ).encode()
    frame = bytes([SOH_ASCII]) + head + bytes([STX if packet is None else SYN]) + extra
    frame += body + bytes([end])
    return frame + f"{crc(frame):04X}".encode()


def _hex_element(el: Element) -> bytes:
    if el.id in SERIES_BY_ID:
        code = SERIES_BY_ID[el.id]
        _, _, _, width, scale = SERIES[code]
        assert el.values is not None and len(el.values) == 12
        data = b"".join(
            ((1 << (8 * width)) - 1 if v is None else round(v / scale)).to_bytes(width, "big")
            for v in el.values
        )
        return bytes([code, definition(12 * width, 0)]) + data
    meta = ELEMENTS_BY_ID[el.id]
    nbytes = el.digits // 2 if el.digits else meta.definition >> 3
    decimals = el.decimals if el.digits else meta.definition & 7
    if el.values is not None:
        assert el.step_s is not None
        minutes = el.step_s // 60
        step = f"{minutes // 1440:02d}{minutes % 1440 // 60:02d}{minutes % 60:02d}"
        data = b"".join(encode_number(v, nbytes, decimals) for v in el.values)
        return (
            bytes([TIME_STEP, 0x18])
            + to_bcd(step)
            + bytes([meta.code, definition(nbytes, decimals)])
            + data
        )
    return bytes([meta.code, definition(nbytes, decimals)]) + encode_number(
        el.value, nbytes, decimals
    )


def _ascii_value(v: float | None, decimals: int) -> str:
    return "FFFF" if v is None else f"{v:.{decimals}f}"


def _ascii_element(el: Element) -> str:
    if el.id in SERIES_BY_ID:
        _, _, _, width, scale = SERIES[SERIES_BY_ID[el.id]]
        assert el.values is not None
        hexes = "".join(
            f"{(1 << (8 * width)) - 1 if v is None else round(v / scale):0{2 * width}X}"
            for v in el.values
        )
        return f"{el.id} {hexes}"
    meta = ELEMENTS_BY_ID[el.id]
    decimals = el.decimals if el.digits else meta.definition & 7
    if el.values is not None:
        assert el.step_s is not None
        minutes = el.step_s // 60
        code = f"DRN{minutes:02d}" if minutes < 60 else f"DRH{minutes // 60:02d}"
        return f"{code} {el.id} " + " ".join(_ascii_value(v, decimals) for v in el.values)
    return f"{el.id} {_ascii_value(el.value, decimals)}"


def encode_body(encoding: str, function_code: int, report: Report) -> bytes:
    """The body of a report (serial, send time, station, type, observation time, elements)."""
    with_elements = function_code in ELEMENT_REPORTS
    if encoding == "hex":
        out = report.serial.to_bytes(2, "big") + to_bcd(_fmt_time(report.sent_at, True))
        if with_elements:
            assert report.station and report.observed_at and report.station_type is not None
            out += b"\xf1\xf1" + to_bcd(report.station) + bytes([report.station_type])
            out += b"\xf0\xf0" + to_bcd(_fmt_time(report.observed_at, False))
            out += b"".join(_hex_element(e) for e in report.elements)
        return out
    text = f"{report.serial:04X}{_fmt_time(report.sent_at, True)}"
    if with_elements:
        assert report.station and report.observed_at and report.station_type is not None
        text += f" ST {report.station} {chr(report.station_type)}"
        text += f" TT {_fmt_time(report.observed_at, False)}"
        text += "".join(" " + _ascii_element(e) for e in report.elements)
    return text.encode("ascii")


def encode(
    header: Header,
    report: Report,
    *,
    encoding: Literal["hex", "ascii"] = "hex",
    end: int = ETX,
    max_body: int | None = None,
) -> list[bytes]:
    """Encode a report into one frame, or several (SYN, packet count/number, ETB on all but the
    last) when its body is longer than ``max_body`` bytes."""
    body = encode_body(encoding, header.function_code, report)
    build = _hex_frame if encoding == "hex" else _ascii_frame
    if max_body is None or len(body) <= max_body:
        return [build(header, body, end, None)]
    parts = [body[i : i + max_body] for i in range(0, len(body), max_body)]
    return [
        build(header, part, end if n == len(parts) else ETB, (len(parts), n))
        for n, part in enumerate(parts, start=1)
    ]


def acknowledgement(frame: Frame, *, end: int = ESC, now: datetime | None = None) -> bytes:
    """The centre's downlink answer to an uplink frame: same function code, the frame's serial
    and a send time, ending ESC (stay online) or EOT (hang up)."""
    serial = frame.report.serial if frame.report else 0
    sent = now or (frame.report.sent_at if frame.report else datetime.now(BEIJING))
    header = Header(frame.centre, frame.station, frame.password, frame.function_code, False)
    body = encode_body(frame.encoding, 0x2F, Report(serial, sent))
    build = _hex_frame if frame.encoding == "hex" else _ascii_frame
    return build(header, body, end, None)


# --- streams and multi-packet messages ---------------------------------------------------------


@dataclass
class Chunk:
    """What :class:`FrameSplitter` found: a frame's bytes, or bytes that are no frame (with the
    reason)."""

    data: bytes
    error: str | None = None


@dataclass
class FrameSplitter:
    """Cuts a TCP byte stream into frames. Bytes that are no frame are given back with a reason,
    and the search goes on at the next frame start, so a damaged frame never costs the next."""

    buffer: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> list[Chunk]:
        """Add received bytes; return the complete frames and the rejected bytes so far."""
        self.buffer += data
        out: list[Chunk] = []
        while self.buffer:
            start = _next_start(self.buffer, 0)
            if start is None:
                # Keep a trailing 7E that may be the first half of a start.
                keep = 1 if self.buffer[-1:] == b"\x7e" else 0
                junk = bytes(self.buffer[: len(self.buffer) - keep])
                if junk:
                    out.append(Chunk(junk, "bytes outside any frame (no 7E7E or SOH start)"))
                del self.buffer[: len(self.buffer) - keep]
                break
            if start > 0:
                out.append(Chunk(bytes(self.buffer[:start]), "bytes outside any frame"))
                del self.buffer[:start]
            try:
                total = frame_length(self.buffer)
            except FrameError as exc:
                out.append(self._skip_to_next(exc.reason))
                continue
            if total is None or len(self.buffer) < total:
                # A declared length that runs into the next frame start is a truncated frame.
                nxt = _next_start(self.buffer, 1)
                if nxt is not None and self._plausible_next(nxt):
                    out.append(
                        self._cut(nxt, "truncated frame: the next frame began before it ended")
                    )
                    continue
                break
            end_char = (
                self.buffer[total - 3] if self.buffer[:2] == SOH_HEX else self.buffer[total - 5]
            )
            if end_char not in END_CHARS:
                out.append(self._skip_to_next(
                    f"no end character where the header's length puts it (0x{end_char:02X}): "
                    "truncated frame or wrong length"
                ))  # fmt: skip
                continue
            out.append(Chunk(bytes(self.buffer[:total])))
            del self.buffer[:total]
        return out

    def flush(self) -> Chunk | None:
        """The incomplete frame left when the link goes quiet or closes (a truncated frame)."""
        if not self.buffer:
            return None
        chunk = Chunk(bytes(self.buffer), "truncated frame: the link went quiet before it ended")
        self.buffer.clear()
        return chunk

    def _plausible_next(self, at: int) -> bool:
        # A following 7E7E with a whole header that gives a sane length is a frame start.
        if self.buffer[at : at + 2] != SOH_HEX:
            return False
        try:
            total = frame_length(self.buffer, at)
        except FrameError:
            return False
        return total is not None

    def _cut(self, at: int, reason: str) -> Chunk:
        chunk = Chunk(bytes(self.buffer[:at]), reason)
        del self.buffer[:at]
        return chunk

    def _skip_to_next(self, reason: str) -> Chunk:
        nxt = _next_start(self.buffer, 1)
        return self._cut(nxt if nxt is not None else len(self.buffer), reason)


def _next_start(buf: bytearray, begin: int) -> int | None:
    hex_at = buf.find(SOH_HEX, begin)
    ascii_at = buf.find(bytes([SOH_ASCII]), begin)
    found = [i for i in (hex_at, ascii_at) if i >= 0]
    return min(found) if found else None


@dataclass
class Reassembler:
    """Joins the packets of multi-packet messages (start SYN), per station and function code.
    ``add`` returns the whole message as one frame with its report once the last packet is in."""

    parts: dict[tuple[str, int], dict[int, Frame]] = field(default_factory=dict)

    def add(self, frame: Frame) -> Frame | None:
        """Add a checked packet; the decoded message when complete, else None. Raises
        :class:`FrameError` for an inconsistent packet or a joined body that does not decode."""
        assert frame.packet_count is not None and frame.packet_number is not None
        if not 1 <= frame.packet_number <= frame.packet_count:
            raise FrameError(
                f"packet {frame.packet_number} of {frame.packet_count} is out of range", frame
            )
        key = (frame.station, frame.function_code)
        got = self.parts.setdefault(key, {})
        if got and next(iter(got.values())).packet_count != frame.packet_count:
            got.clear()  # a new message began; the old one is incomplete
        got[frame.packet_number] = frame
        if len(got) < frame.packet_count:
            return None
        del self.parts[key]
        ordered = [got[n] for n in range(1, frame.packet_count + 1)]
        body = b"".join(p.body for p in ordered)
        try:
            report = decode_body_of(frame.encoding, frame.function_code, body)
        except FrameError as exc:
            raise FrameError(f"multi-packet message: {exc.reason}", frame) from None
        return replace(ordered[0], body=body, end=frame.end, report=report,
                       raw=b"".join(p.raw for p in ordered))  # fmt: skip

    def drain(self) -> list[tuple[str, bytes]]:
        """Give up the incomplete messages (the link closed): a reason and the packets' bytes
        for each, and forget them."""
        out = []
        for (station, code), got in self.parts.items():
            count = next(iter(got.values())).packet_count
            reason = (
                f"incomplete multi-packet message from station {station} (function 0x{code:02X}):"
                f" {len(got)} of {count} packets arrived"
            )
            out.append((reason, b"".join(got[n].raw for n in sorted(got))))
        self.parts.clear()
        return out


def parse_hex_text(text: str) -> bytes:
    """Bytes from hexadecimal text (spaces, colons and a 0x prefix allowed)."""
    cleaned = re.sub(r"[\s:,-]|0x", "", text.strip(), flags=re.IGNORECASE)
    try:
        return bytes.fromhex(cleaned)
    except ValueError:
        raise FrameError("the argument is not hexadecimal text") from None


__all__ = [
    "BEIJING",
    "Element",
    "Frame",
    "FrameError",
    "FrameSplitter",
    "Header",
    "Reassembler",
    "Report",
    "acknowledgement",
    "crc",
    "decode",
    "encode",
]
