"""The batching job against a real SMTP server (aiosmtpd, STARTTLS + login) and PostgreSQL."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import asyncpg
import orjson
import pytest
from arq import Retry
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from licence_gateway.domain.mail_state import MailStatus
from licence_gateway.jobs import batching
from licence_gateway.jobs.batching import BatcherBusy, SendFailed, run_batching, send_licence_data
from licence_gateway.jobs.context import MailFlow
from licence_gateway.settings import LicenceGatewaySettings
from service_kit.advisory_locks import AdvisoryLock
from service_kit.db import create_sessionmaker
from service_kit.settings import SettingsError, load_settings
from tests.licence_gateway.mail_fixtures import (
    CLIENT_ID,
    CLIENT_SECRET,
    MAILBOX_USER,
    TENANT_ID,
    IdentityService,
)
from tests.licence_gateway.mail_flow_support import (
    CHIEF_ADDRESS,
    Clock,
    add_payloads,
    attachment_text,
    batches,
    fixture_text,
    history,
    licences,
    mails,
    parsed,
    payloads,
    set_status,
    with_new_id,
)
from tests.support.smtp_server import LocalSmtpServer, SmtpFault
from tests.support.tls import LocalCertificate


async def test_unsent_payloads_go_out_as_one_file_then_the_mail_awaits_its_reply(
    mail_flow: MailFlow, chief_smtp: LocalSmtpServer
) -> None:
    await add_payloads(mail_flow.engine, licences("fa_sil_insert"))

    assert await run_batching(mail_flow) == "mail 1 sent"

    [message] = chief_smtp.messages
    assert message.recipients == [CHIEF_ADDRESS]
    email = parsed(message.data)
    assert email["Subject"] == "CHIEF_LIVE_ILBDOTI_licenceData_1_202201011011"
    assert attachment_text(message.data) == fixture_text("fa_sil_insert").replace("\r\n", "\n")
    [mail] = await mails(mail_flow.engine)
    assert mail.status == MailStatus.REPLY_PENDING
    assert email["Message-ID"] == mail.message_id
    assert message.data.replace(b"\r\n", b"\n") == mail.message_bytes
    assert await history(mail_flow.engine, mail.id) == [
        (None, "pending"),
        ("pending", "reply_pending"),
    ]
    [batch] = await batches(mail_flow.engine)
    assert (batch.run_number, batch.mail_id) == (1, mail.id)
    assert [p.is_processed for p in await payloads(mail_flow.engine)] == [True]


async def test_no_payloads_means_no_mail(mail_flow: MailFlow, chief_smtp: LocalSmtpServer) -> None:
    assert await run_batching(mail_flow) == "no licences to send"
    assert chief_smtp.messages == []
    assert await mails(mail_flow.engine) == []


async def test_the_gate_holds_new_payloads_while_a_mail_is_in_flight(
    mail_flow: MailFlow, chief_smtp: LocalSmtpServer
) -> None:
    await add_payloads(mail_flow.engine, licences("fa_sil_insert"))
    await run_batching(mail_flow)
    await add_payloads(mail_flow.engine, licences("fa_oil_insert"))

    for blocking in (
        MailStatus.REPLY_PENDING,
        MailStatus.REPLY_RECEIVED,
        MailStatus.REPLY_PARTIALLY_PROCESSED,
    ):
        await set_status(mail_flow.engine, 1, blocking)
        assert await run_batching(mail_flow) == f"gate closed: mail 1 is {blocking.value}"
    assert len(chief_smtp.messages) == 1

    await set_status(mail_flow.engine, 1, MailStatus.REPLY_PROCESSED)
    assert await run_batching(mail_flow) == "mail 2 sent"
    assert [b.run_number for b in await batches(mail_flow.engine)] == [1, 2]
    assert "licenceData_2_" in parsed(chief_smtp.messages[1].data)["Subject"]


async def test_the_first_run_number_comes_from_the_settings(
    mail_flow: MailFlow, chief_smtp: LocalSmtpServer
) -> None:
    mail_flow.settings = mail_flow.settings.model_copy(update={"first_run_number": 29236})
    await add_payloads(mail_flow.engine, licences("fa_oil_insert"))
    await run_batching(mail_flow)
    [batch] = await batches(mail_flow.engine)
    assert batch.run_number == 29236


async def test_skipped_payloads_stay_out_of_the_file(
    mail_flow: MailFlow, chief_smtp: LocalSmtpServer
) -> None:
    """The original stored the skip flag but never read it (section 14.3)."""
    [skipped] = await add_payloads(mail_flow.engine, licences("fa_oil_insert"), skip=True)
    await add_payloads(mail_flow.engine, licences("fa_sil_insert"))

    await run_batching(mail_flow)

    text_sent = attachment_text(chief_smtp.messages[0].data)
    assert "IMA/2022/00003" in text_sent and "IMA/2022/00001" not in text_sent
    by_id = {p.id: p for p in await payloads(mail_flow.engine)}
    assert by_id[skipped].is_processed is False


async def test_batch_rows_carry_every_payload_in_file_order(
    mail_flow: MailFlow, chief_smtp: LocalSmtpServer
) -> None:
    """The rows are written by one INSERT ... SELECT over the ids: positions follow the file."""
    vectors = licences("fa_dfl_insert") + licences("sanction_insert") + licences("fa_sil_insert")
    ids = await add_payloads(mail_flow.engine, vectors)

    assert await run_batching(mail_flow) == "mail 1 sent"

    [batch] = await batches(mail_flow.engine)
    engine = mail_flow.engine
    async with engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT payload_id, position FROM licence_gateway.licence_data_batch_payloads"
                " WHERE batch_id = :batch ORDER BY position"
            ),
            {"batch": batch.id},
        )
        assert [tuple(row) for row in rows] == [(id_, n) for n, id_ in enumerate(ids, start=1)]
    references = [vector["reference"] for vector in vectors]
    sent = attachment_text(chief_smtp.messages[0].data)
    records = [line.split("\\") for line in sent.splitlines()]
    assert [fields[2] for fields in records if fields[1] == "licence"] == references
    assert [p.is_processed for p in await payloads(engine)] == [True] * len(ids)


@pytest.mark.parametrize(
    ("statement", "refusal"),
    [
        (
            "INSERT INTO licence_gateway.licence_data_batch_payloads"
            " (batch_id, payload_id, position) VALUES (:batch, :missing, 99)",
            "names a batch or payload that does not exist",
        ),
        (
            "INSERT INTO licence_gateway.licence_data_batch_payloads"
            " (batch_id, payload_id, position) VALUES (:missing, :payload, 99)",
            "names a batch or payload that does not exist",
        ),
        (
            "UPDATE licence_gateway.licence_data_batch_payloads SET payload_id = :missing"
            " WHERE payload_id = :payload",
            "batch and payload never change",
        ),
        (
            "DELETE FROM licence_gateway.licence_payloads WHERE id = :payload",
            "licence_payloads rows that batch rows name cannot be deleted",
        ),
        (
            "DELETE FROM licence_gateway.licence_data_batches WHERE id = :batch",
            "licence_data_batches rows that batch rows name cannot be deleted",
        ),
    ],
)
async def test_batch_rows_keep_their_references_as_foreign_keys_did(
    mail_flow: MailFlow, chief_smtp: LocalSmtpServer, statement: str, refusal: str
) -> None:
    """Statement-level triggers replace the row-level foreign keys (migration lg0005)."""
    [payload_id] = await add_payloads(mail_flow.engine, licences("fa_sil_insert"))
    await run_batching(mail_flow)
    [batch] = await batches(mail_flow.engine)
    binds = {"batch": batch.id, "payload": payload_id, "missing": 10**9}
    async with mail_flow.engine.connect() as connection:
        with pytest.raises(IntegrityError, match=refusal):
            await connection.execute(text(statement), binds)


async def test_a_payload_no_batch_names_can_still_be_deleted(mail_flow: MailFlow) -> None:
    [payload_id] = await add_payloads(mail_flow.engine, licences("fa_sil_insert"))
    async with mail_flow.engine.begin() as connection:
        deleted = await connection.execute(
            text("DELETE FROM licence_gateway.licence_payloads WHERE id = :id"), {"id": payload_id}
        )
    assert deleted.rowcount == 1


async def test_batch_rows_the_database_refuses_leave_no_mail_and_no_batch(
    mail_flow: MailFlow,
) -> None:
    """The batch rows are written while the file is built; their refusal undoes the whole try."""
    ghost = batching.ClaimedPayload(
        999_999, "GBSIL/ghost", orjson.dumps(licences("fa_sil_insert")[0])
    )
    async with mail_flow.sessions() as session:
        with pytest.raises(asyncpg.ForeignKeyViolationError, match="does not exist"):
            await batching.commit_batch(
                session, mail_flow, [ghost], reason="a payload never stored"
            )
        await session.commit()
    async with mail_flow.engine.connect() as connection:
        stored = await connection.execute(
            text(
                "SELECT (SELECT count(*) FROM licence_gateway.mails),"
                " (SELECT count(*) FROM licence_gateway.licence_data_batches)"
            )
        )
        assert stored.one() == (0, 0)


async def test_a_payload_that_cannot_be_built_is_set_aside_not_blocking_the_rest(
    mail_flow: MailFlow, chief_smtp: LocalSmtpServer
) -> None:
    """One bad stored payload used to fail every batch forever (section 14.3)."""
    bad = licences("fa_oil_insert")[0]
    bad["organisation"]["name"] = "Back\\slash Ltd"  # a field separator inside data
    [bad_id] = await add_payloads(mail_flow.engine, [bad])
    await add_payloads(mail_flow.engine, licences("fa_sil_insert"))

    summary = await run_batching(mail_flow)

    # The first try's rows were undone, but not its mail id: the sequence does not go back.
    async with mail_flow.engine.connect() as connection:
        mail_ids = (await connection.execute(text("SELECT id FROM licence_gateway.mails"))).all()
    assert summary == f"mail {mail_ids[0].id} sent" and len(mail_ids) == 1
    assert "Back" not in attachment_text(chief_smtp.messages[0].data)
    by_id = {p.id: p for p in await payloads(mail_flow.engine)}
    assert (by_id[bad_id].skip_process, by_id[bad_id].is_processed) == (True, False)


async def test_a_wrong_source_system_fails_the_batch_without_skipping_anyone(
    mail_flow: MailFlow, chief_smtp: LocalSmtpServer
) -> None:
    await add_payloads(mail_flow.engine, licences("fa_sil_insert"))
    mail_flow.reconfigure(mail_flow.settings.model_copy(update={"chief_source_system": "CHIEF"}))

    with pytest.raises(ValueError, match="fileHeader"):
        await run_batching(mail_flow)

    assert [(p.skip_process, p.is_processed) for p in await payloads(mail_flow.engine)] == [
        (False, False)
    ]
    assert await mails(mail_flow.engine) == []


def test_the_settings_refuse_chief_as_our_source_system() -> None:
    with pytest.raises(SettingsError, match="CHIEF_SOURCE_SYSTEM"):
        load_settings(
            LicenceGatewaySettings,
            database_url="postgresql+asyncpg://db.test/gateway",
            redis_url="redis://redis.test",
            chief_source_system="CHIEF",
        )


async def test_a_payload_arriving_during_the_send_is_not_marked_sent(
    mail_flow: MailFlow, chief_smtp: LocalSmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The original re-ran its query and could mark such a payload processed (section 14.4)."""
    await add_payloads(mail_flow.engine, licences("fa_sil_insert"))
    real_deliver = batching.deliver_stored
    late: list[int] = []

    async def deliver_while_icms_posts(mail_flow: MailFlow, message: bytes) -> None:
        late.extend(
            await add_payloads(mail_flow.engine, [with_new_id(licences("fa_oil_insert")[0])])
        )
        await real_deliver(mail_flow, message)

    monkeypatch.setattr(batching, "deliver_stored", deliver_while_icms_posts)
    await run_batching(mail_flow)

    by_id = {p.id: p for p in await payloads(mail_flow.engine)}
    assert by_id[late[0]].is_processed is False


@pytest.mark.parametrize("fault", [SmtpFault.REFUSE_TEMPORARY, SmtpFault.HANG])
async def test_smtp_refusing_or_timing_out_leaves_the_mail_pending_then_it_goes_unchanged(
    mail_flow: MailFlow, chief_smtp: LocalSmtpServer, fault: SmtpFault
) -> None:
    await add_payloads(mail_flow.engine, licences("fa_sil_insert"))
    chief_smtp.fault = fault

    with pytest.raises(SendFailed) as failed:
        await run_batching(mail_flow)

    assert failed.value.transient
    [mail] = await mails(mail_flow.engine)
    assert (mail.status, mail.send_attempts) == (MailStatus.PENDING, 1)
    assert mail.last_error
    assert chief_smtp.messages == []

    chief_smtp.fault = SmtpFault.NONE
    mail_flow.clock.advance(10)  # type: ignore[attr-defined]
    assert await run_batching(mail_flow) == f"mail {mail.id} sent"

    [message] = chief_smtp.messages
    assert message.data.replace(b"\r\n", b"\n") == mail.message_bytes
    assert parsed(message.data)["Message-ID"] == mail.message_id
    assert len(await batches(mail_flow.engine)) == 1
    [after] = await mails(mail_flow.engine)
    assert (after.status, after.send_attempts, after.last_error) == ("reply_pending", 2, None)


async def test_a_worker_killed_between_send_and_commit_resends_the_same_bytes(
    mail_flow: MailFlow, chief_smtp: LocalSmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    await add_payloads(mail_flow.engine, licences("fa_sil_insert"))

    async def killed(*args: object, **kwargs: object) -> None:
        raise SystemExit("worker killed after the SMTP server accepted the mail")

    with monkeypatch.context() as patch:
        patch.setattr(batching, "mark_sent", killed)
        with pytest.raises(SystemExit):
            await run_batching(mail_flow)
    [mail] = await mails(mail_flow.engine)
    assert mail.status == MailStatus.PENDING

    mail_flow.clock.advance(10)  # type: ignore[attr-defined]
    assert await run_batching(mail_flow) == f"mail {mail.id} sent"

    first, second = chief_smtp.messages
    assert first.data == second.data
    assert parsed(second.data)["Message-ID"] == mail.message_id
    assert [b.run_number for b in await batches(mail_flow.engine)] == [1]


async def test_two_workers_at_once_send_one_batch(
    mail_flow: MailFlow, chief_smtp: LocalSmtpServer
) -> None:
    await add_payloads(mail_flow.engine, licences("fa_dfl_insert") + licences("fa_sil_insert"))
    async with AsyncExitStack() as exits:
        workers = [mail_flow]
        for _ in range(3):  # each "worker" with its own connection pool, as separate processes
            engine = create_async_engine(mail_flow.settings.database_url, pool_size=2)
            exits.push_async_callback(engine.dispose)
            workers.append(
                MailFlow(
                    settings=mail_flow.settings,
                    engine=engine,
                    sessions=create_sessionmaker(engine),
                    redis=mail_flow.redis,
                    exits=exits,
                    clock=Clock(),
                )
            )
        results = await asyncio.gather(
            *(run_batching(worker) for worker in workers), return_exceptions=True
        )

    sent = [r for r in results if isinstance(r, str) and r.endswith("sent")]
    assert len(sent) == 1, results
    assert all(
        isinstance(r, BatcherBusy) or r == sent[0] or str(r).startswith("gate closed")
        for r in results
    )
    assert len(chief_smtp.messages) == 1
    assert len(await batches(mail_flow.engine)) == 1


async def test_a_batcher_holding_the_lock_keeps_others_out(
    mail_flow: MailFlow, chief_smtp: LocalSmtpServer, engine: AsyncEngine
) -> None:
    await add_payloads(mail_flow.engine, licences("fa_sil_insert"))
    async with engine.connect() as other_worker:
        await other_worker.execute(
            text("SELECT pg_advisory_lock(:key)"), {"key": AdvisoryLock.LICENCE_BATCHING}
        )
        with pytest.raises(BatcherBusy):
            await run_batching(mail_flow)
        await other_worker.execute(
            text("SELECT pg_advisory_unlock(:key)"), {"key": AdvisoryLock.LICENCE_BATCHING}
        )
    assert chief_smtp.messages == []
    assert await run_batching(mail_flow) == "mail 1 sent"


async def test_the_job_retries_a_transient_refusal_and_waits_out_a_permanent_one(
    mail_flow: MailFlow, chief_smtp: LocalSmtpServer
) -> None:
    await add_payloads(mail_flow.engine, licences("fa_sil_insert"))
    context = {"mail_flow": mail_flow, "job_try": 2}

    chief_smtp.fault = SmtpFault.REFUSE_TEMPORARY
    with pytest.raises(Retry) as retry:
        await send_licence_data(context)
    assert retry.value.defer_score == 60_000  # 30 s, then 60 s, ...

    chief_smtp.fault = SmtpFault.REFUSE_PERMANENT  # an operator must look; the next slot tries
    outcome = await send_licence_data(context)
    assert outcome.startswith("mail 1 not sent: SMTP server answered 554")

    [mail] = await mails(mail_flow.engine)
    assert (mail.status, mail.send_attempts) == ("pending", 2)
    assert await history(mail_flow.engine, mail.id) == [(None, "pending")]


async def test_a_batch_goes_out_over_smtps_with_an_msal_xoauth2_token(
    mail_flow: MailFlow, local_certificate: LocalCertificate, identity_service: IdentityService
) -> None:
    """As on Microsoft 365: implicit TLS, AUTH XOAUTH2 with a client-credentials token."""
    await add_payloads(mail_flow.engine, licences("fa_sil_insert"))
    with LocalSmtpServer(
        local_certificate, implicit_tls=True, token_is_valid=identity_service.token_is_valid
    ) as server:
        mail_flow.reconfigure(
            mail_flow.settings.model_copy(
                update={
                    "smtp_port": server.port,
                    "smtp_security": "tls",
                    "smtp_auth": "xoauth2",
                    "smtp_username": MAILBOX_USER,
                    "azure_tenant_id": TENANT_ID,
                    "azure_client_id": CLIENT_ID,
                    "azure_client_secret": SecretStr(CLIENT_SECRET),
                    "azure_authority_host": identity_service.authority_host,
                }
            )
        )
        assert await run_batching(mail_flow) == "mail 1 sent"
        [message] = server.messages
    assert (message.mechanism, message.login, message.sender) == (
        "XOAUTH2",
        MAILBOX_USER,
        MAILBOX_USER,
    )


async def test_the_legacy_layout_is_stored_and_resent_as_is(
    mail_flow: MailFlow, chief_smtp: LocalSmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The original's legacy MIME (no Date, no Message-ID) for relays that need it."""
    mail_flow.reconfigure(mail_flow.settings.model_copy(update={"smtp_legacy_layout": True}))
    await add_payloads(mail_flow.engine, licences("fa_sil_insert"))

    async def killed(*args: object, **kwargs: object) -> None:
        raise SystemExit("worker killed after the SMTP server accepted the mail")

    with monkeypatch.context() as patch:
        patch.setattr(batching, "mark_sent", killed)
        with pytest.raises(SystemExit):
            await run_batching(mail_flow)
    await run_batching(mail_flow)

    first, second = chief_smtp.messages
    assert first.data == second.data
    [mail] = await mails(mail_flow.engine)
    assert second.data.replace(b"\r\n", b"\n") == mail.message_bytes
    message = parsed(second.data)
    assert (message["Message-ID"], message["Date"]) == (None, None)
    assert message["name"] == "CHIEF_LIVE_ILBDOTI_licenceData_1_202201011011"
