"""The SL 651 TCP ingest server against the real database (SQLite and PostgreSQL): bad frames are
dead letters and never cost the link's next good frame, duplicates are stored once, answers come
after commit, idle links close, and 50 simulated RTUs through a server restart store every
observation exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from fangxun.audit.service import SystemActor
from fangxun.db import session_scope
from fangxun.monitoring import service
from fangxun.monitoring.ingest import sl651
from fangxun.monitoring.ingest.sl651_ingest import register_station
from fangxun.monitoring.ingest.sl651_rtu import SimulatedRtu, make_rtus, run_rtus
from fangxun.monitoring.ingest.sl651_server import Sl651Config, Sl651Server
from fangxun.monitoring.models import Datastream, DeadLetter, Observation, Source, StationKind
from fangxun.monitoring.schemas import DatastreamCreate, StationCreate

SYSTEM = SystemActor(username="test-setup")
NOW = datetime(2026, 7, 20, 8, 0, tzinfo=UTC)


def setup_stations(
    engine: Engine, count: int, *, elements: dict[str, str | None] | None = None
) -> None:
    """Stations SL001... with 5-min rain, accumulated rain and level, mapped to addresses 1..."""
    with session_scope(engine) as session:
        service.ensure_observed_properties(session=session)
        for i in range(count):
            code = f"SL{i + 1:03d}"
            service.create_station(
                session=session,
                station_in=StationCreate(code=code, name_zh=code, kind=StationKind.river_gauge,
                                         lon=113.5, lat=34.8),
                actor=SYSTEM,
            )  # fmt: skip
            for ds, prop, unit, interval in (
                (f"{code}-rain5", "rainfall", "mm", 300),
                (f"{code}-pt", "rainfall_accumulated", "mm", None),
                (f"{code}-z", "river_level", "cm", None),  # cm: the level is converted from m
            ):
                service.create_datastream(
                    session=session,
                    datastream_in=DatastreamCreate(code=ds, name=ds, station_code=code,
                                                   observed_property=prop, unit=unit,
                                                   interval_s=interval),
                    actor=SYSTEM,
                )  # fmt: skip
            register_station(
                session=session,
                address=f"{i + 1:010d}",
                station_code=code,
                elements=elements if elements is not None else {"VT": None, "P1": None},
            )


def counts(engine: Engine) -> tuple[int, list[str]]:
    with session_scope(engine) as session:
        n = session.scalar(select(func.count()).select_from(Observation)) or 0
        dead = [d.reason for d in session.scalars(select(DeadLetter).order_by(DeadLetter.id))]
    return n, dead


def clock(now: datetime = NOW) -> Callable[[], datetime]:
    return lambda: now


def report_frame(
    address: str = "0000000001", *, t: datetime = NOW, serial: int = 1, fn: int = 0x32,
    elements: Iterable[sl651.Element] = (sl651.Element("PN05", 1.5), sl651.Element("Z", 1.25)),
    encoding: str = "hex",
) -> bytes:  # fmt: skip
    report = sl651.Report(serial, t, address, 0x48, t, tuple(elements))
    [raw] = sl651.encode(sl651.Header(1, address, 0x1234, fn), report, encoding=encoding)  # type: ignore[arg-type]
    return raw


async def _exchange(
    port: int, payloads: list[bytes], answers: int, timeout: float = 10.0
) -> list[sl651.Frame]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for p in payloads:
        writer.write(p)
    await writer.drain()
    splitter = sl651.FrameSplitter()
    got: list[sl651.Frame] = []
    async with asyncio.timeout(timeout):
        while len(got) < answers:
            data = await reader.read(4096)
            assert data, "the server closed the link"
            got += [sl651.decode(c.data) for c in splitter.feed(data) if c.error is None]
    writer.close()
    await writer.wait_closed()
    return got


def run_server(
    engine: Engine, body: Callable[[Sl651Server], object], **config: object
) -> Sl651Server:
    async def main() -> Sl651Server:
        server = Sl651Server(
            engine=engine,
            config=Sl651Config(host="127.0.0.1", port=0, flush_s=0.01, **config),  # type: ignore[arg-type]
            clock=clock(),
        )
        await server.start()
        try:
            await body(server)  # type: ignore[misc]
        finally:
            await server.stop()
        return server

    return asyncio.run(main())


def test_bad_frames_never_cost_the_next_good_one(engine: Engine) -> None:
    setup_stations(engine, 1)
    good = report_frame(serial=5)
    bad_crc = bytearray(report_frame(serial=4, t=NOW - timedelta(minutes=5)))
    bad_crc[30] ^= 0x01
    unknown_fn = bytearray(report_frame(serial=3))
    unknown_fn[10] = 0x99
    unknown_fn[-2:] = sl651.crc(bytes(unknown_fn[:-2])).to_bytes(2, "big")
    truncated = report_frame(serial=2)[:30]

    async def body(server: Sl651Server) -> None:
        answers = await _exchange(
            server.port, [b"\x00garbage", bytes(bad_crc), bytes(unknown_fn), truncated, good], 1
        )
        assert [a.report.serial for a in answers if a.report] == [5]
        assert not answers[0].upstream and answers[0].end == sl651.ESC

    run_server(engine, body)
    n, dead = counts(engine)
    assert n == 2  # PN05 and Z of the good frame
    assert any("CRC mismatch" in r for r in dead)
    assert any("unknown function code 0x99" in r for r in dead)
    assert any("truncated" in r for r in dead)
    with session_scope(engine) as session:
        letters = list(session.scalars(select(DeadLetter)))
        assert all(d.source == Source.sl651 for d in letters)
        crc_letter = next(d for d in letters if "CRC" in d.reason)
        assert crc_letter.raw == bytes(bad_crc).hex().upper()  # the hex frame is kept
    with session_scope(engine) as session:
        z = session.scalar(select(Datastream).where(Datastream.code == "SL001-z"))
        assert z is not None and z.last_value == pytest.approx(1.25)  # m → cm → SI m


def test_unknown_station_unmapped_element_and_far_time_are_dead_letters(engine: Engine) -> None:
    setup_stations(engine, 1, elements={})  # VT is not mapped this time

    async def body(server: Sl651Server) -> None:
        await _exchange(server.port, [
            report_frame("0000000999"),
            report_frame(elements=[sl651.Element("PN05", 1.0), sl651.Element("VT", 12.1)]),
            report_frame(t=NOW + timedelta(days=400), serial=9),
        ], 3)  # fmt: skip

    run_server(engine, body)
    n, dead = counts(engine)
    assert n == 1
    assert any("unknown SL 651 station address 0000000999" in r for r in dead)
    assert any("element VT has no mapping at SL 651 station 0000000001" in r for r in dead)
    assert sum("time far off" in r for r in dead) == 2


def test_duplicates_stored_once_both_encodings_and_multi_packet(engine: Engine) -> None:
    setup_stations(engine, 1)
    frame = report_frame(serial=8)
    ascii_twin = report_frame(serial=8, encoding="ascii")
    report = sl651.Report(9, NOW, "0000000001", 0x48, NOW + timedelta(minutes=5),
                          (sl651.Element("PN05", 2.5), sl651.Element("PT", 10.0),
                           sl651.Element("Z", 1.5), sl651.Element("VT", 12.0)))  # fmt: skip
    packets = sl651.encode(sl651.Header(1, "0000000001", 0x1234, 0x33), report, max_body=12)
    assert len(packets) > 1

    async def body(server: Sl651Server) -> None:
        await _exchange(server.port, [frame, frame, ascii_twin, *packets], 4)

    run_server(engine, body)
    n, dead = counts(engine)
    assert dead == []
    assert n == 2 + 3  # the repeated report once; the multi-packet message's three mapped values


def test_a_jump_in_a_stations_serials_is_logged_as_a_gap(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    setup_stations(engine, 1)
    frames = [
        report_frame(serial=s, t=NOW - timedelta(minutes=5 * (9 - s))) for s in (1, 2, 5, 5, 3)
    ]

    async def body(server: Sl651Server) -> None:
        await _exchange(server.port, frames, 5)
        assert server.gaps.snapshot() == {"gaps": 1, "missing": 1}  # 4 missing; 3 came late

    caplog.set_level("WARNING", logger="fangxun.monitoring.ingest.gaps")
    run_server(engine, body)
    assert any("sequence jumped from 2 to 5" in r.getMessage() for r in caplog.records)


def test_an_incomplete_multi_packet_message_is_a_dead_letter(engine: Engine) -> None:
    setup_stations(engine, 1)
    report = sl651.Report(3, NOW, "0000000001", 0x48, NOW, (sl651.Element("PN05", 2.5),
                          sl651.Element("PT", 10.0), sl651.Element("Z", 1.5)))  # fmt: skip
    packets = sl651.encode(sl651.Header(1, "0000000001", 0x1234, 0x32), report, max_body=10)
    good = report_frame(serial=4)

    async def body(server: Sl651Server) -> None:
        await _exchange(server.port, [*packets[:-1], good], 1)  # the last packet never comes
        async with asyncio.timeout(10):
            while server.stats.open_links:  # the station hung up; the server sees it
                await asyncio.sleep(0.01)

    run_server(engine, body)
    n, dead = counts(engine)
    assert n == 2  # the good report
    assert dead == [f"incomplete multi-packet message from station 0000000001 (function 0x32): "
                    f"{len(packets) - 1} of {len(packets)} packets arrived"]  # fmt: skip


def test_idle_link_is_closed_and_link_maintenance_keeps_it(engine: Engine) -> None:
    setup_stations(engine, 1)
    link = sl651.encode(sl651.Header(1, "0000000001", 0x1234, 0x2F), sl651.Report(1, NOW))[0]

    async def body(server: Sl651Server) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        for _ in range(3):  # within the timeout each time: the link stays
            writer.write(link)
            await writer.drain()
            await asyncio.sleep(0.2)
        assert server.stats.timeouts == 0
        async with asyncio.timeout(5):
            assert await reader.read() == b""  # then silence: the server hangs up
        assert server.stats.timeouts == 1
        writer.close()

    run_server(engine, body, link_timeout_s=0.5)


def expected(rtus: list[SimulatedRtu]) -> dict[tuple[str, datetime], float]:
    """(datastream, UTC time) → value, from the simulator's own reports (not from frames)."""
    out: dict[tuple[str, datetime], float] = {}
    for rtu in rtus:
        twin = SimulatedRtu(rtu.config, rtu.start, rtu.count)
        code = f"SL{int(rtu.config.address):03d}"
        for k in range(rtu.count):
            _, report = twin.report(k)
            assert report.observed_at is not None
            for el in report.elements:
                ds = {"PN05": "rain5", "DRP": "rain5", "PT": "pt", "Z": "z", "DRZ1": "z"}.get(el.id)
                if ds is None:
                    continue
                if el.values is None:
                    pairs = [(report.observed_at, el.value)]
                else:
                    pairs = [(report.observed_at - timedelta(minutes=5 * (11 - i)), v)
                             for i, v in enumerate(el.values)]  # fmt: skip
                for t, v in pairs:
                    assert v is not None
                    out[(f"{code}-{ds}", t.astimezone(UTC))] = v / (1000 if ds != "z" else 1)
    return out


@pytest.mark.slow
def test_fifty_rtus_through_a_server_restart_store_every_observation_once(engine: Engine) -> None:
    """50 RTUs each report every 5 simulated minutes (SL 651 times have minute resolution), one
    report per 50 ms of real time, in both encodings, some as multi-packet messages; the server is
    stopped and started again mid-run; the RTUs reconnect and resend what was not acknowledged."""
    setup_stations(engine, 50)
    start = NOW - timedelta(hours=2)
    rtus = make_rtus(50, start=start, reports=24, encodings=("hex", "ascii"))
    for rtu in rtus[::5]:
        rtu.config.max_body = 40
    config = Sl651Config(host="127.0.0.1", port=0, flush_s=0.01)

    stored: list[int] = []

    async def main() -> None:
        server = Sl651Server(engine=engine, config=config, clock=clock())
        port = await server.start()
        sims = asyncio.create_task(run_rtus(rtus, "127.0.0.1", port, interval_s=0.05))
        while sum(r.sent for r in rtus) < 300:  # a quarter of the 1,200 reports
            await asyncio.sleep(0.01)
        await server.stop()  # mid-run: links drop, queued reports are written first
        stored.append(server.counters.stored)
        await asyncio.sleep(0.3)
        server = Sl651Server(
            engine=engine, config=Sl651Config(host="127.0.0.1", port=port, flush_s=0.01),
            clock=clock(),
        )  # fmt: skip
        await server.start()
        async with asyncio.timeout(120):
            await sims
        await server.stop()
        stored.append(server.counters.stored)

    asyncio.run(main())
    assert all(stored), stored  # both servers stored part of the run
    assert all(r.acked >= r.count and not r.unacked for r in rtus)
    want = expected(rtus)
    n, dead = counts(engine)
    assert dead == []
    with session_scope(engine) as session:
        rows = session.execute(
            select(Datastream.code, Observation.phenomenon_time, Observation.value)
            .join(Datastream, Observation.datastream_id == Datastream.id)
        ).all()  # fmt: skip
    got = {(code, t.astimezone(UTC)): v for code, t, v in rows}
    assert n == len(rows) == len(got) == len(want)  # every observation once, none extra
    assert got.keys() == want.keys()
    for key, v in want.items():
        assert got[key] == pytest.approx(v, abs=1e-9), key
