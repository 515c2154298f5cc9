"""Page parameters and the page envelope every list route answers:
`{"items": [...], "total": N, "page": P, "page_size": S}`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service_kit.db import AnySelect

MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100

Item = TypeVar("Item")


class Page(BaseModel, Generic[Item]):
    items: list[Item]
    total: int
    page: int
    page_size: int


@dataclass(frozen=True)
class PageParams:
    page: int
    page_size: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


async def page_params(
    page: Annotated[int, Query(ge=1, description="1-based page number")] = 1,
    page_size: Annotated[
        int, Query(ge=1, le=MAX_PAGE_SIZE, description=f"items per page, at most {MAX_PAGE_SIZE}")
    ] = DEFAULT_PAGE_SIZE,
) -> PageParams:
    return PageParams(page, page_size)


PageDep = Annotated[PageParams, Depends(page_params)]


async def paginate(
    session: AsyncSession,
    statement: AnySelect,
    params: PageParams,
    to_item: Callable[[Any], Item],
    *,
    count: AnySelect | None = None,
) -> Page[Item]:
    """Run one page of an ordered statement and count all its rows (with `count`, a cheaper
    statement giving the same number, when the page's joins do not change it)."""
    if count is None:
        count = select(func.count()).select_from(statement.order_by(None).subquery())
    total = await session.scalar(count)
    rows: Sequence[Any] = (
        await session.execute(statement.limit(params.page_size).offset(params.offset))
    ).all()
    return Page[Any](
        items=[to_item(row) for row in rows],
        total=total or 0,
        page=params.page,
        page_size=params.page_size,
    )
