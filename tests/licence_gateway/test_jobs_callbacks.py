"""ICMS callbacks against a local ICMS that checks Hawk as ICMS does, with its failures."""

from __future__ import annotations

import json

import pytest
from arq import Retry
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from licence_gateway.domain.mail_state import MailStatus
from licence_gateway.jobs.callbacks import run_callbacks, send_to_icms
from licence_gateway.jobs.context import MailFlow
from licence_gateway.store.mail import BatchPayload, IcmsCallback
from tests.licence_gateway.mail_flow_support import (
    FIXTURES,
    IcmsStandIn,
    add_answered_batch,
    add_usage_mail,
    fixture_text,
    history,
    mails,
)

CALLBACK_PATH = "/chief/license-data-callback"


def vector(name: str) -> dict[str, object]:
    loaded: dict[str, object] = json.loads((FIXTURES / f"{name}.json").read_text())
    return loaded


async def answered(mail_flow: MailFlow, name: str) -> tuple[int, dict[str, object]]:
    golden = vector(name)
    ids = golden["payload_reference_to_icms_id"]
    assert isinstance(ids, dict)
    mail_id = await add_answered_batch(
        mail_flow.engine, int(str(golden["licence_data_run_number"])), ids, fixture_text(name)
    )
    return mail_id, golden


async def status_of(mail_flow: MailFlow, mail_id: int) -> str:
    return {mail.id: mail.status for mail in await mails(mail_flow.engine)}[mail_id]


@pytest.mark.parametrize("name", ["accepted_and_rejected_example", "partially_valid_example"])
async def test_each_outcome_reaches_icms_exactly_as_the_original_sent_it(
    mail_flow: MailFlow, icms_stand_in: IcmsStandIn, name: str
) -> None:
    mail_id, golden = await answered(mail_flow, name)

    report = await run_callbacks(mail_flow)

    assert (report.prepared, report.delivered, report.failed) == (1, 1, [])
    [(path, body)] = icms_stand_in.received
    assert path == CALLBACK_PATH
    assert body.decode() == golden["expected_post_body_text"]
    assert await status_of(mail_flow, mail_id) == golden["expected_mail_status_after"]
    assert (await history(mail_flow.engine, mail_id))[-1] == (
        "reply_received",
        golden["expected_mail_status_after"],
    )


async def test_each_payload_keeps_what_chief_said_about_it(
    mail_flow: MailFlow, icms_stand_in: IcmsStandIn
) -> None:
    await answered(mail_flow, "accepted_and_rejected_example")
    await run_callbacks(mail_flow)
    async with AsyncSession(mail_flow.engine) as session:
        links = (await session.scalars(select(BatchPayload).order_by(BatchPayload.position))).all()
    assert [link.outcome for link in links] == ["accepted", "accepted", "accepted", "rejected"]
    assert links[3].errors == [
        {"error_code": "1234", "error_msg": "Invalid thingy"},
        {"error_code": "76543", "error_msg": "Invalid commodity “1234A6” in line 23"},
    ]


async def test_a_reference_twice_in_one_batch_reports_each_payload(
    mail_flow: MailFlow, icms_stand_in: IcmsStandIn
) -> None:
    """The original mapped a reference to its last payload only (section 14.15)."""
    reply = (
        "1\\fileHeader\\CHIEF\\ILBDOTI\\licenceReply\\202401010000\\7\n"
        "2\\accepted\\IMA/2024/00001\n"
        "3\\rejected\\IMA/2024/00001\n"
        "4\\error\\1\\Cancel refused\n"
        "5\\end\\rejected\\3\n"
        "6\\fileTrailer\\1\\1\\0\n"
    )
    await add_answered_batch(
        mail_flow.engine, 7, [("IMA/2024/00001", _id(1)), ("IMA/2024/00001", _id(2))], reply
    )

    await run_callbacks(mail_flow)

    [(_path, body)] = icms_stand_in.received
    assert json.loads(body) == {
        "run_number": "7",
        "accepted": [{"id": _id(1)}],
        "rejected": [
            {"id": _id(2), "errors": [{"error_code": "1", "error_msg": "Cancel refused"}]}
        ],
    }


async def test_icms_failing_then_recovering_gets_the_same_body_and_the_state_waits(
    mail_flow: MailFlow, icms_stand_in: IcmsStandIn
) -> None:
    mail_id, golden = await answered(mail_flow, "accepted_and_rejected_example")
    icms_stand_in.failures = 2

    for _ in range(2):
        report = await run_callbacks(mail_flow)
        assert report.delivered == 0 and report.transient_failure
        assert await status_of(mail_flow, mail_id) == "reply_received"

    report = await run_callbacks(mail_flow)

    assert report.delivered == 1
    [(_path, body)] = icms_stand_in.received
    assert body.decode() == golden["expected_post_body_text"]
    assert await status_of(mail_flow, mail_id) == "reply_processed"
    async with AsyncSession(mail_flow.engine) as session:
        [callback] = (await session.scalars(select(IcmsCallback))).all()
    assert (callback.attempts, callback.delivered, callback.last_error) == (3, True, None)


async def test_icms_timing_out_is_retried_with_the_same_body(
    mail_flow: MailFlow, icms_stand_in: IcmsStandIn
) -> None:
    mail_id, golden = await answered(mail_flow, "accepted_and_rejected_example")
    icms_stand_in.hang = 3  # longer than the client's 2 s timeout

    with pytest.raises(Retry):
        await send_to_icms({"mail_flow": mail_flow, "job_try": 1})
    assert await status_of(mail_flow, mail_id) == "reply_received"

    icms_stand_in.hang = 0
    assert await send_to_icms({"mail_flow": mail_flow, "job_try": 2}) == (
        "prepared 0, delivered 1, failed 0"
    )
    assert await status_of(mail_flow, mail_id) == "reply_processed"
    assert icms_stand_in.received
    assert {body.decode() for _path, body in icms_stand_in.received} == {
        golden["expected_post_body_text"]
    }


async def test_a_reply_with_only_file_errors_waits_for_an_operator(
    mail_flow: MailFlow, icms_stand_in: IcmsStandIn
) -> None:
    reply = fixture_text("CHIEF_licenceReply_29236_202211101410_file_error")
    mail_id = await add_answered_batch(mail_flow.engine, 29236, {"ABC12345": _id(1)}, reply)

    report = await run_callbacks(mail_flow)

    assert report.needs_operator == [mail_id]
    assert icms_stand_in.received == []
    assert await status_of(mail_flow, mail_id) == "reply_received"


async def test_usage_reaches_icms(mail_flow: MailFlow, icms_stand_in: IcmsStandIn) -> None:
    golden = vector("usage_callback_7132")
    mail_id = await add_usage_mail(mail_flow.engine, fixture_text("usage_7132"))

    await run_callbacks(mail_flow)

    [(path, body)] = icms_stand_in.received
    assert path == "/chief/usage-data-callback"
    assert body.decode() == golden["expected_post_body_text"]
    assert await status_of(mail_flow, mail_id) == "reply_processed"


async def test_several_usage_files_are_each_sent(
    mail_flow: MailFlow, icms_stand_in: IcmsStandIn
) -> None:
    """The original raised when more than one usage mail waited (section 14.7)."""
    first = await add_usage_mail(mail_flow.engine, fixture_text("usage_7132"))
    second = await add_usage_mail(mail_flow.engine, fixture_text("usage_7132"))

    await run_callbacks(mail_flow)

    assert len(icms_stand_in.received) == 2
    assert {await status_of(mail_flow, m) for m in (first, second)} == {"reply_processed"}


async def test_an_empty_usage_file_needs_no_call(
    mail_flow: MailFlow, icms_stand_in: IcmsStandIn
) -> None:
    empty = "1\\fileHeader\\CHIEF\\ILBDOTI\\usageData\\202209280300\\7133\\N\n2\\fileTrailer\\0\n"
    mail_id = await add_usage_mail(mail_flow.engine, empty)

    await run_callbacks(mail_flow)

    assert icms_stand_in.received == []
    assert await status_of(mail_flow, mail_id) == MailStatus.REPLY_PROCESSED


def _id(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"
