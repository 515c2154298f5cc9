"""/admin/jobs (admin): the scheduled jobs with their schedule, last run, result and next run; run
one now (queued for the worker); recent events."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from starlette.responses import RedirectResponse, Response

from invoice_checker.api.deps import app_settings
from invoice_checker.api.permissions import require
from invoice_checker.domain.permissions import Permission, Principal
from invoice_checker.domain.schedule import ScheduleError, next_run, parse_schedule
from invoice_checker.jobs.queue import job
from invoice_checker.jobs.schedules import SCHEDULE
from invoice_checker.store.overviews import latest_events, recent_events
from invoice_checker.web.rendering import render
from invoice_checker.web.security import CsrfChecked
from service_kit.errors import not_found
from service_kit.queue import enqueue
from service_kit.request_session import SessionDep
from service_kit.state import get_redis

router = APIRouter(include_in_schema=False)

# Admin only: every permission, the one admins alone hold by default among them.
IsAdmin = Annotated[Principal, Depends(require(Permission.MANAGE_ACCESS))]
JOBS = {scheduled.name: scheduled for scheduled in SCHEDULE}


@router.get("/admin/jobs")
async def jobs_page(request: Request, session: SessionDep, principal: IsAdmin) -> Response:
    settings = app_settings(request)
    zone = ZoneInfo(settings.schedule_timezone)
    now = datetime.now(zone)
    latest = await latest_events(
        session, [event for scheduled in SCHEDULE for event in scheduled.event_types]
    )
    rows: list[dict[str, Any]] = []
    for scheduled in SCHEDULE:
        cron_text = getattr(settings, scheduled.setting)
        try:
            schedule = parse_schedule(cron_text)
        except ScheduleError:
            schedule = None
        events = [latest[t] for t in scheduled.event_types if t in latest]
        last = max(events, key=lambda e: (e.timestamp, e.id)) if events else None
        rows.append(
            {
                "name": scheduled.name,
                "cron": cron_text,
                "next": next_run(schedule, now) if schedule else None,
                "last": last,
                "last_at": last.timestamp.astimezone(zone) if last else None,
            }
        )
    return render(
        request,
        "jobs.html",
        principal,
        rows=rows,
        events=await recent_events(session),
        zone=settings.schedule_timezone,
    )


@router.post("/admin/jobs/{name}/run", dependencies=[CsrfChecked])
async def run_job_now(name: str, request: Request, _: IsAdmin) -> Response:
    if name not in JOBS:
        raise not_found(f"scheduled job {name}")
    # The worker knows each scheduled job under its cron name; a fresh id lets it run again.
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S%f")
    await enqueue(get_redis(request), job(f"cron:{name}", job_id=f"now:{name}:{stamp}"))
    return RedirectResponse(f"/admin/jobs?queued={name}", status_code=303)
