"""Tell ICMS what CHIEF said: licence outcomes (sections 4.1, 6.3, 8) and usage (4.2, 6.4, 9).

Two steps, each its own commit, so a failure anywhere repeats only what is left:
1. prepare: for a mail in `reply_received`, parse the reply, record each payload's outcome and
   store the exact JSON body owed to ICMS (an `icms_callbacks` row);
2. deliver: POST that stored body until ICMS accepts it, and only then move the mail on
   (`reply_processed` or `reply_partially_processed`). Errors and timeouts leave the mail as it
   was, and the next attempt sends the very same body.
A reply CHIEF could not process at all (file errors only, no data, unknown) is not sent: its
licences go out again with `recreate-and-send`, and the job says so in the log every pass.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

from arq import Retry
from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from licence_gateway.adapters.icms import (
    LICENCE_REPLY_PATH,
    USAGE_DATA_PATH,
    IcmsClient,
    IcmsError,
)
from licence_gateway.domain.chief import (
    ChiefFormatError,
    LicenceReply,
    ReplyOutcome,
    callback_json,
    parse_licence_reply,
    parse_usage_data,
    reply_callback_body,
    usage_callback_body,
)
from licence_gateway.domain.mail_state import ExtractType, MailStatus
from licence_gateway.jobs.context import MailFlow
from licence_gateway.store.mail import (
    BatchPayload,
    IcmsCallback,
    LicenceDataBatch,
    Mail,
    move_mail,
)
from licence_gateway.store.payloads import LicencePayload

logger = logging.getLogger(__name__)

UNPROCESSABLE = 422  # ICMS: "I cannot take (one licence of) this body"; it rolled back all of it

NEXT_STATUS = {
    ReplyOutcome.VALID: MailStatus.REPLY_PROCESSED,
    ReplyOutcome.PARTIALLY_VALID: MailStatus.REPLY_PARTIALLY_PROCESSED,
}


@dataclass
class CallbackReport:
    prepared: int = 0
    delivered: int = 0
    failed: list[str] = field(default_factory=list)
    transient_failure: bool = False
    needs_operator: list[int] = field(default_factory=list)
    parked: int = 0  # licences ICMS refused on their own (422), parked for `redeliver`

    def __str__(self) -> str:
        text = f"prepared {self.prepared}, delivered {self.delivered}, failed {len(self.failed)}"
        if self.parked:
            text += f", licences parked after ICMS refused them: {self.parked}"
        if self.needs_operator:
            text += f", mails needing recreate-and-send: {self.needs_operator}"
        return text


async def run_callbacks(flow: MailFlow) -> CallbackReport:
    report = CallbackReport()
    await prepare_callbacks(flow, report)
    await deliver_callbacks(flow, report)
    return report


# --- 1. prepare ------------------------------------------------------------------------------


async def prepare_callbacks(flow: MailFlow, report: CallbackReport) -> None:
    async with flow.sessions() as session:
        mails = await session.scalars(
            select(Mail)
            .where(
                Mail.status == MailStatus.REPLY_RECEIVED,
                ~exists().where(IcmsCallback.mail_id == Mail.id),
            )
            .order_by(Mail.id)
            .with_for_update(skip_locked=True)
        )
        for mail in mails:
            if mail.extract_type == ExtractType.LICENCE_DATA:
                prepared = await _prepare_reply(session, mail)
                if not prepared:
                    report.needs_operator.append(mail.id)
            else:
                prepared = await _prepare_usage(session, mail)
            report.prepared += prepared
        await session.commit()


async def _prepare_reply(session: AsyncSession, mail: Mail) -> bool:
    reply = parse_licence_reply(mail.response_data or "")  # the inbox stored only readable ones
    next_status = NEXT_STATUS.get(reply.outcome)
    if next_status is None:
        logger.error(
            "licenceReply not processable by CHIEF; run recreate-and-send for this mail",
            extra={
                "mail_id": mail.id,
                "outcome": reply.outcome.value,
                "file_errors": [f"{e.code} {e.text}" for e in reply.file_errors],
            },
        )
        return False
    carried = await _carried_payloads(session, mail.id)
    reply, ids = match_transactions(reply, carried, mail.id)
    body = reply_callback_body(reply, ids)
    session.add(
        IcmsCallback(
            mail_id=mail.id,
            path=LICENCE_REPLY_PATH,
            body=callback_json(body),
            next_status=next_status,
        )
    )
    return True


async def _carried_payloads(
    session: AsyncSession, mail_id: int
) -> list[tuple[BatchPayload, LicencePayload]]:
    rows = await session.execute(
        select(BatchPayload, LicencePayload)
        .join(LicencePayload, LicencePayload.id == BatchPayload.payload_id)
        .join(LicenceDataBatch, LicenceDataBatch.id == BatchPayload.batch_id)
        .where(LicenceDataBatch.mail_id == mail_id)
        .order_by(BatchPayload.position)
    )
    return [(link, payload) for link, payload in rows]


def match_transactions(
    reply: LicenceReply, carried: list[tuple[BatchPayload, LicencePayload]], mail_id: int
) -> tuple[LicenceReply, dict[str, str]]:
    """Pair each transaction CHIEF reports with the payload it is about; record its outcome.

    CHIEF names a transaction by our reference, which one batch may hold twice (an insert and its
    cancel). The original mapped a reference to its last payload, so the first never heard back
    (section 14.15); here the n-th report of a reference goes to its n-th payload in file order.
    Returns the reply keyed by payload instead of by reference, and each key's ICMS id.
    """
    waiting: dict[str, deque[tuple[BatchPayload, LicencePayload]]] = defaultdict(deque)
    for pair in carried:
        waiting[pair[1].reference.strip()].append(pair)  # CHIEF's lines lose trailing spaces
    last: dict[str, tuple[BatchPayload, LicencePayload]] = {}
    ids: dict[str, str] = {}
    unknown: list[str] = []

    def key_of(reference: str, outcome: str, errors: list[dict[str, str]] | None) -> str | None:
        reference = reference.strip()
        if waiting[reference]:
            last[reference] = waiting[reference].popleft()
        elif reference not in last:  # not in the run: ICMS cannot be told about it
            unknown.append(reference)
            return None
        link, payload = last[reference]  # reported more often than sent: as the original
        link.outcome, link.errors = outcome, errors
        key = f"payload {payload.id}"
        ids[key] = str(payload.icms_id)
        return key

    accepted = [key_of(reference, "accepted", None) for reference in reply.accepted]
    rejected = []
    for transaction in reply.rejected:
        errors = [{"error_code": e.code, "error_msg": e.text} for e in transaction.errors]
        key = key_of(transaction.reference, "rejected", errors)
        if key is not None:
            rejected.append(transaction._replace(reference=key))
    if unknown:
        logger.error(
            "licenceReply names transactions that were not in the run",
            extra={"mail_id": mail_id, "references": unknown},
        )
    keyed = dataclasses.replace(
        reply, accepted=tuple(key for key in accepted if key), rejected=tuple(rejected)
    )
    return keyed, ids


async def _prepare_usage(session: AsyncSession, mail: Mail) -> bool:
    try:
        body = usage_callback_body(parse_usage_data(mail.response_data or ""))
    except ChiefFormatError as exc:
        logger.error("usageData file not usable", extra={"mail_id": mail.id, "error": str(exc)})
        return False
    if not body["usage_data"]:
        # CHIEF sends an empty file daily when nothing was used: nothing to tell ICMS.
        await move_mail(session, mail, MailStatus.REPLY_PROCESSED, "no usage to report")
        return False
    session.add(
        IcmsCallback(
            mail_id=mail.id,
            path=USAGE_DATA_PATH,
            body=callback_json(body),
            next_status=MailStatus.REPLY_PROCESSED,
        )
    )
    return True


# --- 2. deliver ------------------------------------------------------------------------------


async def deliver_callbacks(flow: MailFlow, report: CallbackReport) -> None:
    """POST every undelivered body once, oldest first; each held locked while it is in flight."""
    tried: list[int] = []
    while True:
        async with flow.sessions() as session:
            callback = await session.scalar(
                select(IcmsCallback)
                .where(IcmsCallback.delivered.is_(False), IcmsCallback.id.not_in(tried))
                .order_by(IcmsCallback.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            if callback is None:
                return
            tried.append(callback.id)
            await _deliver(session, flow, callback, report)
            await session.commit()


async def _deliver(
    session: AsyncSession, flow: MailFlow, callback: IcmsCallback, report: CallbackReport
) -> None:
    icms = await flow.icms()
    callback.attempts += 1
    body = json.loads(callback.body)
    try:
        if callback.delivered_ids or callback.refused_ids:  # a split left part of it to send
            await _deliver_part(icms, callback, body, _undelivered(callback, body))
        else:
            # Decoding and re-encoding with json.dumps' defaults gives back the stored text.
            await _deliver_part(icms, callback, body, None)
    except IcmsError as exc:
        callback.last_error = str(exc)
        report.failed.append(f"callback {callback.id}: {exc}")
        report.transient_failure |= exc.transient
        # A refusal (4xx) will not pass by itself: it needs someone to look, so say it louder.
        logger.log(
            logging.WARNING if exc.transient else logging.ERROR,
            "ICMS did not take the callback; the mail stays as it is",
            extra={"callback_id": callback.id, "mail_id": callback.mail_id, "error": str(exc)},
        )
        return
    callback.delivered, callback.delivered_at, callback.last_error = True, flow.clock(), None
    mail = await session.get(Mail, callback.mail_id, with_for_update=True)
    if mail is None:  # the foreign key keeps the mail; checked rather than asserted
        raise RuntimeError(f"callback {callback.id} names missing mail {callback.mail_id}")
    # Every licence is now delivered or parked: the run is done with.
    await move_mail(
        session, mail, MailStatus(callback.next_status), f"ICMS accepted callback {callback.id}"
    )
    report.delivered += 1
    if callback.refused_ids:
        report.parked += len(callback.refused_ids)
    if callback.next_status == MailStatus.REPLY_PARTIALLY_PROCESSED:
        logger.error(
            "ICMS told, but CHIEF did not process every licence: run recreate-and-send",
            extra={"mail_id": mail.id},
        )


# One outcome in a licence reply body: ("accepted" | "rejected", {"id": ..., ...}).
Outcome = tuple[str, dict[str, Any]]


def _outcomes(body: dict[str, Any]) -> list[Outcome]:
    return [(kind, item) for kind in ("accepted", "rejected") for item in body.get(kind, [])]


def _undelivered(callback: IcmsCallback, body: dict[str, Any]) -> list[Outcome]:
    done = callback.delivered_ids.keys() | callback.refused_ids.keys()
    return [outcome for outcome in _outcomes(body) if outcome[1]["id"] not in done]


def outcomes_body(body: dict[str, Any], outcomes: list[Outcome]) -> dict[str, Any]:
    """The run's body holding only `outcomes` (key order and run number as the original's)."""
    part = dict(body)
    for kind in ("accepted", "rejected"):
        part[kind] = [item for item_kind, item in outcomes if item_kind == kind]
    return part


async def _deliver_part(
    icms: IcmsClient, callback: IcmsCallback, body: dict[str, Any], part: list[Outcome] | None
) -> None:
    """POST these outcomes (None: the whole stored body). ICMS refuses a whole licence callback
    with 422 when it cannot take one licence of it, so halve until each refusal stands alone,
    park that licence with ICMS's answer, and deliver everything else."""
    outcomes = _outcomes(body) if part is None else part
    if not outcomes and part is not None:
        return
    try:
        await icms.post(callback.path, body if part is None else outcomes_body(body, outcomes))
    except IcmsError as exc:
        if exc.status != UNPROCESSABLE or callback.path != LICENCE_REPLY_PATH or not outcomes:
            raise
        if len(outcomes) == 1:
            icms_id = str(outcomes[0][1]["id"])
            callback.refused_ids = {**callback.refused_ids, icms_id: str(exc)}
            logger.error(
                "ICMS refused one licence's outcome; parked it (licence-gateway redeliver)",
                extra={"callback_id": callback.id, "icms_id": icms_id, "answer": str(exc)},
            )
            return
        half = len(outcomes) // 2
        await _deliver_part(icms, callback, body, outcomes[:half])
        await _deliver_part(icms, callback, body, outcomes[half:])
        return
    taken = {str(item["id"]): True for _, item in outcomes}
    callback.delivered_ids = {**callback.delivered_ids, **taken}


async def redeliver_outcome(icms: IcmsClient, callback: IcmsCallback, icms_id: str) -> None:
    """Send one parked licence's outcome again; on success it is delivered, no longer parked."""
    body = json.loads(callback.body)
    outcomes = [outcome for outcome in _outcomes(body) if str(outcome[1]["id"]) == icms_id]
    await icms.post(callback.path, outcomes_body(body, outcomes))
    callback.refused_ids = {k: v for k, v in callback.refused_ids.items() if k != icms_id}
    callback.delivered_ids = {**callback.delivered_ids, icms_id: True}


def retry_delay(job_try: int) -> int:
    """30 s, 60 s, 120 s, ... at most 5 minutes (the next cron slot comes anyway)."""
    return int(min(30 * 2 ** (job_try - 1), 300))


async def send_to_icms(ctx: dict[str, Any]) -> str:
    """arq cron job: prepare and deliver ICMS callbacks; ICMS down means retry with back-off."""
    flow: MailFlow = ctx["mail_flow"]
    report = await run_callbacks(flow)
    if report.transient_failure:
        raise Retry(defer=retry_delay(ctx.get("job_try", 1)))
    return str(report)
