"""Fixtures and helpers for the mail-flow tests: real SMTP, a Hawk-checking ICMS, payload rows.

The jobs commit for real (they lock, commit and resume across connections), so these tests use
the database directly and empty the gateway's tables afterwards instead of rolling back.
Import the fixtures a test module needs by name.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import mohawk
import pytest
import pytest_asyncio
from aiohttp import web
from arq.connections import ArqRedis
from pydantic import SecretStr
from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from devtools.serving import BackgroundServer
from devtools.simulators.licence_gateway.icms import IcmsSimulator
from devtools.simulators.licence_gateway.icms import create_app as create_icms_app
from licence_gateway.domain.mail_state import ExtractType, MailStatus
from licence_gateway.jobs.context import MailFlow
from licence_gateway.settings import LicenceGatewaySettings
from licence_gateway.store.mail import (
    BatchPayload,
    LicenceDataBatch,
    Mail,
    MailEvent,
    create_mail,
    move_mail,
)
from licence_gateway.store.payloads import LicencePayload, WaitingPayload
from service_kit.db import create_sessionmaker
from tests.licence_gateway.mail_fixtures import MAILBOX_USER, POP3_PASSWORD
from tests.support.dovecot import DovecotServer
from tests.support.infra import free_port
from tests.support.smtp_server import LocalSmtpServer
from tests.support.tls import LocalCertificate

FIXTURES = Path(__file__).parent / "fixtures" / "mail_flow"
EMAILS = Path(__file__).parent / "fixtures" / "email"
HMRC = "chief@hmrc_test_email.com"  # the sender of the fixture e-mails
SMTP_USER = "gateway@dit.test"
SMTP_PASSWORD = "smtp-secret"
CHIEF_ADDRESS = "chief@hmrc.test"
HAWK_KEY = "hawk-key-for-tests"
TABLES = (
    "icms_callbacks, received_emails, mail_events, licence_data_batch_payloads,"
    " licence_data_batches, mails, licence_payloads"
)


def licences(name: str) -> list[dict[str, Any]]:
    """The `licence` objects of a golden input vector, in POST order."""
    vector = json.loads((FIXTURES / f"{name}.json").read_text())
    return [request["licence"] for request in vector["requests"]]


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text()


@dataclass
class Clock:
    now: datetime = datetime(2022, 1, 1, 10, 11, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)


# --- database rows ---------------------------------------------------------------------------


async def add_payloads(
    engine: AsyncEngine, objects: list[dict[str, Any]], *, skip: bool = False
) -> list[int]:
    """Store licence objects as the ingest API does (raw), one transaction; their ids in order."""
    async with AsyncSession(engine, expire_on_commit=False) as session:
        rows = [
            LicencePayload(
                icms_id=uuid.UUID(licence["id"]),
                action=licence["action"],
                reference=licence["reference"],
                licence_type=licence["type"],
                data=licence,
                skip_process=skip,
            )
            for licence in objects
        ]
        for row in rows:
            session.add(row)
            await session.flush()  # ids in arrival order
        await session.commit()
        return [row.id for row in rows]


def with_new_id(licence: dict[str, Any], reference: str | None = None) -> dict[str, Any]:
    copy = json.loads(json.dumps(licence))
    copy["id"] = str(uuid.uuid4())
    if reference:
        copy["reference"] = reference
    return copy


async def mails(engine: AsyncEngine) -> list[Mail]:
    async with AsyncSession(engine, expire_on_commit=False) as session:
        return list(await session.scalars(select(Mail).order_by(Mail.id)))


async def batches(engine: AsyncEngine) -> list[LicenceDataBatch]:
    async with AsyncSession(engine, expire_on_commit=False) as session:
        return list(await session.scalars(select(LicenceDataBatch).order_by(LicenceDataBatch.id)))


async def payloads(engine: AsyncEngine) -> list[LicencePayload]:
    async with AsyncSession(engine, expire_on_commit=False) as session:
        return list(await session.scalars(select(LicencePayload).order_by(LicencePayload.id)))


async def history(engine: AsyncEngine, mail_id: int) -> list[tuple[str | None, str]]:
    async with AsyncSession(engine, expire_on_commit=False) as session:
        events = await session.scalars(
            select(MailEvent).where(MailEvent.mail_id == mail_id).order_by(MailEvent.id)
        )
        return [(event.from_status, event.to_status) for event in events]


async def set_status(engine: AsyncEngine, mail_id: int, status: MailStatus) -> None:
    """Force a status (test setup only: the code under test always goes through move_mail)."""
    async with engine.begin() as connection:
        await connection.execute(
            text("UPDATE licence_gateway.mails SET status = :s WHERE id = :id"),
            {"s": status.value, "id": mail_id},
        )


# --- e-mail helpers --------------------------------------------------------------------------


def parsed(data: bytes) -> EmailMessage:
    message = message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def attachment_text(data: bytes) -> str:
    attachments = list(parsed(data).iter_attachments())
    assert len(attachments) == 1
    content = attachments[0].get_content()
    return content.decode("ascii") if isinstance(content, bytes) else str(content)


# --- ICMS stand-in ---------------------------------------------------------------------------


@dataclass
class IcmsStandIn:
    """ICMS's callback endpoints: Hawk verified with mohawk as ICMS does, answers signed.

    `failures` answers 500 to the next N calls; `hang` makes every call wait `hang` seconds.
    """

    port: int = field(default_factory=free_port)
    received: list[tuple[str, bytes]] = field(default_factory=list)
    failures: int = 0
    hang: float = 0
    seen_nonces: set[str] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def _never_seen(self, sender_id: str, nonce: str, timestamp: str) -> bool:
        if nonce in self.seen_nonces:
            return True
        self.seen_nonces.add(nonce)
        return False

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        receiver = mohawk.Receiver(
            lambda sender_id: {"id": sender_id, "key": HAWK_KEY, "algorithm": "sha256"},
            request.headers["hawk-authentication"],
            str(request.url),
            request.method,
            content=body,
            content_type=request.headers["content-type"],
            seen_nonce=self._never_seen,
        )
        if self.hang:
            await asyncio.sleep(self.hang)
        if self.failures:
            self.failures -= 1
            return web.Response(status=500, text="Server Error")
        self.received.append((request.path, body))
        answer = b'{"bar": "foo"}' if request.path.endswith("check-icms-connection/") else b"{}"
        signature = receiver.respond(content=answer, content_type="application/json")
        nonce = receiver.parsed_header["nonce"]
        header = f'{signature}, nonce="{nonce}", ts="{int(time.time())}"'
        return web.Response(
            body=answer,
            content_type="application/json",
            headers={"Server-Authorization": header},
        )


@pytest_asyncio.fixture
async def icms_stand_in() -> AsyncIterator[IcmsStandIn]:
    stand_in = IcmsStandIn()
    app = web.Application()
    app.router.add_post("/{path:.*}", stand_in.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", stand_in.port)
    await site.start()
    yield stand_in
    await runner.cleanup()


# --- the flow ------------------------------------------------------------------------------


def email(name: str, **replace: str) -> bytes:
    """A fixture e-mail, with some text replaced (e.g. the sender)."""
    raw = (EMAILS / name).read_bytes()
    for old, new in replace.items():
        raw = raw.replace(old.encode(), new.encode())
    return raw


@pytest.fixture
def chief_smtp(local_certificate: LocalCertificate) -> Iterator[LocalSmtpServer]:
    with LocalSmtpServer(local_certificate, users={SMTP_USER: SMTP_PASSWORD}) as server:
        yield server


@pytest.fixture
def mail_flow_settings(
    database_url: str,
    redis_url: str,
    chief_smtp: LocalSmtpServer,
    local_certificate: LocalCertificate,
    icms_stand_in: IcmsStandIn,
) -> LicenceGatewaySettings:
    return LicenceGatewaySettings(
        database_url=database_url,
        redis_url=redis_url,
        environment="test",
        tls_ca_file=local_certificate.ca_file,
        smtp_host="127.0.0.1",
        smtp_port=chief_smtp.port,
        smtp_security="starttls",
        smtp_auth="password",
        smtp_username=SMTP_USER,
        smtp_password=SecretStr(SMTP_PASSWORD),
        smtp_to_address=CHIEF_ADDRESS,
        smtp_timeout_seconds=2,
        hmrc_sender_address=CHIEF_ADDRESS,
        icms_api_url=icms_stand_in.url,
        icms_hawk_key=SecretStr(HAWK_KEY),
        icms_timeout_seconds=2,
    )


async def empty_gateway_tables(engine: AsyncEngine) -> None:
    """Empty every gateway table and restart the ids (tests name mails 1, 2, ...)."""
    tables = ", ".join(f"licence_gateway.{name.strip()}" for name in TABLES.split(","))
    async with engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest_asyncio.fixture
async def mail_flow_tables(engine: AsyncEngine) -> AsyncIterator[None]:
    await empty_gateway_tables(engine)  # whatever an earlier test committed
    yield
    await empty_gateway_tables(engine)


@pytest_asyncio.fixture
async def mail_flow(
    mail_flow_settings: LicenceGatewaySettings,
    engine: AsyncEngine,
    redis: ArqRedis,
    mail_flow_tables: None,
) -> AsyncIterator[MailFlow]:
    async with AsyncExitStack() as exits:
        yield MailFlow(
            settings=mail_flow_settings,
            engine=engine,
            sessions=create_sessionmaker(engine),
            redis=redis,
            exits=exits,
            clock=Clock(),
        )


async def add_answered_batch(
    engine: AsyncEngine,
    run_number: int,
    ids_by_reference: dict[str, str] | list[tuple[str, str]],
    reply: str | None,
) -> int:
    """A sent batch of payloads (the given references and ICMS ids, in order) whose mail is now
    `reply_received` with `reply` (or still `reply_pending` if None); returns the mail id."""
    template = licences("fa_sil_insert")[0]
    pairs = ids_by_reference.items() if isinstance(ids_by_reference, dict) else ids_by_reference
    objects = []
    for reference, icms_id in pairs:
        licence = with_new_id(template, reference)
        licence["id"] = icms_id
        objects.append(licence)
    payload_ids = await add_payloads(engine, objects)
    async with AsyncSession(engine, expire_on_commit=False) as session:
        mail = await create_mail(session, ExtractType.LICENCE_DATA, MailStatus.PENDING, "test")
        batch = LicenceDataBatch(
            run_number=run_number, file_name=f"run {run_number}", file_text="", mail_id=mail.id
        )
        session.add(batch)
        await session.flush()
        session.add_all(
            BatchPayload(batch_id=batch.id, payload_id=payload_id, position=position)
            for position, payload_id in enumerate(payload_ids, start=1)
        )
        await session.execute(
            delete(WaitingPayload).where(WaitingPayload.payload_id.in_(payload_ids))
        )
        await move_mail(session, mail, MailStatus.REPLY_PENDING, "sent (test)")
        if reply is not None:
            await move_mail(
                session,
                mail,
                MailStatus.REPLY_RECEIVED,
                "reply (test)",
                response_data=reply,
                response_filename=f"CHIEF_licenceReply_{run_number}_202209231140",
            )
        await session.commit()
        return mail.id


async def add_usage_mail(engine: AsyncEngine, usage_text: str) -> int:
    async with AsyncSession(engine, expire_on_commit=False) as session:
        mail = await create_mail(
            session,
            ExtractType.USAGE_DATA,
            MailStatus.REPLY_RECEIVED,
            "usage (test)",
            response_data=usage_text,
        )
        await session.commit()
        return mail.id


@pytest.fixture
def mailbox(dovecot: DovecotServer) -> Iterator[DovecotServer]:
    """The Dovecot mailbox the gateway reads, emptied before and after the test."""
    dovecot.clear(MAILBOX_USER)
    yield dovecot
    dovecot.clear(MAILBOX_USER)


@pytest.fixture
def inbox_flow(mail_flow: MailFlow, mailbox: DovecotServer) -> MailFlow:
    """The mail flow reading `mailbox` over POP3 (STARTTLS, password) as HMRC's replies box."""
    mail_flow.settings = mail_flow.settings.model_copy(
        update={
            "pop3_host": "127.0.0.1",
            "pop3_port": mailbox.pop3_port,
            "pop3_security": "starttls",
            "pop3_auth": "password",
            "pop3_username": MAILBOX_USER,
            "pop3_password": SecretStr(POP3_PASSWORD),
            "pop3_timeout_seconds": 5,
            "hmrc_sender_address": HMRC,
        }
    )
    return mail_flow


@contextmanager
def running_icms_simulator(
    hawk_key: str, patience: float = 10
) -> Iterator[tuple[IcmsSimulator, BackgroundServer]]:
    """The ICMS simulator serving on a free port (point the gateway's ICMS_API_URL at it)."""
    simulator = IcmsSimulator(gateway_url="http://unset/", hawk_id="icms-api", hawk_key=hawk_key)
    with BackgroundServer(create_icms_app(simulator, patience=patience)) as server:
        yield simulator, server
