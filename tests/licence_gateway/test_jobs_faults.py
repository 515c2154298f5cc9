"""Faults at random, again and again: no licence lost, no run number with two files, and every
outcome at ICMS exactly as computed. Real SMTP, real ICMS stand-in, CHIEF answering by fake reply.
"""

from __future__ import annotations

import contextlib
import json
import random
from collections import defaultdict

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from licence_gateway.domain.chief import FakeReply
from licence_gateway.jobs import batching
from licence_gateway.jobs.batching import BatcherBusy, SendFailed, run_batching
from licence_gateway.jobs.callbacks import run_callbacks
from licence_gateway.jobs.context import MailFlow
from licence_gateway.jobs.operations import Refused, fake_reply
from licence_gateway.store.mail import IcmsCallback
from tests.licence_gateway.mail_flow_support import (
    IcmsStandIn,
    add_payloads,
    batches,
    licences,
    mails,
    parsed,
    payloads,
    with_new_id,
)
from tests.support.smtp_server import LocalSmtpServer, SmtpFault


class Killed(BaseException):
    """The worker process dies (after the SMTP server accepted the mail)."""


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_random_faults_lose_nothing_and_every_outcome_reaches_icms(
    mail_flow: MailFlow,
    chief_smtp: LocalSmtpServer,
    icms_stand_in: IcmsStandIn,
    monkeypatch: pytest.MonkeyPatch,
    seed: int,
) -> None:
    chance = random.Random(seed)
    mail_flow.reconfigure(mail_flow.settings.model_copy(update={"environment": "development"}))
    real_mark_sent = batching.mark_sent

    async def mark_sent_or_die(*args: object, **kwargs: object) -> None:
        if chance.random() < 0.3:
            raise Killed
        await real_mark_sent(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(batching, "mark_sent", mark_sent_or_die)
    templates = licences("fa_sil_insert") + licences("fa_dfl_insert") + licences("fa_oil_insert")
    sent_ids: set[str] = set()

    for _step in range(20):
        new = [with_new_id(chance.choice(templates)) for _ in range(chance.randint(0, 3))]
        sent_ids |= {licence["id"] for licence in new}
        await add_payloads(mail_flow.engine, new)
        chief_smtp.fault = chance.choice(
            [SmtpFault.NONE, SmtpFault.NONE, SmtpFault.REFUSE_TEMPORARY]
        )
        with contextlib.suppress(SendFailed, BatcherBusy, Killed):
            await run_batching(mail_flow)
        if chance.random() < 0.7:
            outcome = chance.choice([FakeReply.ACCEPT, FakeReply.REJECT])
            with contextlib.suppress(Refused):  # no mail awaiting a reply yet
                await fake_reply(mail_flow, outcome, False, lambda _line: None)
        icms_stand_in.failures = chance.choice([0, 0, 1])
        await run_callbacks(mail_flow)

    # Then the faults stop, and the flow drains.
    monkeypatch.setattr(batching, "mark_sent", real_mark_sent)
    chief_smtp.fault, icms_stand_in.failures = SmtpFault.NONE, 0
    for _ in range(20):
        await run_batching(mail_flow)
        with contextlib.suppress(Refused):
            await fake_reply(mail_flow, FakeReply.ACCEPT, False, lambda _line: None)
        await run_callbacks(mail_flow)
        if all(p.is_processed for p in await payloads(mail_flow.engine)) and all(
            m.status == "reply_processed" for m in await mails(mail_flow.engine)
        ):
            break

    # No licence lost: every one reached ICMS with an outcome, exactly once.
    told: list[str] = []
    for path, body in icms_stand_in.received:
        assert path == "/chief/license-data-callback"
        document = json.loads(body)
        told += [item["id"] for item in document["accepted"] + document["rejected"]]
    assert sorted(told) == sorted(sent_ids)

    # Each body ICMS got is the one computed and stored for it.
    async with AsyncSession(mail_flow.engine) as session:
        stored = [c.body for c in await session.scalars(select(IcmsCallback))]
    assert sorted(stored) == sorted(body.decode() for _path, body in icms_stand_in.received)

    # No run number carries two different files; runs follow one another.
    by_subject: dict[str, set[bytes]] = defaultdict(set)
    for message in chief_smtp.messages:
        by_subject[parsed(message.data)["Subject"]].add(message.data)
    assert all(len(versions) == 1 for versions in by_subject.values())
    runs = [batch.run_number for batch in await batches(mail_flow.engine)]
    assert runs == list(range(1, len(runs) + 1))
