from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncSession

from invoice_checker.main import create_app
from invoice_checker.settings import InvoiceCheckerSettings
from tests.support.apps import app_client


@pytest.fixture
def ic_settings(database_url: str, redis_url: str) -> InvoiceCheckerSettings:
    return InvoiceCheckerSettings(
        database_url=database_url, redis_url=redis_url, environment="test"
    )


@pytest_asyncio.fixture
async def ic_client(
    ic_settings: InvoiceCheckerSettings, db_session: AsyncSession
) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(create_app(ic_settings), db_session) as client:
        yield client
