"""A worker context for calling job functions directly, inside the test's rolled-back
transaction: each `sessionmaker()` session commits to a savepoint of the test's connection."""

from __future__ import annotations

from typing import Any

from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoice_checker.settings import InvoiceCheckerSettings


def job_ctx(
    db_session: AsyncSession, settings: InvoiceCheckerSettings, redis: ArqRedis | None = None
) -> dict[str, Any]:
    sessionmaker = async_sessionmaker(
        bind=db_session.bind, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    return {"settings": settings, "sessionmaker": sessionmaker, "redis": redis}
