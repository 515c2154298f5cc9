"""/admin/notices (can_send_notifications): preview a notice batch (its recipients and texts,
planned by the same code the job sends with), send it now through the API's route, and see
the batches of this period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, get_args

from fastapi import Form, Path, Query, Request
from fastapi.routing import APIRouter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from invoice_checker.api import operations
from invoice_checker.api.deps import app_settings
from invoice_checker.api.permissions import CanSendNotifications
from invoice_checker.jobs.flex import flex_period, flex_plan
from invoice_checker.jobs.schedules import schedule_timezone
from invoice_checker.jobs.slack import NoticeBatch, notice_range, unapproved_plan, unsubmitted_plan
from invoice_checker.settings import InvoiceCheckerSettings
from invoice_checker.store.directory import TenkfeetUser
from invoice_checker.store.slack import (
    FLEX_SALDO,
    UNAPPROVED,
    UNSUBMITTED,
    bundles_of_periods,
)
from invoice_checker.store.slack_outbox import PlannedMessage
from invoice_checker.web.rendering import done_redirect, render
from invoice_checker.web.security import CsrfChecked
from service_kit.request_session import SessionDep

router = APIRouter(include_in_schema=False)

KINDS: tuple[str, ...] = get_args(operations.NoticeKind)
LABELS = {
    "unsubmitted": "Unsubmitted hours",
    "unapproved": "Unapproved hours",
    "flex": "Flex saldos",
}
BUNDLE_KIND = {"unsubmitted": UNSUBMITTED, "unapproved": UNAPPROVED, "flex": FLEX_SALDO}


@dataclass(frozen=True)
class Preview:
    kind: str
    what: str
    messages: list[PlannedMessage]
    recipients: dict[str, str]  # Slack id -> the person's e-mail, where known
    skipped: list[str]


def periods(today: date) -> dict[str, str]:
    """Each kind's period as its batch records it."""
    first, last = notice_range(today)
    weekly = f"{first}..{last}"
    return {"unsubmitted": weekly, "unapproved": weekly, "flex": flex_period(today)}


async def preview(
    session: AsyncSession, settings: InvoiceCheckerSettings, kind: str, today: date
) -> Preview:
    """Plan the batch as the job would, without claiming or sending anything."""
    first, last = notice_range(today)
    skipped: list[str] = []
    plans = {
        "unsubmitted": lambda: unsubmitted_plan(session, settings, first, last, today=today),
        "unapproved": lambda: unapproved_plan(session, settings, first, last),
        "flex": lambda: flex_plan(session, settings, today, skipped),
    }
    batch = NoticeBatch(settings)
    what = await plans[kind]()(batch)
    ids = {m.channel for m in batch.messages} | {p for m in batch.messages for p in m.open_with}
    people = await session.execute(
        select(TenkfeetUser.slack_id, TenkfeetUser.email).where(TenkfeetUser.slack_id.in_(ids))
    )
    return Preview(
        kind,
        what,
        batch.messages,
        {slack_id: email for slack_id, email in people if slack_id},
        skipped,
    )


@router.get("/admin/notices")
async def notices(
    request: Request,
    session: SessionDep,
    principal: CanSendNotifications,
    kind: Annotated[str | None, Query(alias="preview", max_length=20)] = None,
    done: Annotated[str | None, Query(max_length=300)] = None,
) -> Response:
    settings = app_settings(request)
    today = datetime.now(schedule_timezone(settings)).date()
    current = periods(today)
    bundles = await bundles_of_periods(
        session, {BUNDLE_KIND[k]: period for k, period in current.items()}
    )
    shown = await preview(session, settings, kind, today) if kind in KINDS else None
    return render(
        request,
        "notices.html",
        principal,
        kinds=KINDS,
        labels=LABELS,
        bundle_kind=BUNDLE_KIND,
        periods=current,
        sent=bundles,
        preview=shown,
        done=done,
    )


@router.post("/admin/notices/{kind}", dependencies=[CsrfChecked])
async def send_now(
    request: Request,
    principal: CanSendNotifications,
    kind: Annotated[operations.NoticeKind, Path()],
    force: Annotated[bool, Form()] = False,
) -> Response:
    queued = await operations.send_notices(
        kind, request, principal, operations.NoticeRequest(force=force)
    )
    done = f"The {LABELS[kind].lower()} notices are queued ({queued.job_id})."
    return done_redirect("/admin/notices", done)
