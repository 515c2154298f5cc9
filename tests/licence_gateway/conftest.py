from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncSession

from licence_gateway.main import create_app
from licence_gateway.settings import LicenceGatewaySettings
from tests.licence_gateway.mail_fixtures import (  # noqa: F401 (real mail servers, identity)
    dovecot,
    hmrc_mailbox,
    identity_service,
    local_certificate,
    msal_tokens,
)
from tests.licence_gateway.mail_flow_support import (  # noqa: F401 (fixtures of the mail-flow tests)
    chief_smtp,
    icms_stand_in,
    inbox_flow,
    mail_flow,
    mail_flow_settings,
    mail_flow_tables,
    mailbox,
)
from tests.support.apps import app_client


@pytest.fixture
def lg_settings(database_url: str, redis_url: str) -> LicenceGatewaySettings:
    return LicenceGatewaySettings(
        database_url=database_url, redis_url=redis_url, environment="test"
    )


@pytest_asyncio.fixture
async def lg_client(
    lg_settings: LicenceGatewaySettings, db_session: AsyncSession
) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(create_app(lg_settings), db_session) as client:
        yield client
