"""The SL 651 TCP ingest server (``fangxun ingest sl651``): asyncio, many RTU links at once.

Each link cuts its byte stream into frames
(:class:`~fangxun.monitoring.ingest.sl651.FrameSplitter`), checks length and CRC, joins
multi-packet messages, maps the report to observations and queues them for one writer task.
The writer commits batches through the idempotent writer (as MQTT and HTTP do) and only then
sends each report's acknowledgement (ending ESC: stay online), so a report that was not
committed is sent again by the station, and the repeat counts as a duplicate.

Whatever does not decode (bad CRC, a truncated frame, an unknown function code, an unknown
station, an element without a mapping, a time far off) is a dead letter with the frame in hex and
the reason; the link stays open and its next good frame is read. A link silent for
``link_timeout_s`` is closed (link-maintenance reports, 0x2F, keep it open); a partial frame
silent for ``frame_timeout_s`` is dead-lettered as truncated.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from fangxun.db.engine import session_scope
from fangxun.monitoring.ingest import sl651
from fangxun.monitoring.ingest.gaps import SequenceGaps
from fangxun.monitoring.ingest.sl651_ingest import (
    StationMap,
    frame_observations,
    frame_reject,
    load_station_maps,
    to_pending,
)
from fangxun.monitoring.ingest.writer import (
    IngestCounters,
    Pending,
    PendingReject,
    WriteOptions,
    write_observations,
)
from fangxun.monitoring.models import Source

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_clock() -> datetime:
    """The real clock (UTC)."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Sl651Config:
    """Listening address, timeouts (s) and batching."""

    host: str = "0.0.0.0"
    port: int = 5651
    #: A link with no frame for this long is closed (RTUs send link maintenance, 0x2F, within it).
    link_timeout_s: float = 300.0
    #: A partial frame with no new byte for this long is a truncated frame.
    frame_timeout_s: float = 5.0
    #: Most observations per transaction, and the longest a report waits for its batch.
    batch_size: int = 2000
    flush_s: float = 0.05
    #: How often the station mapping is reloaded (an unknown address reloads it at once, at most
    #: once a second).
    map_refresh_s: float = 30.0
    #: Acknowledge with ESC (stay online) or EOT (hang up).
    ack_end: int = sl651.ESC


@dataclass
class _Unit:
    """What one frame gives the writer, and the answer to send once it is committed."""

    items: list[Pending]
    rejects: list[PendingReject]
    ack: bytes | None = None
    writer: asyncio.StreamWriter | None = None


@dataclass
class LinkStats:
    """Totals over all links (for logs and tests)."""

    links: int = 0
    frames: int = 0
    rejected_frames: int = 0
    acks: int = 0
    timeouts: int = 0
    open_links: set[str] = field(default_factory=set)


class Sl651Server:
    """Accept RTU links and store their reports. ``await start()``; ``await stop()``.

    ``clock`` gives "now" for the far-off-time check and the received time (inject an accelerated
    clock in tests).
    """

    def __init__(
        self,
        *,
        engine: Engine,
        config: Sl651Config | None = None,
        options: WriteOptions | None = None,
        clock: Clock = utc_clock,
        counters: IngestCounters | None = None,
    ) -> None:
        self.engine = engine
        self.config = config or Sl651Config()
        self.options = options or WriteOptions()
        self.clock = clock
        self.counters = counters or IngestCounters()
        self.stats = LinkStats()
        #: Reports a station numbered but we never got (its serials jumped), logged as seen.
        self.gaps = SequenceGaps()
        self._serials: dict[str, tuple[int, int]] = {}  # station → (last raw serial, wraps)
        self._maps: dict[str, StationMap] = {}
        self._maps_at = -1e9
        self._queue: asyncio.Queue[_Unit] = asyncio.Queue()
        self._server: asyncio.Server | None = None
        self._writer_task: asyncio.Task[None] | None = None
        self._links: set[asyncio.Task[None]] = set()
        self._stopping = False
        self.port = self.config.port

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> int:
        """Load the station mapping, listen, start the writer; return the port."""
        await self._refresh_maps(force=True)
        self._server = await asyncio.start_server(self._on_link, self.config.host, self.config.port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        self._writer_task = asyncio.create_task(self._write_loop(), name="sl651-writer")
        logger.info("SL 651 ingest listening on %s:%s", self.config.host, self.port)
        return self.port

    async def stop(self) -> None:
        """Stop accepting, close the links, write what was queued."""
        self._stopping = True
        if self._server is not None:
            self._server.close()
        for task in list(self._links):
            task.cancel()
        await asyncio.gather(*self._links, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
        if self._writer_task is not None:
            await self._queue.join()
            self._writer_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer_task

    async def serve(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set."""
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.stop()

    # --- links -------------------------------------------------------------------------------

    async def _on_link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._links.add(task)
        peer = writer.get_extra_info("peername")
        name = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.stats.links += 1
        self.stats.open_links.add(name)
        packets = sl651.Reassembler()
        try:
            await self._read_link(name, reader, writer, packets)
        except (ConnectionError, asyncio.IncompleteReadError):
            logger.info("link %s dropped", name)
        finally:
            # The station hung up mid-message. (When we stop, it sends the unanswered message
            # again to the next server, so that is no dead letter.)
            for reason, raw in packets.drain() if not self._stopping else ():
                await self._reject(reason, raw, f"sl651 {name}")
            self._links.discard(task)
            self.stats.open_links.discard(name)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _read_link(
        self,
        name: str,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        packets: sl651.Reassembler,
    ) -> None:
        splitter = sl651.FrameSplitter()
        origin = f"sl651 {name}"
        while not self._stopping:
            partial = bool(splitter.buffer)
            timeout = self.config.frame_timeout_s if partial else self.config.link_timeout_s
            try:
                data = await asyncio.wait_for(reader.read(65536), timeout)
            except TimeoutError:
                if partial:
                    chunk = splitter.flush()
                    assert chunk is not None
                    await self._reject(chunk.error or "truncated frame", chunk.data, origin)
                    continue
                self.stats.timeouts += 1
                logger.info("link %s silent for %.0f s: closed", name, timeout)
                return
            if not data:
                chunk = splitter.flush()
                if chunk is not None:
                    await self._reject(chunk.error or "truncated frame", chunk.data, origin)
                return
            for chunk in splitter.feed(data):
                if chunk.error is not None:
                    await self._reject(chunk.error, chunk.data, origin)
                else:
                    await self._on_frame(chunk.data, origin, packets, writer)

    async def _reject(self, reason: str, raw: bytes, origin: str) -> None:
        self.stats.rejected_frames += 1
        logger.warning("%s: %s", origin, reason)
        await self._queue.put(_Unit([], [frame_reject(reason, raw, origin)]))

    async def _on_frame(
        self,
        raw: bytes,
        origin: str,
        packets: sl651.Reassembler,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.stats.frames += 1
        try:
            frame = sl651.decode(raw)
            if not frame.upstream:
                raise sl651.FrameError("a downlink frame sent to the centre", frame)
            if frame.multi_packet:
                whole = packets.add(frame)
                if whole is None:
                    return
                frame = whole
        except sl651.FrameError as exc:
            await self._reject(exc.reason, raw, origin)
            return
        origin = f"{origin} station {frame.station}"
        if frame.report is not None and frame.function_code in sl651.ACKNOWLEDGED:
            self._observe_serial(frame.station, frame.report.serial)
        smap = self._maps.get(frame.station)
        if smap is None and await self._refresh_maps(force=False):
            smap = self._maps.get(frame.station)
        ack = None
        if frame.function_code in sl651.ACKNOWLEDGED:
            ack = sl651.acknowledgement(frame, end=self.config.ack_end)
        if frame.function_code == 0x2F:
            # Link maintenance: it keeps the link open; nothing to store or answer.
            return
        if smap is None:
            reason = f"unknown SL 651 station address {frame.station} (not registered)"
            await self._queue.put(_Unit([], [frame_reject(reason, frame.raw, origin)], ack, writer))
            return
        if smap.password is not None and smap.password != frame.password:
            reason = f"wrong password {frame.password:04X} for SL 651 station {frame.station}"
            await self._queue.put(_Unit([], [frame_reject(reason, frame.raw, origin)], ack, writer))
            return
        result = frame_observations(frame, smap, now=self.clock(), options=self.options)
        items, rejects = to_pending(result, origin=origin, station_code=smap.station_code)
        await self._queue.put(_Unit(items, rejects, ack, writer))

    def _observe_serial(self, station: str, serial: int) -> None:
        # Serials count 1..65535 and wrap; unwrap them so the gap count sees one long sequence.
        last, wraps = self._serials.get(station, (serial, 0))
        if serial < last - 32768:
            wraps += 1
        elif serial > last + 32768 and wraps > 0:
            wraps -= 1  # a late report from before the wrap
        self._serials[station] = (serial, wraps)
        self.gaps.observe(station, wraps * 65535 + serial)

    async def _refresh_maps(self, *, force: bool) -> bool:
        now = time.monotonic()
        if not force and now - self._maps_at < 1.0:
            return False
        self._maps_at = now

        def load() -> dict[str, StationMap]:
            with session_scope(self.engine) as session:
                return load_station_maps(session=session)

        try:
            self._maps = await asyncio.to_thread(load)
        except SQLAlchemyError:
            logger.exception("could not load the SL 651 station mapping")
            return False
        return True

    # --- writer ------------------------------------------------------------------------------

    async def _write_loop(self) -> None:
        while True:
            first = await self._queue.get()
            batch = [first]
            weight = len(first.items) + len(first.rejects)
            deadline = asyncio.get_running_loop().time() + self.config.flush_s
            while weight < self.config.batch_size:
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    break
                try:
                    unit = await asyncio.wait_for(self._queue.get(), remaining)
                except TimeoutError:
                    break
                batch.append(unit)
                weight += len(unit.items) + len(unit.rejects)
            try:
                await self._commit(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()
            if time.monotonic() - self._maps_at > self.config.map_refresh_s:
                await self._refresh_maps(force=True)

    async def _commit(self, batch: list[_Unit]) -> None:
        items = [p for u in batch for p in u.items]
        rejects = [r for u in batch for r in u.rejects]
        now = self.clock()

        def write() -> None:
            with session_scope(self.engine) as session:
                result = write_observations(
                    session=session,
                    items=items,
                    rejects=rejects,
                    source=Source.sl651,
                    options=self.options,
                    now=now,
                )
            self.counters.add(result, received=len(items) + len(rejects))

        delay = 0.5
        while True:
            try:
                await asyncio.to_thread(write)
                break
            except SQLAlchemyError:
                # No answer goes out, so the stations send these reports again; retry meanwhile.
                logger.exception("database write failed; retrying in %.1f s", delay)
                if self._stopping:
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
        for unit in batch:
            if unit.ack is not None and unit.writer is not None and not unit.writer.is_closing():
                unit.writer.write(unit.ack)
                self.stats.acks += 1
