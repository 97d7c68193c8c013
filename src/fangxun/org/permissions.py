"""Who may do what. Roles map to permissions here, in one table, so every shell agrees.

``None`` or a :class:`~fangxun.audit.SystemActor` as actor means the system itself (CLI, demo
loader): it may do everything.
"""

from __future__ import annotations

import enum

from fangxun.audit.service import SystemActor
from fangxun.errors import PermissionDeniedError
from fangxun.org.models import Role, User

#: Who performs a change: a logged-in user, or the system (CLI, loaders; None too).
Actor = User | SystemActor | None


class Permission(enum.StrEnum):
    """An action on the organisation and its records."""

    read_org = "read_org"
    manage_units = "manage_units"
    manage_people = "manage_people"
    manage_users = "manage_users"
    grant_admin = "grant_admin"
    read_audit = "read_audit"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.admin: frozenset(Permission),
    Role.district: frozenset(
        {
            Permission.read_org,
            Permission.manage_units,
            Permission.manage_people,
            Permission.manage_users,
            Permission.read_audit,
        }
    ),
    # A unit manages the people of its own jurisdiction; the jurisdiction check limits which ones.
    Role.unit: frozenset({Permission.read_org, Permission.manage_people}),
    Role.duty: frozenset({Permission.read_org}),
    Role.inspector: frozenset({Permission.read_org}),
    Role.viewer: frozenset({Permission.read_org}),
}


def is_system(actor: Actor) -> bool:
    """True when the actor is the system rather than a logged-in user."""
    return actor is None or isinstance(actor, SystemActor)


def has_permission(actor: Actor, permission: Permission) -> bool:
    """True when ``actor`` may perform ``permission`` (inactive users may do nothing)."""
    if actor is None or isinstance(actor, SystemActor):
        return True
    if not actor.is_active:
        return False
    return permission in ROLE_PERMISSIONS.get(actor.role, frozenset())


def require_permission(actor: Actor, permission: Permission) -> None:
    """Raise :class:`PermissionDeniedError` unless ``actor`` may perform ``permission``."""
    if not has_permission(actor, permission):
        role = "inactive" if isinstance(actor, User) and not actor.is_active else _role(actor)
        raise PermissionDeniedError(f"role {role!r} may not {permission.value.replace('_', ' ')}")


def require_role(actor: Actor, roles: frozenset[Role], what: str) -> None:
    """Raise :class:`PermissionDeniedError` unless ``actor`` is the system or an active user whose
    role is in ``roles``; ``what`` ends the message ("role 'viewer' may not <what>")."""
    if isinstance(actor, User) and (not actor.is_active or actor.role not in roles):
        raise PermissionDeniedError(f"role {actor.role.value!r} may not {what}")


def _role(actor: Actor) -> str:
    return actor.role.value if isinstance(actor, User) else "system"
