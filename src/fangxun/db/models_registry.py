"""Import every domain's models so ``Base.metadata`` is complete (Alembic, create_all, tests).

A new domain adds one import line here.
"""

from __future__ import annotations

from fangxun.audit import models as audit_models
from fangxun.briefings import models as briefing_models
from fangxun.db.base import Base
from fangxun.drainage import models as drainage_models
from fangxun.duty import models as duty_models
from fangxun.field import models as field_models
from fangxun.forecast import models as forecast_models
from fangxun.hazards import models as hazard_models
from fangxun.incidents import models as incident_models
from fangxun.monitoring import models as monitoring_models
from fangxun.notify import models as notify_models
from fangxun.org import models as org_models
from fangxun.rain import models as rain_models
from fangxun.reports import models as report_models
from fangxun.response import models as response_models
from fangxun.setup import models as setup_models
from fangxun.supplies import models as supplies_models
from fangxun.warnings import models as warning_models

__all__ = [
    "Base",
    "audit_models",
    "briefing_models",
    "drainage_models",
    "duty_models",
    "field_models",
    "forecast_models",
    "hazard_models",
    "incident_models",
    "monitoring_models",
    "notify_models",
    "org_models",
    "rain_models",
    "report_models",
    "response_models",
    "setup_models",
    "supplies_models",
    "warning_models",
]
