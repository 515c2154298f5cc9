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

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from arq import Retry
from sqlalchemy import (
    BigInteger,
    Text,
    any_,
    bindparam,
    cast,
    func,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.elements import BindParameter

from licence_gateway.adapters.smtp import SmtpError, new_message_id
from licence_gateway.domain.chief.licence_data import (
    LicenceDataFile,
    build_licence_data,
    licence_data_file_name,
)
from licence_gateway.domain.mail_state import ExtractType, MailStatus
from licence_gateway.jobs.context import MailFlow
from licence_gateway.store.mail import (
    LicenceDataBatch,
    Mail,
    create_mail,
    licence_mail_in_flight,
    move_mail,
    next_run_number,
    record_send_failure,
)
from licence_gateway.store.payloads import LicencePayload, WaitingPayload, licence_data
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


class ClaimedPayload(NamedTuple):
    """What a batch needs of a waiting payload: no ORM object to track or re-check (a tuple: a
    frozen dataclass's constructor costs more than the rest of the claim's Python).

    The licence stays JSON text until the builder reaches it: 10,000 decoded licences held at
    once would take more memory than the whole file.
    """

    id: int
    reference: str
    stored: bytes  # UTF-8: half the memory of text holding any non-Latin-1 character

    @property
    def data(self) -> dict[str, Any]:
        return licence_data(self.stored)


class PayloadToSend(Protocol):
    """A claimed payload, or a stored one an operator sends again (`cli_ops`)."""

    @property
    def id(self) -> int: ...
    @property
    def reference(self) -> str: ...
    @property
    def data(self) -> dict[str, Any]: ...


_CLAIM = (
    select(
        LicencePayload.id,
        LicencePayload.reference,
        func.convert_to(cast(LicencePayload.data, Text), literal_column("'UTF8'")),
    )
    .join(WaitingPayload, WaitingPayload.payload_id == LicencePayload.id)
    .where(LicencePayload.skip_process.is_(False))
    .order_by(WaitingPayload.received_at, WaitingPayload.payload_id)
    .with_for_update(of=WaitingPayload, skip_locked=True)
)
# The claim sorts the waiting rows with their licences, megabytes of them: in memory, not in
# temporary files (the default work_mem would spill). For the job's transaction only.
_SORT_IN_MEMORY = text("SELECT set_config('work_mem', '64MB', true)")


async def claim_payloads(session: AsyncSession) -> list[ClaimedPayload]:
    """Unsent, non-skipped payloads in arrival order, locked so nothing else can take them.

    Run on the driver's connection: SQLAlchemy's result rows would cost as much as the query."""
    await session.execute(_SORT_IN_MEMORY)
    connection = await session.connection()
    driver: Any = (await connection.get_raw_connection()).driver_connection
    rows: list[Any] = await driver.fetch(str(_CLAIM.compile(dialect=connection.dialect)))
    return [ClaimedPayload(*row) for row in rows]


async def create_batch(session: AsyncSession, flow: MailFlow) -> Mail | None:
    """Claim the payloads and commit a `pending` mail carrying them; None if there are none.

    Ingest refuses a payload that cannot go in a file, so the file should always build; if one
    slips through, it gets its skip flag set and is logged, and must not block every other
    licence as it did in the original (section 14.3). The file is built once; only when that
    fails is each payload tried on its own. Each licence text is let go once the builder has
    read it.
    """
    payloads = await claim_payloads(session)
    if not payloads:
        return None
    run_number = await next_run_number(session, flow.settings.first_run_number)
    payload_ids = [payload.id for payload in payloads]
    reason = f"batch of {len(payload_ids)} licences"
    try:
        return await _commit(session, flow, _consumed(payloads), payload_ids, run_number, reason)
    except ValueError:
        pass
    good = await _buildable_payloads(session, flow)
    if not good:
        await session.commit()  # keeps the skip flags
        return None
    reason = f"batch of {len(good)} licences"
    return await _commit(session, flow, good, [p.id for p in good], run_number, reason)


async def _buildable_payloads(session: AsyncSession, flow: MailFlow) -> list[ClaimedPayload]:
    """The claimed payloads that build on their own; the others get their skip flag, logged."""
    _build([], flow, 1, flow.clock())  # an empty file failing means the settings are wrong: raise
    payloads = await claim_payloads(session)  # the rows this transaction has locked, again
    good: list[ClaimedPayload] = []
    bad: list[ClaimedPayload] = []
    for payload in payloads:
        (good if _builds(payload, flow) else bad).append(payload)
    for payload in bad:
        logger.error(
            "payload cannot be put in a licenceData file; skip flag set",
            extra={"payload_id": payload.id, "reference": payload.reference},
        )
    await session.execute(
        update(LicencePayload)
        .where(LicencePayload.id == any_(_ids([payload.id for payload in bad])))
        .values(skip_process=True)
        .execution_options(synchronize_session=False)
    )
    return good


def _consumed(payloads: list[ClaimedPayload]) -> Iterator[ClaimedPayload]:
    """The payloads in order, each let go of as it is handed over."""
    payloads.reverse()
    while payloads:
        yield payloads.pop()


def _builds(payload: PayloadToSend, flow: MailFlow) -> bool:
    try:
        _build([payload], flow, 1, flow.clock())
    except ValueError:
        return False
    return True


def _build(
    payloads: Iterable[PayloadToSend], flow: MailFlow, run_number: int, now: datetime
) -> LicenceDataFile:
    return build_licence_data(
        (payload.data for payload in payloads),
        run_number=run_number,
        created_at=now,
        source_system=flow.settings.chief_source_system,
    )


# The file and its e-mail are megabytes: PostgreSQL's default pglz compresses them several times
# slower than lz4 does. For this transaction only, and only where the server was built with lz4;
# every reader decompresses either.
_FAST_COMPRESSION = text(
    "SELECT set_config('default_toast_compression', 'lz4', true) FROM pg_settings"
    " WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)"
)


def _ids(ids: list[int]) -> BindParameter[Any]:
    """Payload ids as one array parameter (one bind, whatever the count)."""
    return bindparam("ids", ids, type_=ARRAY(BigInteger()))


async def commit_batch(
    session: AsyncSession, flow: MailFlow, payloads: Sequence[PayloadToSend], *, reason: str
) -> Mail:
    """Build the file for these payloads under the next run number and commit it as `pending`."""
    run_number = await next_run_number(session, flow.settings.first_run_number)
    return await _commit(
        session, flow, payloads, [payload.id for payload in payloads], run_number, reason
    )


async def _commit(
    session: AsyncSession,
    flow: MailFlow,
    payloads: Iterable[PayloadToSend],
    payload_ids: list[int],
    run_number: int,
    reason: str,
) -> Mail:
    """Build the payloads' file and e-mail; store them with the batch rows, take the payloads
    out of the queue, commit. A file that does not build raises ValueError, nothing stored."""
    now = flow.clock()
    message_id = new_message_id()
    mail_and_batch = _batch_stored_meanwhile(
        session, flow, payload_ids, run_number, now, message_id, reason
    )
    async with mail_and_batch as (mail, batch):
        built = _build(payloads, flow, run_number, now)
    await session.execute(_FAST_COMPRESSION)
    # Rendered once and stored: every re-send repeats these very bytes.
    mail.message_bytes = flow.smtp.render_licence_data(
        built.name, built.attachment, message_id, now
    )
    batch.file_text = built.text
    await session.commit()
    log_cut_fields(built, payload_ids)
    logger.info(
        "licenceData batch committed",
        extra={"mail_id": mail.id, "run_number": run_number, "licences": len(payload_ids)},
    )
    return mail


@asynccontextmanager
async def _batch_stored_meanwhile(
    session: AsyncSession,
    flow: MailFlow,
    payload_ids: list[int],
    run_number: int,
    now: datetime,
    message_id: str,
    reason: str,
) -> AsyncIterator[tuple[Mail, LicenceDataBatch]]:
    """The mail and its batch, their file and e-mail left to the caller, and the batch rows,
    stored while the block builds the file; if the block raises, none of it stays.

    The batch rows and the payloads' leaving the queue are one statement, sent before the block
    starts: PostgreSQL writes them while Python builds.
    """
    savepoint = await session.begin_nested()
    mail = await create_mail(
        session,
        ExtractType.LICENCE_DATA,
        MailStatus.PENDING,
        f"{reason}, run {run_number}",
        message_id=message_id,
    )
    source = flow.settings.chief_source_system
    batch = LicenceDataBatch(
        run_number=run_number,
        file_name=licence_data_file_name(source, run_number, now),
        file_text="",
        mail_id=mail.id,
    )
    session.add(batch)
    await session.flush()
    # Prepared first (a connection's statement cache may not hold it yet), so that the rows are
    # one message, which the task sends before the block holds the loop.
    batch_rows = await (await _driver_connection(session)).prepare(_BATCH_ROWS)
    rows = asyncio.create_task(batch_rows.fetch(batch.id, payload_ids))
    await asyncio.sleep(0)
    try:
        yield mail, batch
        await rows
    except BaseException:
        await asyncio.wait([rows])  # the connection is busy until PostgreSQL has answered
        if not rows.cancelled():
            rows.exception()  # retrieved: the block's error is the one to raise
        await savepoint.rollback()
        raise
    await savepoint.commit()


# The batch rows, positions in file order, and the payloads out of the queue. The ids were read
# once, by the claim: a payload arriving meanwhile is never taken out by mistake (section 14.4).
_BATCH_ROWS = """WITH left_the_queue AS (
    DELETE FROM licence_gateway.waiting_payloads WHERE payload_id = ANY($2::bigint[])
)
INSERT INTO licence_gateway.licence_data_batch_payloads (batch_id, payload_id, position)
SELECT $1, claimed.payload_id, claimed.position
FROM unnest($2::bigint[]) WITH ORDINALITY AS claimed(payload_id, position)"""


async def _driver_connection(session: AsyncSession) -> Any:
    """asyncpg's connection under the session's: rows without SQLAlchemy's per-row cost."""
    connection = await session.connection()
    return (await connection.get_raw_connection()).driver_connection


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


def log_cut_fields(built: LicenceDataFile, payload_ids: Sequence[int]) -> None:
    """Name each payload and field the attachment cut to its CHIEF maximum (file order ids)."""
    for cut in built.cut_fields:
        logger.warning(
            "licence field cut to its CHIEF maximum in the e-mailed attachment",
            extra={
                "payload_id": payload_ids[cut.licence],
                "field": cut.field,
                "length": cut.length,
                "maximum": cut.maximum,
                "run_number": built.run_number,
            },
        )
