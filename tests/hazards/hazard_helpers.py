"""Shared helpers of the hazard ledger tests (imported by conftest and the test modules)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from fangxun.audit.service import SystemActor

SYSTEM = SystemActor(username="hazard-tests")


@dataclass
class Ledger:
    """Ids and users of the fixture district."""

    district: int
    wutong: int
    gouzhao: int
    wutong_person: int
    gouzhao_person: int
    wutong_point: int
    gouzhao_point: int
    users: dict[str, Any]

    def h(self, client: TestClient, who: str) -> dict[str, str]:
        """Authorization headers of the user ``who``."""
        headers: dict[str, str] = self.users[who].headers(client)
        return headers
