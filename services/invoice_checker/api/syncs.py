"""Sync runs: request one (queued on arq, answered 202), follow it, list them."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Literal, Self

from fastapi import APIRouter
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import select

from invoice_checker.api.permissions import CanViewInvoices, RowScope
from invoice_checker.domain.date_ranges import Day, InvalidRange, check_range
from invoice_checker.domain.permissions import Permission
from invoice_checker.jobs.sync_runs import enqueue_when_committed
from invoice_checker.store import sync_runs
from invoice_checker.store.scopes import project_in_scope
from invoice_checker.store.syncs import SyncRun
from service_kit.errors import Problem, not_found
from service_kit.pagination import Page, PageDep, paginate
from service_kit.request_session import SessionDep

router = APIRouter(prefix="/api/v1/syncs", tags=["syncs"])

SyncKind = Literal["users", "projects", "leave-types", "holidays", "hours"]
# Defaults of the original's queue_update: the last 60 days and the next 2.
DEFAULT_DAYS_BACK = 60
DEFAULT_DAYS_AHEAD = 2


class SyncRequest(BaseModel):
    kind: SyncKind
    start: Day | None = Field(default=None, description="hours only; default today - 60 days")
    end: Day | None = Field(default=None, description="hours only, included; default today + 2")
    force: bool = Field(default=False, description="hours only: ignore day checksums")
    project: uuid.UUID | None = Field(
        default=None,
        description="hours only: a project you lead, which lets a team lead resync its hours "
        "(10000ft is read by day, so the run refreshes every entry of the range)",
    )

    @model_validator(mode="after")
    def _range(self) -> Self:
        if self.kind != "hours":
            if self.start or self.end or self.force or self.project:
                raise ValueError("start, end, force and project apply to kind 'hours' only")
            return self
        today = date.today()
        self.start = self.start or today - timedelta(days=DEFAULT_DAYS_BACK)
        self.end = self.end or today + timedelta(days=DEFAULT_DAYS_AHEAD)
        try:
            check_range(self.start, self.end)
        except InvalidRange as exc:
            raise ValueError(str(exc)) from None
        return self


class SyncRunOut(BaseModel):
    id: int
    kind: SyncKind
    start: date | None
    end: date | None
    force: bool
    status: Literal["queued", "running", "succeeded", "failed"]
    progress: float = Field(description="0..1: days done of the range (hours), 1 when done")
    days_done: int
    days_total: int
    added: int
    updated: int
    deleted: int
    unchanged: int = Field(description="unchanged days (hours) or records")
    skipped: int = Field(description="records 10000ft sent that could not be read")
    error: str | None
    requested_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, run: SyncRun) -> SyncRunOut:
        return cls(
            id=run.id,
            kind=run.kind,
            start=run.start_date,
            end=run.end_date,
            force=run.force,
            status=run.status,
            progress=run.progress,
            days_done=run.days_done,
            days_total=run.days_total,
            added=run.added,
            updated=run.updated,
            deleted=run.deleted,
            unchanged=run.unchanged_days,
            skipped=run.skipped_entries,
            error=run.error,
            requested_by=run.requested_by,
            created_at=run.created_at,
            started_at=run.started_at,
            finished_at=run.finished_at,
        )


@router.post("", status_code=202, response_model=SyncRunOut)
async def request_sync(
    body: SyncRequest,
    session: SessionDep,
    principal: CanViewInvoices,
    scope: RowScope,
) -> SyncRunOut:
    """Queue a sync. An identical request still waiting is answered with that run.
    `can_run_sync` queues any; a team lead resyncs the hours of a `project` they lead."""
    if not principal.can(Permission.RUN_SYNC):
        if body.kind != "hours" or body.project is None:
            raise Problem(
                403,
                f"Without {Permission.RUN_SYNC} you may only resync the hours of a project "
                "you lead: kind 'hours' with its `project`.",
                type_="urn:problem:forbidden",
                permission=Permission.RUN_SYNC.value,
            )
        if await project_in_scope(session, scope, body.project) is None:
            raise not_found(f"project {body.project}")
    requested = await sync_runs.request_run(
        session,
        kind=body.kind,
        start=body.start,
        end=body.end,
        force=body.force,
        requested_by=principal.email,
    )
    run = enqueue_when_committed(session, requested)
    await session.flush()
    await session.refresh(run)
    return SyncRunOut.of(run)


@router.get("/{run_id}", response_model=SyncRunOut, responses={404: {"description": "No such run"}})
async def get_sync(run_id: int, session: SessionDep, _: CanViewInvoices) -> SyncRunOut:
    run = await session.get(SyncRun, run_id)
    if run is None:
        raise not_found(f"sync run {run_id}")
    return SyncRunOut.of(run)


@router.get("", response_model=Page[SyncRunOut])
async def list_syncs(session: SessionDep, page: PageDep, _: CanViewInvoices) -> Page[SyncRunOut]:
    """Newest first."""
    statement = select(SyncRun).order_by(SyncRun.created_at.desc(), SyncRun.id.desc())
    return await paginate(session, statement, page, lambda row: SyncRunOut.of(row[0]))
