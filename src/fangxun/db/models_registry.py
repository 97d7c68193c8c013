"""Import every domain's models so ``Base.metadata`` is complete (Alembic, create_all, tests).

A new domain adds one import line here.
"""

from __future__ import annotations

from fangxun.audit import models as audit_models
from fangxun.db.base import Base
from fangxun.org import models as org_models

__all__ = ["Base", "audit_models", "org_models"]
