"""The command line starts at once: `import fangxun.cli.main` loads no sub-command and no heavy
library (measured with ``python -X importtime``, CPU totals rather than wall time), the help list
still shows every sub-command with its own help line, and a light command stays light."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from fangxun.cli import main

SRC = Path(main.__file__).resolve().parents[2]

#: Libraries that cost hundreds of ms each to import; none belongs to `fangxun --help`.
HEAVY = (
    "matplotlib",
    "rasterio",
    "alembic",
    "numba",
    "numpy",
    "pandas",
    "sqlalchemy",
    "weasyprint",
)
#: Time spent importing `fangxun.cli.main` (sum of importtime's self times), µs. Eagerly (every
#: sub-app, matplotlib, rasterio, Alembic) it was 6.3 s at load 8 on 2 cores; lazily 0.34 s at
#: load 7, 0.33-0.42 s at load 13-15, and once 1.5 s at load 11 (importtime counts waiting for
#: the CPU too). The lists of modules above are the exact check; the CPU test below is the bar.
IMPORT_BUDGET_US = 1_500_000
#: The issue's bar: `fangxun --help` under 1 s. Measured as the process's CPU time (user + sys),
#: which waiting for a busy machine's cores does not inflate: 0.17-0.18 s at load 12.6.
HELP_CPU_BUDGET_S = 1.0


def _importtime(code: str) -> dict[str, int]:
    """Self import time per module, µs, of running ``code`` in a fresh interpreter."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    times: dict[str, int] = {}
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _cumulative, name = line.removeprefix("import time:").split("|")
        times[name.strip()] = int(self_us)
    return times


def test_import_of_the_command_is_light() -> None:
    times = _importtime("import fangxun.cli.main")
    assert "fangxun.cli.main" in times
    heavy = sorted(m for m in times if m.split(".")[0] in HEAVY)
    assert heavy == []
    loaded = sorted(m for m in times if m.startswith("fangxun.cli.") and m != "fangxun.cli.main")
    assert loaded == []
    assert sum(times.values()) < IMPORT_BUDGET_US


def test_help_takes_under_a_second_of_cpu() -> None:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        [sys.executable, "-c", "from fangxun.cli.main import app; app()", "--help"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert done.returncode == 0, done.stderr
    assert "warnings" in done.stdout
    cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert 0.0 < cpu_s < HELP_CPU_BUDGET_S


def test_warnings_list_skips_the_heavy_libraries() -> None:
    times = _importtime("import fangxun.cli.main, fangxun.cli.warnings")
    assert "fangxun.cli.warnings" in times
    heavy = sorted(m for m in times if m.split(".")[0] in HEAVY and m.split(".")[0] != "sqlalchemy")
    assert heavy == []


def test_help_lists_every_sub_command_with_its_help_line() -> None:
    result = CliRunner().invoke(main.app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for name, (_target, help_line) in main.SUBCOMMANDS.items():
        assert name in result.output
        assert help_line in result.output


@pytest.mark.parametrize("name", list(main.SUBCOMMANDS))
def test_help_line_is_the_sub_commands_own(name: str) -> None:
    """The table's help line is the loaded command's first help line, so they cannot drift."""
    command = main.load_subcommand(name)
    assert command.name == name
    own = (command.help or "").strip().splitlines()[0]
    assert own == main.SUBCOMMANDS[name][1]


def test_a_lazy_sub_command_runs_and_reports_errors() -> None:
    runner = CliRunner()
    result = runner.invoke(main.app, ["warnings", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "evaluate" in result.output and "list" in result.output
    missing = runner.invoke(main.app, ["no-such-command"])
    assert missing.exit_code == 2
    assert isinstance(main.app, typer.Typer)
