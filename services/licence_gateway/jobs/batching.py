"""Batching: unsent payloads -> one licenceData file -> one e-mail to CHIEF (sections 1.5, 3, 6.1).

The order of commits is the reliability argument:
1. Under a PostgreSQL advisory lock (one batcher at a time, across every worker and operator
   command), the payloads are claimed and the batch, its file and the exact e-mail bytes are
   committed with the mail in `pending`. From here the licences cannot be lost and the run
   number cannot carry another file.
2. The stored bytes are handed to SMTP. Only when the server accepts them is the mail moved to
   `reply_pending`. If the process dies in between, the next run finds the `pending` mail and
   sends the very same bytes, with the very same Message-ID, again.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from arq import Retry
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from licence_gateway.adapters.smtp import SmtpError, new_message_id
from licence_gateway.domain.chief.licence_data import LicenceDataFile, build_licence_data
from licence_gateway.domain.mail_state import ExtractType, MailStatus
from licence_gateway.jobs.context import MailFlow
from licence_gateway.store.mail import (
    BatchPayload,
    LicenceDataBatch,
    Mail,
    create_mail,
    licence_mail_in_flight,
    move_mail,
    next_run_number,
    record_send_failure,
)
from licence_gateway.store.payloads import LicencePayload
from service_kit.advisory_locks import AdvisoryLock

logger = logging.getLogger(__name__)


class BatcherBusy(Exception):
    """Another worker or command holds the batching lock."""


class SendFailed(Exception):
    """The SMTP server did not accept the mail; it stays `pending` and is sent again later."""

    def __init__(self, mail_id: int, error: SmtpError) -> None:
        super().__init__(f"mail {mail_id} not sent: {error}")
        self.mail_id = mail_id
        self.transient = error.transient


@asynccontextmanager
async def batching_session(flow: MailFlow) -> AsyncIterator[AsyncSession]:
    """A session on one connection that holds the batching lock until the block ends.

    A session-level advisory lock survives the commits inside the block, and PostgreSQL drops it
    by itself when a crashed process's connection goes, so a dead worker never blocks batching.
    """
    async with flow.engine.connect() as connection:
        locked = await connection.scalar(
            text("SELECT pg_try_advisory_lock(:key)"), {"key": AdvisoryLock.LICENCE_BATCHING}
        )
        await connection.commit()
        if not locked:
            raise BatcherBusy("another batching run holds the lock")
        try:
            async with AsyncSession(bind=connection, expire_on_commit=False) as session:
                yield session
        finally:
            await _unlock(connection)


async def _unlock(connection: AsyncConnection) -> None:
    await connection.rollback()
    await connection.execute(
        text("SELECT pg_advisory_unlock(:key)"), {"key": AdvisoryLock.LICENCE_BATCHING}
    )
    await connection.commit()


async def run_batching(flow: MailFlow) -> str:
    """One batching pass; returns a one-line summary.

    Raises BatcherBusy if another pass runs, SendFailed if SMTP did not take the mail.
    """
    async with batching_session(flow) as session:
        mail = await licence_mail_in_flight(session)
        if mail is not None and mail.status != MailStatus.PENDING:
            return f"gate closed: mail {mail.id} is {mail.status}"
        if mail is None:
            mail = await create_batch(session, flow)
            if mail is None:
                return "no licences to send"
        await send_pending_mail(session, flow, mail)
        return f"mail {mail.id} sent"


async def claim_payloads(session: AsyncSession) -> list[LicencePayload]:
    """Unsent, non-skipped payloads in arrival order, locked so nothing else can take them."""
    rows = await session.scalars(
        select(LicencePayload)
        .where(LicencePayload.is_processed.is_(False), LicencePayload.skip_process.is_(False))
        .order_by(LicencePayload.received_at, LicencePayload.id)
        .with_for_update(skip_locked=True)
    )
    return list(rows)


async def create_batch(session: AsyncSession, flow: MailFlow) -> Mail | None:
    """Claim the payloads and commit a `pending` mail carrying them; None if there are none."""
    payloads = buildable(await claim_payloads(session), flow)
    if not payloads:
        await session.commit()  # keeps any skip flag set on an unbuildable payload
        return None
    return await commit_batch(session, flow, payloads, reason=f"batch of {len(payloads)} licences")


def buildable(payloads: list[LicencePayload], flow: MailFlow) -> list[LicencePayload]:
    """The payloads that can go in a file; any other gets its skip flag set and is logged.

    Ingest refuses such payloads, so this should never find one; if one slips through, it must
    not block every other licence as it did in the original (section 14.3).
    """
    if not payloads or _builds(payloads, flow):
        return payloads
    _build([], flow, run_number=1)  # an empty file failing means the settings are wrong: raise
    good = []
    for payload in payloads:
        if _builds([payload], flow):
            good.append(payload)
            continue
        payload.skip_process = True
        logger.error(
            "payload cannot be put in a licenceData file; skip flag set",
            extra={"payload_id": payload.id, "reference": payload.reference},
        )
    return good


def _builds(payloads: Sequence[LicencePayload], flow: MailFlow) -> bool:
    try:
        _build(payloads, flow, run_number=1)
    except ValueError:
        return False
    return True


def _build(payloads: Sequence[LicencePayload], flow: MailFlow, run_number: int) -> LicenceDataFile:
    return build_licence_data(
        [payload.data for payload in payloads],
        run_number=run_number,
        created_at=flow.clock(),
        source_system=flow.settings.chief_source_system,
    )


async def commit_batch(
    session: AsyncSession, flow: MailFlow, payloads: Sequence[LicencePayload], *, reason: str
) -> Mail:
    """Build the file for these payloads under the next run number and commit it as `pending`."""
    run_number = await next_run_number(session, flow.settings.first_run_number)
    now = flow.clock()
    built = _build(payloads, flow, run_number)
    message_id = new_message_id()
    mail = await create_mail(
        session,
        ExtractType.LICENCE_DATA,
        MailStatus.PENDING,
        f"{reason}, run {run_number}",
        message_id=message_id,
        # Rendered once and stored, so that every re-send repeats these very bytes.
        message_bytes=flow.smtp.render_licence_data(built.name, built.text, message_id, now),
    )
    batch = LicenceDataBatch(
        run_number=run_number, file_name=built.name, file_text=built.text, mail_id=mail.id
    )
    session.add(batch)
    await session.flush()
    session.add_all(
        BatchPayload(batch_id=batch.id, payload_id=payload.id, position=position)
        for position, payload in enumerate(payloads, start=1)
    )
    # The ids were read once, above: a payload arriving meanwhile is never marked by mistake
    # (section 14.4).
    await session.execute(
        update(LicencePayload)
        .where(LicencePayload.id.in_([payload.id for payload in payloads]))
        .values(is_processed=True)
    )
    await session.commit()
    logger.info(
        "licenceData batch committed",
        extra={"mail_id": mail.id, "run_number": run_number, "licences": len(payloads)},
    )
    return mail


async def send_pending_mail(session: AsyncSession, flow: MailFlow, mail: Mail) -> None:
    """Hand the stored bytes to SMTP; on acceptance move the mail to `reply_pending`."""
    if mail.message_bytes is None:
        raise RuntimeError(f"mail {mail.id} is pending without a stored file")
    try:
        await deliver_stored(flow, mail.message_bytes)
    except SmtpError as exc:
        await record_send_failure(session, mail, str(exc))
        await session.commit()
        logger.warning(
            "licenceData mail not accepted; it stays pending",
            extra={"mail_id": mail.id, "error": str(exc), "transient": exc.transient},
        )
        raise SendFailed(mail.id, exc) from exc
    await mark_sent(session, flow, mail, "accepted by the SMTP server")


async def mark_sent(session: AsyncSession, flow: MailFlow, mail: Mail, reason: str) -> None:
    await session.refresh(mail, attribute_names=["status"], with_for_update=True)
    if mail.status != MailStatus.PENDING:
        # CHIEF's reply came in while SMTP was still answering; the inbox job moved the mail on
        # (the reply proves the send), and that move must stand.
        await session.commit()
        logger.info("licenceData mail already answered", extra={"mail_id": mail.id})
        return
    attempt = mail.send_attempts + 1
    await move_mail(
        session,
        mail,
        MailStatus.REPLY_PENDING,
        f"{reason} (attempt {attempt})",
        sent_at=flow.clock(),
        send_attempts=attempt,
        last_error=None,
    )
    await session.commit()
    logger.info("licenceData mail sent", extra={"mail_id": mail.id, "attempt": attempt})


async def deliver_stored(flow: MailFlow, message: bytes) -> None:
    """Hand stored bytes to the SMTP server, unchanged (the one place a licenceData mail leaves)."""
    await flow.smtp.deliver(message)


def retry_delay(job_try: int) -> int:
    """Back-off between SMTP attempts within one schedule slot: 30 s, 60 s, 120 s, then 5 min."""
    return int(min(30 * 2 ** (job_try - 1), 300))


async def send_licence_data(ctx: dict[str, Any]) -> str:
    """arq cron job: one batching pass. A transient SMTP failure retries with back-off."""
    flow: MailFlow = ctx["mail_flow"]
    try:
        return await run_batching(flow)
    except BatcherBusy:
        return "another batching run is in progress"
    except SendFailed as failed:
        if failed.transient:
            raise Retry(defer=retry_delay(ctx.get("job_try", 1))) from failed
        return str(failed)
