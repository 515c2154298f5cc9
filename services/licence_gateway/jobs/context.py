"""What the mail-flow jobs and operator commands run with: settings, database, Redis, clients.

Built once per worker (arq `on_startup`) or per command, never at import. The outside clients
are made on first use, so a worker whose SMTP, POP3 or ICMS settings are still empty starts
and runs the rest; the job that needs the missing part fails with NotConfiguredError naming it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from licence_gateway.adapters.pop3 import Pop3Config, Pop3Mailbox
from licence_gateway.adapters.smtp import SmtpConfig, SmtpSender
from licence_gateway.settings import LicenceGatewaySettings
from service_kit.db import create_engine, create_sessionmaker
from service_kit.queue import create_redis

if TYPE_CHECKING:  # the ICMS client (FastAPI, via Hawk) and msal load on first use: not every
    # job needs them, and the batching job's memory counts
    from licence_gateway.adapters.icms import IcmsClient
    from licence_gateway.adapters.identity import TokenProvider


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class MailFlow:
    settings: LicenceGatewaySettings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    redis: ArqRedis
    exits: AsyncExitStack
    clock: Callable[[], datetime] = field(default=utcnow)
    _smtp: SmtpSender | None = None
    _mailbox: Pop3Mailbox | None = None
    _icms: IcmsClient | None = None
    _tokens: TokenProvider | None = None

    def reconfigure(self, settings: LicenceGatewaySettings) -> None:
        """Use other settings from now on; clients are made again on next use."""
        self.settings = settings
        self._smtp = self._mailbox = self._icms = None
        self._tokens = None

    @property
    def smtp(self) -> SmtpSender:
        if self._smtp is None:
            config = SmtpConfig.from_settings(self.settings)
            self._smtp = SmtpSender(config, self._token_provider(config.auth == "xoauth2"))
        return self._smtp

    @property
    def mailbox(self) -> Pop3Mailbox:
        if self._mailbox is None:
            config = Pop3Config.from_settings(self.settings)
            self._mailbox = Pop3Mailbox(config, self._token_provider(config.auth == "xoauth2"))
        return self._mailbox

    async def icms(self) -> IcmsClient:
        if self._icms is None:
            from licence_gateway.adapters.icms import icms_client

            self._icms = await self.exits.enter_async_context(icms_client(self.settings))
        return self._icms

    def _token_provider(self, needed: bool) -> TokenProvider | None:
        if needed and self._tokens is None:
            from licence_gateway.adapters.identity import token_provider_from_settings

            self._tokens = token_provider_from_settings(self.settings)
        return self._tokens if needed else None


@asynccontextmanager
async def open_mail_flow(
    settings: LicenceGatewaySettings, application_name: str = "licence_gateway_worker"
) -> AsyncIterator[MailFlow]:
    """Database, Redis and (on first use) the outside clients; all closed on exit."""
    async with AsyncExitStack() as exits:
        engine = create_engine(
            settings.database_url, pool_size=4, application_name=application_name
        )
        exits.push_async_callback(engine.dispose)
        redis = create_redis(settings.redis_url)
        exits.push_async_callback(redis.aclose)
        yield MailFlow(
            settings=settings,
            engine=engine,
            sessions=create_sessionmaker(engine),
            redis=redis,
            exits=exits,
        )
