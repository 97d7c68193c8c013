"""The one system actor all demo seeds write under, so the audit log names the loader alike."""

from __future__ import annotations

from typing import Final

from fangxun.audit.service import SystemActor

DEMO_ACTOR: Final = SystemActor(username="system/demo")
