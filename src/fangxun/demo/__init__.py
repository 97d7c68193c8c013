"""The built-in demo district: a synthetic terrain and the organisation of Zhengzhou High-tech Zone.

``load_demo(session=..., settings=...)`` loads units, people and logins (idempotent) and writes the
terrain files under ``<data_dir>/demo/``; :mod:`fangxun.demo.terrain` builds the terrain itself.
"""

from __future__ import annotations

from fangxun.demo.org_seed import DEMO_LOGINS, DemoLogin, DemoSummary, load_demo

__all__ = ["DEMO_LOGINS", "DemoLogin", "DemoSummary", "load_demo"]
