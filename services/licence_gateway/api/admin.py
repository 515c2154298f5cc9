"""The admin API: mails with their history, payloads with their batches and outcomes.

Read-only, behind a bearer token (LICENCE_GATEWAY_ADMIN_TOKEN). Without a token configured every
route answers 503, so a deployment never exposes it by accident. A licence can be followed from
its POST (`received_at`) through each batch and mail event to the ICMS callback.
"""

from __future__ import annotations

import hmac
import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from licence_gateway.api.deps import SettingsDep
from licence_gateway.domain.chief import build_licence_data
from licence_gateway.domain.mail_state import ExtractType, MailStatus
from licence_gateway.store import mail_queries
from licence_gateway.store.mail import (
    BatchPayload,
    IcmsCallback,
    LicenceDataBatch,
    Mail,
    MailEvent,
    ReceivedEmail,
)
from licence_gateway.store.payloads import LicencePayload
from service_kit.errors import Problem, not_configured, not_found
from service_kit.pagination import Page, PageDep, paginate
from service_kit.request_session import ReadSessionDep, SessionDep
from service_kit.settings import NotConfiguredError, require_settings

T = TypeVar("T")

# --- access ----------------------------------------------------------------------------------


def require_admin(request: Request, settings: SettingsDep) -> None:
    try:
        require_settings(settings, "The admin API", "admin_token")
    except NotConfiguredError as exc:
        raise not_configured(exc, "urn:problem:admin-not-configured") from exc
    token = settings.admin_token.get_secret_value()
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), token.encode()):
        raise Problem(
            401,
            "A valid admin bearer token is required.",
            type_="urn:problem:admin-token",
            headers={"WWW-Authenticate": 'Bearer realm="licence-gateway-admin"'},
        )


AdminDep = Annotated[None, Depends(require_admin)]


# --- schemas ---------------------------------------------------------------------------------


class Event(BaseModel):
    from_status: str | None
    to_status: str
    reason: str
    at: datetime

    @classmethod
    def of(cls, event: MailEvent) -> Event:
        return cls(
            from_status=event.from_status,
            to_status=event.to_status,
            reason=event.reason,
            at=event.at,
        )


class MailSummary(BaseModel):
    id: int
    extract_type: str
    status: str
    run_number: int | None
    file_name: str | None
    message_id: str | None
    sent_at: datetime | None
    send_attempts: int
    last_error: str | None
    response_filename: str | None
    response_date: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, mail: Mail, batch: LicenceDataBatch | None) -> MailSummary:
        return cls(
            id=mail.id,
            extract_type=mail.extract_type,
            status=mail.status,
            run_number=batch.run_number if batch else None,
            file_name=batch.file_name if batch else None,
            message_id=mail.message_id,
            sent_at=mail.sent_at,
            send_attempts=mail.send_attempts,
            last_error=mail.last_error,
            response_filename=mail.response_filename,
            response_date=mail.response_date,
            created_at=mail.created_at,
        )


class Callback(BaseModel):
    path: str
    body: Any  # the JSON exactly as POSTed to ICMS
    delivered: bool
    attempts: int
    last_error: str | None
    delivered_at: datetime | None
    refused: dict[str, str]  # ICMS id -> ICMS's answer, for licences parked after a 422

    @classmethod
    def of(cls, callback: IcmsCallback | None) -> Callback | None:
        if callback is None:
            return None
        return cls(
            path=callback.path,
            body=json.loads(callback.body),
            delivered=callback.delivered,
            attempts=callback.attempts,
            last_error=callback.last_error,
            delivered_at=callback.delivered_at,
            refused=dict(callback.refused_ids),
        )


class CarriedPayload(BaseModel):
    payload_id: int
    icms_id: str
    reference: str
    action: str
    outcome: str | None
    errors: list[dict[str, str]] | None


class ReceivedEmailSummary(BaseModel):
    id: int
    message_id: str
    sender: str
    subject: str
    kind: str
    run_number: int | None
    flag: str | None
    flag_detail: str | None
    mail_id: int | None
    received_at: datetime

    @classmethod
    def of(cls, row: ReceivedEmail) -> ReceivedEmailSummary:
        return cls(
            id=row.id,
            message_id=row.message_id,
            sender=row.sender,
            subject=row.subject,
            kind=row.kind,
            run_number=row.run_number,
            flag=row.flag,
            flag_detail=row.flag_detail,
            mail_id=row.mail_id,
            received_at=row.received_at,
        )


class MailDetail(MailSummary):
    events: list[Event]
    payloads: list[CarriedPayload]
    callback: Callback | None
    received_emails: list[ReceivedEmailSummary]
    response_data: str | None


class BatchRef(BaseModel):
    run_number: int
    mail_id: int
    mail_status: str
    outcome: str | None


class PayloadSummary(BaseModel):
    id: int
    icms_id: str
    reference: str
    action: str
    licence_type: str
    received_at: datetime
    is_processed: bool
    skip_process: bool
    latest_batch: BatchRef | None

    @classmethod
    def of(
        cls,
        payload: LicencePayload,
        link: BatchPayload | None,
        batch: LicenceDataBatch | None,
        mail: Mail | None,
    ) -> PayloadSummary:
        latest = (
            BatchRef(
                run_number=batch.run_number,
                mail_id=mail.id,
                mail_status=mail.status,
                outcome=link.outcome,
            )
            if link and batch and mail
            else None
        )
        return cls(
            id=payload.id,
            icms_id=str(payload.icms_id),
            reference=payload.reference,
            action=payload.action,
            licence_type=payload.licence_type,
            received_at=payload.received_at,
            is_processed=payload.is_processed,
            skip_process=payload.skip_process,
            latest_batch=latest,
        )


class PayloadBatch(BaseModel):
    run_number: int
    file_name: str
    mail_id: int
    mail_status: str
    outcome: str | None
    errors: list[dict[str, str]] | None
    events: list[Event]
    callback: Callback | None


class PayloadState(StrEnum):
    WAITING = "waiting"
    SKIPPED = "skipped"
    BATCHED = "batched"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    ICMS_REFUSED = "icms_refused"  # ICMS refused its outcome (422): parked, see `redeliver`


class PayloadDetail(PayloadSummary):
    state: PayloadState
    icms_refusal: str | None = Field(description="ICMS's answer when it refused the outcome")
    truncated_fields: list[str] = Field(
        description="fields the e-mailed ASCII attachment cuts to their CHIEF maximum"
    )
    licence: dict[str, Any]
    batches: list[PayloadBatch]


def payload_state(
    payload: LicencePayload, link: BatchPayload | None, callback: IcmsCallback | None
) -> tuple[PayloadState, str | None]:
    """The payload's state as the list filter names it, and ICMS's answer if it refused it."""
    if not payload.is_processed:
        return (PayloadState.SKIPPED if payload.skip_process else PayloadState.WAITING), None
    refusal = callback.refused_ids.get(str(payload.icms_id)) if callback else None
    if refusal is not None:
        return PayloadState.ICMS_REFUSED, refusal
    if link is not None and link.outcome is not None:
        return PayloadState(link.outcome), None
    return PayloadState.BATCHED, None


def truncated_fields(licence: dict[str, Any]) -> list[str]:
    """What the attachment cuts for this licence: the same for whichever file carries it."""
    try:
        built = build_licence_data([licence], run_number=1, created_at=datetime.now(UTC))
    except ValueError:  # not buildable: nothing was ever cut
        return []
    return [cut.field for cut in built.cut_fields]


# --- routes ----------------------------------------------------------------------------------


def admin_router() -> APIRouter:
    router = APIRouter(
        prefix="/admin",
        tags=["admin"],
        responses={
            401: {"description": "Missing or wrong bearer token (problem+json)"},
            503: {"description": "LICENCE_GATEWAY_ADMIN_TOKEN is not set (problem+json)"},
        },
    )

    @router.get("/mails", summary="Mails, newest first")
    async def list_mails(
        _admin: AdminDep,
        session: ReadSessionDep,
        paging: PageDep,
        status: MailStatus | None = None,
        extract_type: ExtractType | None = None,
        created_from: Annotated[datetime | None, Query(description="inclusive")] = None,
        created_to: Annotated[datetime | None, Query(description="exclusive")] = None,
    ) -> Page[MailSummary]:
        query = mail_queries.mails_query(
            status=status,
            extract_type=extract_type,
            created_from=created_from,
            created_to=created_to,
        )
        return await paginate(session, query, paging, lambda row: MailSummary.of(*row))

    @router.get("/mails/{mail_id}", summary="One mail: its history, payloads, reply and callback")
    async def show_mail(_admin: AdminDep, session: SessionDep, mail_id: int) -> MailDetail:
        detail = await mail_queries.mail_detail(session, mail_id)
        if detail is None:
            raise not_found(f"mail {mail_id}")
        summary = MailSummary.of(detail.mail, detail.batch)
        return MailDetail(
            **summary.model_dump(),
            events=[Event.of(e) for e in detail.events],
            payloads=[
                CarriedPayload(
                    payload_id=payload.id,
                    icms_id=str(payload.icms_id),
                    reference=payload.reference,
                    action=payload.action,
                    outcome=link.outcome,
                    errors=link.errors,
                )
                for link, payload in detail.carried
            ],
            callback=Callback.of(detail.callback),
            received_emails=[ReceivedEmailSummary.of(e) for e in detail.emails],
            response_data=detail.mail.response_data,
        )

    @router.get("/payloads", summary="Payloads, newest first, with their latest batch")
    async def list_payloads(
        _admin: AdminDep,
        session: ReadSessionDep,
        paging: PageDep,
        state: PayloadState | None = None,
        received_from: Annotated[datetime | None, Query(description="inclusive")] = None,
        received_to: Annotated[datetime | None, Query(description="exclusive")] = None,
    ) -> Page[PayloadSummary]:
        query = mail_queries.payloads_query(
            state=state, received_from=received_from, received_to=received_to
        )
        return await paginate(session, query, paging, lambda row: PayloadSummary.of(*row))

    @router.get("/payloads/{payload_id}", summary="One licence from its POST to ICMS's callback")
    async def show_payload(_admin: AdminDep, session: SessionDep, payload_id: int) -> PayloadDetail:
        payload = await session.get(LicencePayload, payload_id)
        if payload is None:
            raise not_found(f"payload {payload_id}")
        batches = await mail_queries.payload_batches(session, payload_id)
        last = batches[-1] if batches else None
        summary = PayloadSummary.of(
            payload,
            last.link if last else None,
            last.batch if last else None,
            last.mail if last else None,
        )
        state, refusal = payload_state(
            payload, last.link if last else None, last.callback if last else None
        )
        return PayloadDetail(
            **summary.model_dump(),
            state=state,
            icms_refusal=refusal,
            truncated_fields=truncated_fields(payload.data),
            licence=payload.data,
            batches=[
                PayloadBatch(
                    run_number=b.batch.run_number,
                    file_name=b.batch.file_name,
                    mail_id=b.mail.id,
                    mail_status=b.mail.status,
                    outcome=b.link.outcome,
                    errors=b.link.errors,
                    events=[Event.of(e) for e in b.events],
                    callback=Callback.of(b.callback),
                )
                for b in batches
            ],
        )

    @router.get("/received-emails", summary="E-mails read from the HMRC mailbox, newest first")
    async def list_received_emails(
        _admin: AdminDep,
        session: ReadSessionDep,
        paging: PageDep,
        flagged: Annotated[
            bool | None, Query(description="true: only those stored but not applied")
        ] = None,
    ) -> Page[ReceivedEmailSummary]:
        query = mail_queries.received_emails_query(flagged=flagged)
        return await paginate(session, query, paging, lambda row: ReceivedEmailSummary.of(*row))

    return router
