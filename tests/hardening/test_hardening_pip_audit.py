"""``pip-audit`` over the installed environment: no known vulnerability in any dependency.

Needs the network (PyPI's vulnerability data); offline it is skipped, saying so. It is marked
``slow``; CI can run it alone with ``pytest tests/hardening/test_hardening_pip_audit.py``.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

#: Where pip-audit fetches advisories.
ADVISORY_HOST = ("pypi.org", 443)


def _online() -> bool:
    try:
        socket.create_connection(ADVISORY_HOST, timeout=3).close()
    except OSError:
        return False
    return True


@pytest.mark.slow
def test_no_known_vulnerabilities() -> None:
    pip_audit = Path(sys.executable).with_name("pip-audit")
    if not pip_audit.exists():
        pytest.skip(f"pip-audit is not installed next to {sys.executable}")
    if not _online():
        pytest.skip("offline: pip-audit needs pypi.org to fetch vulnerability data")
    proc = subprocess.run(
        [str(pip_audit), "--local", "--format", "json", "--progress-spinner", "off"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if proc.returncode not in (0, 1):
        pytest.skip(f"pip-audit could not run: {proc.stderr.strip().splitlines()[-1:]}")
    report = json.loads(proc.stdout)
    found = [
        f"{dep['name']} {dep['version']}: {', '.join(v['id'] for v in dep['vulns'])}"
        for dep in report.get("dependencies", [])
        if dep.get("vulns")
    ]
    assert not found, "known vulnerabilities:\n" + "\n".join(found)
