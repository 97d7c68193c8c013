"""Offset pagination shared by list endpoints."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel

T = TypeVar("T")

#: Largest page a client may ask for.
MAX_LIMIT = 500


class Page(BaseModel, Generic[T]):
    """One page of results with the total number of matches."""

    items: list[T]
    total: int
    limit: int
    offset: int


@dataclass(frozen=True)
class PageParams:
    """``limit`` (1–500) and ``offset`` (≥ 0) query parameters."""

    limit: int
    offset: int

    def page(self, items: Sequence[Any], total: int) -> dict[str, Any]:
        """The body of a :class:`Page` for these parameters."""
        return {"items": list(items), "total": total, "limit": self.limit, "offset": self.offset}


def _page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size")] = 50,
    offset: Annotated[int, Query(ge=0, description="Rows to skip")] = 0,
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


PageDep = Annotated[PageParams, Depends(_page_params)]
