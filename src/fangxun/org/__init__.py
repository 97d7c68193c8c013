"""fangxun.org: units (district, street offices, departments), people, users, roles, scope."""

from __future__ import annotations

from fangxun.org.jurisdiction import (
    get_in_jurisdiction,
    is_unit_visible,
    scope_query,
    visible_unit_ids,
)
from fangxun.org.models import AuthToken, LoginAttempt, Person, Role, Unit, UnitKind, User
from fangxun.org.permissions import Actor, Permission, has_permission, require_permission
from fangxun.org.service import (
    LoginPolicy,
    authenticate,
    create_person,
    create_unit,
    create_user,
    issue_token,
    revoke_token,
    user_for_token,
)

__all__ = [
    "Actor",
    "AuthToken",
    "LoginAttempt",
    "LoginPolicy",
    "Permission",
    "Person",
    "Role",
    "Unit",
    "UnitKind",
    "User",
    "authenticate",
    "create_person",
    "create_unit",
    "create_user",
    "get_in_jurisdiction",
    "has_permission",
    "is_unit_visible",
    "issue_token",
    "require_permission",
    "revoke_token",
    "scope_query",
    "user_for_token",
    "visible_unit_ids",
]
