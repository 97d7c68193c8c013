"""Ensemble members on a real Dask cluster: a scheduler and two worker processes on loopback,
started as an office would start them (``dask scheduler`` / ``dask worker``). Members equal the
local run; a worker killed in the middle of a member loses nothing."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import fangxun
from fangxun.forecast import engine as fx_engine
from fangxun.inundation import Hyetograph

distributed = pytest.importorskip("distributed")

#: Seconds to wait for the cluster to come up (a busy CI machine starts Python slowly).
STARTUP_TIMEOUT_S = 120.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[str, list[subprocess.Popen[bytes]]]]:
    """A scheduler and two single-threaded worker processes (no nanny: a killed worker stays
    dead, so its members must be rerun on the other one)."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(Path(fangxun.__file__).parents[1])}
    log = (tmp_path / "cluster.log").open("wb")
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "distributed.cli.dask_scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--dashboard-address",
                ":0",
                "--no-show",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    ]
    for _ in range(2):
        processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "distributed.cli.dask_worker",
                    address,
                    "--nthreads",
                    "1",
                    "--no-nanny",
                    "--no-dashboard",
                    "--host",
                    "127.0.0.1",
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    try:
        with distributed.Client(address, timeout=STARTUP_TIMEOUT_S) as client:
            client.wait_for_workers(2, timeout=STARTUP_TIMEOUT_S)
        yield address, processes[1:]
    finally:
        for proc in reversed(processes):
            if proc.poll() is None:
                proc.terminate()
        for proc in processes:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()


def _specs(members: int, horizon_s: float) -> list[fx_engine.MemberSpec]:
    return [
        fx_engine.MemberSpec(
            rain=Hyetograph([0.0, 1200.0], [40.0 + 20.0 * k, 0.0]),
            horizon_s=horizon_s,
            output_interval_s=300.0,
            gauges={"centre": (15, 15), "flank": (15, 12)},
            backend="numpy",
        )
        for k in range(members)
    ]


def _assert_same(a: list[fx_engine.MemberResult], b: list[fx_engine.MemberResult]) -> None:
    assert len(a) == len(b)
    for ra, rb in zip(a, b, strict=True):
        np.testing.assert_array_equal(ra.times_s, rb.times_s)
        assert ra.series.keys() == rb.series.keys()
        for name in ra.series:
            np.testing.assert_array_equal(ra.series[name], rb.series[name])
        np.testing.assert_array_equal(ra.max_depth, rb.max_depth)
        np.testing.assert_array_equal(ra.final_depth, rb.final_depth)


def test_members_on_the_cluster_equal_the_local_run(
    cluster: tuple[str, list[subprocess.Popen[bytes]]], terrain_tif: Path
) -> None:
    address, _ = cluster
    district = fx_engine.build_district(
        str(terrain_tif), resolution_m=0, manning=0.03, drainage_mm_h=2.0
    )
    specs = _specs(3, 3600.0)
    seen: list[tuple[int, int]] = []
    remote = fx_engine.run_members(
        district, specs, dask_address=address, progress=lambda d, n: seen.append((d, n))
    )
    local = fx_engine.run_members(district, specs, executor="serial")
    _assert_same(remote, local)
    assert seen == [(1, 3), (2, 3), (3, 3)]
    assert max(float(r.max_depth.max()) for r in remote) > 0.01  # the members did pond


def test_a_worker_killed_mid_run_loses_no_member(
    cluster: tuple[str, list[subprocess.Popen[bytes]]], terrain_tif: Path
) -> None:
    address, workers = cluster
    district = fx_engine.build_district(
        str(terrain_tif), resolution_m=0, manning=0.03, drainage_mm_h=2.0
    )
    specs = _specs(4, 4 * 3600.0)
    with distributed.Client(address) as watcher:
        pid_of = watcher.run(os.getpid)  # worker address -> pid
        results: list[fx_engine.MemberResult] = []
        killed: list[int] = []

        def kill_a_busy_worker(done: int, total: int) -> None:
            # after the first member, some worker is busy with another: kill it there
            if killed:
                return
            deadline = time.monotonic() + STARTUP_TIMEOUT_S
            while time.monotonic() < deadline:
                busy = [addr for addr, keys in watcher.processing().items() if keys]
                if busy:
                    os.kill(pid_of[busy[0]], signal.SIGKILL)
                    killed.append(pid_of[busy[0]])
                    return
                time.sleep(0.05)  # polling a real cluster's state, not waiting out a timer

        results = fx_engine.run_members(
            district, specs, dask_address=address, progress=kill_a_busy_worker
        )
    assert killed and any(w.pid == killed[0] and w.wait(timeout=30) != 0 for w in workers)
    local = fx_engine.run_members(district, specs, executor="serial")
    _assert_same(results, local)
