"""The signed-in person's own hours: the unsubmitted ones, and submitting them to 10000ft
(spec 4.9). Only one's own entries: another person's id is refused like a missing one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Annotated, Literal, Self

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field, model_validator

from invoice_checker.adapters.tenkfeet import (
    TenkfeetClient,
    TenkfeetRejected,
    TenkfeetUnavailable,
)
from invoice_checker.api.deps import app_settings
from invoice_checker.api.flex import Today
from invoice_checker.api.permissions import CurrentPrincipal
from invoice_checker.domain.hour_submission import follow_up_sync, refusal
from invoice_checker.domain.permissions import Principal
from invoice_checker.jobs.sync_runs import enqueue_when_committed, tenkfeet_client
from invoice_checker.store import sync_runs
from invoice_checker.store.directory import TenkfeetUser
from invoice_checker.store.hour_submission import (
    candidate_of,
    person_by_email,
    submit_hours,
    unsubmitted_entries,
)
from service_kit.errors import Problem
from service_kit.request_session import SessionDep

router = APIRouter(prefix="/api/v1/you", tags=["you"])

MAX_ENTRIES = 5000


async def tenkfeet_for_request(request: Request) -> AsyncIterator[TenkfeetClient]:
    """A 10000ft client for this request (tests override this dependency)."""
    async with tenkfeet_client(app_settings(request)) as client:
        yield client


Tenkfeet = Annotated[TenkfeetClient, Depends(tenkfeet_for_request)]


async def _me(session: SessionDep, principal: Principal) -> TenkfeetUser:
    person = await person_by_email(session, principal.email)
    if person is None:
        raise Problem(
            404,
            f"No 10000ft user has your e-mail ({principal.email}); hours sync from 10000ft.",
            type_="urn:problem:not-found",
        )
    return person


class UnsubmittedOut(BaseModel):
    id: int
    upstream_id: int = Field(description="10000ft time entry id")
    date: date
    hours: float
    client: str
    project: str
    phase_name: str
    category: str
    notes: str | None
    can_submit: bool = Field(description="whether Submit will send it to 10000ft")
    reason: str | None = Field(description="why it cannot be submitted, when it cannot")


@router.get(
    "/hours/unsubmitted",
    response_model=list[UnsubmittedOut],
    summary="Your unsubmitted hour entries, newest first",
)
async def list_unsubmitted(
    session: SessionDep, principal: CurrentPrincipal, today: Today
) -> list[UnsubmittedOut]:
    person = await _me(session, principal)
    listed = []
    for entry, archived in await unsubmitted_entries(session, person.guid):
        reason = refusal(candidate_of(entry, archived), today)
        listed.append(
            UnsubmittedOut(
                id=entry.id,
                upstream_id=entry.upstream_id,
                date=entry.date,
                hours=entry.incurred_hours,
                client=entry.client,
                project=entry.project,
                phase_name=entry.phase_name,
                category=entry.category,
                notes=entry.notes,
                can_submit=reason is None,
                reason=reason,
            )
        )
    return listed


class SubmitRequest(BaseModel):
    entry_ids: list[int] | None = Field(
        default=None,
        max_length=MAX_ENTRIES,
        description="local hour entry ids; default: every unsubmitted entry in start..end",
    )
    start: date | None = Field(default=None, description="first day (without entry_ids)")
    end: date | None = Field(default=None, description="last day, included (without entry_ids)")

    @model_validator(mode="after")
    def _range(self) -> Self:
        if self.start and self.end and self.end < self.start:
            raise ValueError("end is before start")
        return self


class SubmitResultOut(BaseModel):
    entry_id: int
    upstream_id: int | None
    date: date | None
    hours: float | None
    outcome: Literal["submitted", "refused"]
    reason: str | None


class SubmitOut(BaseModel):
    submitted: int
    refused: int
    results: list[SubmitResultOut]
    sync_run_id: int | None = Field(
        description="the hour sync queued for the submitted dates, which confirms the status"
    )


@router.post(
    "/hours/submit",
    response_model=SubmitOut,
    summary="Submit your unsubmitted hours to 10000ft for approval",
    responses={
        502: {"description": "10000ft refused the request"},
        503: {"description": "10000ft could not be reached; nothing changed"},
    },
)
async def submit_my_hours(
    body: SubmitRequest,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    today: Today,
    client: Tenkfeet,
) -> SubmitOut:
    """Each entry is submitted or refused with a reason (already submitted, older than 60 days,
    changed in 10000ft since the last sync...). Accepted entries are Pending Approval at once,
    and an hour sync of their dates is queued."""
    person = await _me(session, principal)
    try:
        results = await submit_hours(
            session,
            client,
            user_guid=person.guid,
            today=today,
            entry_ids=body.entry_ids,
            start=body.start,
            end=body.end,
        )
    except TenkfeetUnavailable as exc:
        raise Problem(
            503, f"{exc}. Nothing was submitted; try again.", type_="urn:problem:tenkfeet"
        ) from exc
    except TenkfeetRejected as exc:
        raise Problem(502, str(exc), type_="urn:problem:tenkfeet") from exc
    run_id = None
    if (days := follow_up_sync(results)) is not None:
        requested = await sync_runs.request_run(
            session, kind="hours", start=days[0], end=days[1], requested_by=principal.email
        )
        run = enqueue_when_committed(session, requested)
        await session.flush()
        run_id = run.id
    submitted = sum(1 for r in results if r.outcome == "submitted")
    return SubmitOut(
        submitted=submitted,
        refused=len(results) - submitted,
        results=[SubmitResultOut.model_validate(r, from_attributes=True) for r in results],
        sync_run_id=run_id,
    )
