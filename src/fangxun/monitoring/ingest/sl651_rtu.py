"""A simulated SL 651 telemetry station (RTU) for the demo, the tests and the benchmark.

Each RTU reports on a simulated clock every ``step_s`` (default 5 min; SL 651 observation times
have minute resolution) and waits ``interval_s`` of real time between reports, so a test can run
hours of reports in seconds. Values are a deterministic function of the address and the time, so
a report sent again is the same report. Reports not yet acknowledged by the centre are kept and
sent again after a reconnect (what a real RTU does), in order.

Reports: scheduled (0x32) with PN05 (5-min rain), PT (accumulated rain), Z (water level) and VT
(supply voltage); on the hour an hourly report (0x34) with DRP, P1, PT, Z, DRZ1 and VT instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from fangxun.monitoring.ingest import sl651

logger = logging.getLogger(__name__)


def rain_5min(address: str, t: datetime) -> float:
    """Deterministic 5-minute rain, mm (0.1 mm steps; dry two times in three)."""
    h = hashlib.blake2b(
        f"{address}{t.astimezone(sl651.BEIJING):%Y%m%d%H%M}".encode(), digest_size=4
    )
    n = int.from_bytes(h.digest(), "big")
    return 0.0 if n % 3 else round((n // 3 % 60) / 10, 1)


def level(address: str, t: datetime) -> float:
    """Deterministic water level, m (centimetres: the hourly DRZ series carries 0.01 m)."""
    phase = int(address[-4:]) / 100.0
    return round(2.0 + 0.5 * math.sin(t.timestamp() / 3600.0 + phase), 2)


@dataclass
class RtuConfig:
    """One simulated station."""

    address: str
    centre: int = 1
    password: int = 0x1234
    encoding: Literal["hex", "ascii"] = "hex"
    #: Split bodies longer than this into multi-packet messages (None: never).
    max_body: int | None = None
    #: Simulated seconds between reports (a multiple of 5 min keeps the hourly report on time).
    step_s: int = 300
    station_type: int = 0x48  # H: river (rain and level)


@dataclass
class SimulatedRtu:
    """An RTU that reports ``count`` times from ``start`` (simulated time)."""

    config: RtuConfig
    start: datetime
    count: int
    accumulated: float = 0.0
    serial: int = 0
    sent: int = 0
    acked: int = 0
    unacked: OrderedDict[int, list[bytes]] = field(default_factory=OrderedDict)

    def report(self, k: int) -> tuple[sl651.Header, sl651.Report]:
        """The ``k``-th report (k from 0)."""
        c = self.config
        t = self.start + timedelta(seconds=c.step_s * k)
        self.serial = self.serial % 65535 + 1
        rain = rain_5min(c.address, t)
        self.accumulated = round(self.accumulated + rain, 1)
        common = [
            sl651.Element("PT", self.accumulated),
            sl651.Element("Z", level(c.address, t)),
            sl651.Element("VT", 12.5),
        ]
        if t.astimezone(sl651.BEIJING).minute == 0:
            hour = [t - timedelta(minutes=5 * (11 - i)) for i in range(12)]
            drp = tuple(rain_5min(c.address, x) for x in hour)
            elements = [
                sl651.Element("DRP", values=drp, step_s=300),
                sl651.Element("P1", round(sum(drp), 1)),
                sl651.Element("DRZ1", values=tuple(level(c.address, x) for x in hour), step_s=300),
                *common,
            ]
            function = 0x34
        else:
            elements = [sl651.Element("PN05", rain), *common]
            function = 0x32
        header = sl651.Header(c.centre, c.address, c.password, function)
        body = sl651.Report(self.serial, t, c.address, c.station_type, t, tuple(elements))
        return header, body

    def frames(self, k: int) -> tuple[int, list[bytes]]:
        """Serial and frames of the ``k``-th report."""
        header, body = self.report(k)
        frames = sl651.encode(
            header, body, encoding=self.config.encoding, max_body=self.config.max_body
        )
        return body.serial, frames

    async def run(
        self,
        host: str,
        port: int,
        *,
        interval_s: float = 5.0,
        stop: asyncio.Event | None = None,
        ack_timeout_s: float = 10.0,
        window: int = 16,
    ) -> None:
        """Connect (reconnecting with backoff) and send every report, at most ``window``
        unacknowledged at a time; resend the unacknowledged ones after a reconnect, or when no
        answer came for ``ack_timeout_s``; return once all are acknowledged."""
        stop = stop or asyncio.Event()
        backoff = 0.05
        while not stop.is_set() and (self.sent < self.count or self.unacked):
            try:
                reader, writer = await asyncio.open_connection(host, port)
            except OSError:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 1.0)
                continue
            backoff = 0.05
            progress = asyncio.Event()
            acks = asyncio.create_task(self._read_acks(reader, progress))
            try:
                for frames in list(self.unacked.values()):
                    writer.write(b"".join(frames))
                await writer.drain()
                while not stop.is_set() and (self.sent < self.count or self.unacked):
                    if acks.done():
                        break  # the centre closed the link
                    if self.sent < self.count and len(self.unacked) < window:
                        serial, frames = self.frames(self.sent)
                        self.unacked[serial] = frames
                        self.sent += 1
                        writer.write(b"".join(frames))
                        await writer.drain()
                        await asyncio.sleep(interval_s)
                        continue
                    progress.clear()
                    try:
                        await asyncio.wait_for(progress.wait(), ack_timeout_s)
                    except TimeoutError:
                        for frames in list(self.unacked.values()):
                            writer.write(b"".join(frames))
                        await writer.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                acks.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionError, OSError):
                    await acks
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()

    async def _read_acks(self, reader: asyncio.StreamReader, progress: asyncio.Event) -> None:
        splitter = sl651.FrameSplitter()
        while True:
            data = await reader.read(4096)
            if not data:
                return
            for chunk in splitter.feed(data):
                if chunk.error is not None:
                    continue
                try:
                    ack = sl651.decode(chunk.data)
                except sl651.FrameError:
                    continue
                if ack.report is not None and self.unacked.pop(ack.report.serial, []):
                    self.acked += 1
                    progress.set()


def make_rtus(
    count: int,
    *,
    start: datetime,
    reports: int,
    first_address: int = 1,
    encodings: tuple[Literal["hex", "ascii"], ...] = ("hex",),
    max_body: int | None = None,
    step_s: int = 300,
) -> list[SimulatedRtu]:
    """``count`` RTUs with addresses ``first_address``... (10 digits), cycling ``encodings``."""
    return [
        SimulatedRtu(
            RtuConfig(
                address=f"{first_address + i:010d}",
                encoding=encodings[i % len(encodings)],
                max_body=max_body,
                step_s=step_s,
            ),
            start=start,
            count=reports,
        )
        for i in range(count)
    ]


async def run_rtus(
    rtus: list[SimulatedRtu],
    host: str,
    port: int,
    *,
    interval_s: float,
    stop: asyncio.Event | None = None,
) -> None:
    """Run ``rtus`` side by side until each is done (or ``stop``)."""
    await asyncio.gather(*(r.run(host, port, interval_s=interval_s, stop=stop) for r in rtus))
