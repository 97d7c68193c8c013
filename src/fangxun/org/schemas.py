"""Wire shapes for units, people and users (``XCreate``, ``XUpdate``, ``XRead``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    field_validator,
)

from fangxun.org.models import Role, UnitKind

#: Minimum password length, characters.
MIN_PASSWORD_LENGTH = 8

Code = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$"
    ),
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
PersonName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Phone = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=3, max_length=32, pattern=r"^\+?[0-9 ()-]+$"
    ),
]
Post = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


def _normalise_username(value: object) -> object:
    # Usernames are case-insensitive: stored lower-case, so "Li.Ming" and "li.ming" are one login.
    return value.strip().lower() if isinstance(value, str) else value


Username = Annotated[
    str,
    BeforeValidator(_normalise_username),
    StringConstraints(min_length=3, max_length=64, pattern=r"^[a-z0-9_.-]+$"),
]
Password = Annotated[str, Field(min_length=MIN_PASSWORD_LENGTH, max_length=256)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- units -------------------------------------------------------------------------------------


class UnitCreate(_Strict):
    """A new unit. Every unit except the district has a parent."""

    code: Code
    name_zh: Name
    name_en: Name | None = None
    kind: UnitKind
    parent_id: int | None = None


class UnitUpdate(_Strict):
    """Fields to change on a unit; omitted fields stay as they are."""

    code: Code | None = None
    name_zh: Name | None = None
    name_en: Name | None = None
    kind: UnitKind | None = None
    parent_id: int | None = None


class UnitRead(BaseModel):
    """A unit as served."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name_zh: str
    name_en: str | None
    kind: UnitKind
    parent_id: int | None
    created_at: datetime
    updated_at: datetime


# --- people ------------------------------------------------------------------------------------


class PersonCreate(_Strict):
    """A new person in a unit."""

    name: PersonName
    phone: Phone | None = None
    email: EmailStr | None = None
    unit_id: int
    post: Post | None = None


class PersonUpdate(_Strict):
    """Fields to change on a person; omitted fields stay as they are."""

    name: PersonName | None = None
    phone: Phone | None = None
    email: EmailStr | None = None
    unit_id: int | None = None
    post: Post | None = None


class PersonRead(BaseModel):
    """A person as served."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    phone: str | None
    email: str | None
    unit_id: int
    post: str | None
    created_at: datetime
    updated_at: datetime


# --- users -------------------------------------------------------------------------------------


class UserCreate(_Strict):
    """A new login. The ``unit`` role needs ``unit_id`` (its jurisdiction); so does an
    ``inspector``, unless ``district_wide`` (an inspector of every unit's points)."""

    username: Username
    password: Password
    role: Role
    unit_id: int | None = None
    person_id: int | None = None
    is_active: bool = True
    district_wide: bool = False

    @field_validator("password")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value


class UserUpdate(_Strict):
    """Fields to change on a user; omitted fields stay as they are. ``password`` sets a new one."""

    password: Password | None = None
    role: Role | None = None
    unit_id: int | None = None
    person_id: int | None = None
    is_active: bool | None = None
    district_wide: bool | None = None


class UserRead(BaseModel):
    """A user as served (never the password hash)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    role: Role
    unit_id: int | None
    person_id: int | None
    is_active: bool
    district_wide: bool = False
    last_login_at: datetime | None
    created_at: datetime


class TokenRead(BaseModel):
    """OAuth2 token response (RFC 6749 §5.1)."""

    access_token: str
    token_type: str = "bearer"
    expires_in: int
