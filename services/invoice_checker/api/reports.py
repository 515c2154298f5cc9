"""Reports (spec 7): billing ratio, sick-leave early care, company, clients, front page."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from invoice_checker.api.permissions import CanSeeSickLeaves, CanViewReports, CurrentPrincipal
from invoice_checker.domain import reports as rules
from invoice_checker.domain.date_ranges import Day
from invoice_checker.store import reports
from invoice_checker.store.invoice_stats import month_end
from service_kit.errors import Problem
from service_kit.request_session import SessionDep

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])

Today = Annotated[
    Day | None, Query(description="The report's 'today' (default: the server's date)")
]


class PersonRatio(BaseModel):
    email: str | None
    name: str | None
    billable_hours: float
    non_billable_hours: float
    billing_ratio: float | None = Field(description="Billable % of hours; null without hours")


class SickPeriodOut(BaseModel):
    first: date
    last: date
    num_days: int


class SickPerson(BaseModel):
    guid: uuid.UUID
    email: str
    name: str
    short: int = Field(description="Sick-leave periods in the last 120 days")
    long: int = Field(description="Sick days in the last 365 days")
    periods: list[SickPeriodOut]


class SickLeaveReport(BaseModel):
    exceeding: list[SickPerson] = Field(description="short > 3 or long > 20")
    not_exceeding: list[SickPerson]


class CompanyMonth(BaseModel):
    month: str = Field(examples=["2026-9"], description="`Y-M`, not zero-padded")
    billing_rate: float | None = Field(description="€/h of billable project work")
    billable_money: float
    non_billable_customer_hours: float
    employees: int = Field(description="People with at least 37.5 h")
    billing_ratio: float | None = Field(description="Project work only")
    billing_ratio_with_leaves: float | None


class ClientStatsMonth(BaseModel):
    month: str
    total_days: int
    active_days: int
    people_sum: int
    hours_sum: float
    workdays_fte_avg: float | None
    workdays_people_avg: float | None
    active_days_fte_avg: float | None
    active_days_people_avg: float | None


class ClientStats(BaseModel):
    client: str
    months: list[ClientStatsMonth]


class FrontPage(BaseModel):
    your_last_hour_marking: str = Field(examples=["yesterday"])
    your_hours_this_week: float
    your_billing_ratio: float | str = Field(description="Last 30 days, or '?'")
    your_unsubmitted_entries: int
    your_daily_billing_ratio: list[float] = Field(description="90 smoothed daily values")
    company_billing_30d: float
    company_billing_365d: float
    company_billing_ratio_30d: float | str
    company_billing_ratio_365d: float | str
    company_average_rate_30d: float | str
    company_average_rate_365d: float | str
    company_large_accounts_365d: int
    company_no_descriptions_30d: int
    company_no_phases_categories_30d: int
    company_unsubmitted_money_60d: float
    company_unsubmitted_count_60d: int
    company_pending_approval_money_60d: float
    company_pending_approval_count_60d: int
    company_error_entries_date_gte: date


def _or_unknown(value: float | None) -> float | str:
    return "?" if value is None else value


def _last_month_end(today: date) -> date:
    return today.replace(day=1) - timedelta(days=1)


@router.get("/billing-ratio", summary="Billable share of each person's hours over a period")
async def billing_ratio(
    session: SessionDep,
    _: CanViewReports,
    start: date,
    end: date,
    include_leaves: Annotated[
        bool, Query(description="Count leave entries (billable at 0 € in the data)")
    ] = False,
) -> list[PersonRatio]:
    if end < start:
        raise Problem(400, "end is before start.", type_="urn:problem:bad-range")
    rows = await reports.billable_hours_by_person(
        session, start=start, end=end, include_leaves=include_leaves
    )
    return [
        PersonRatio(
            **dict(r),
            billing_ratio=rules.billing_ratio(r["billable_hours"], r["non_billable_hours"]),
        )
        for r in rows
    ]


@router.get("/sick-leaves", summary="Sick-leave early care: who exceeds the limits")
async def sick_leaves(
    session: SessionDep, _: CanSeeSickLeaves, today: Today = None
) -> SickLeaveReport:
    today = today or date.today()
    since = today - timedelta(days=rules.SICK_LEAVE_LONG_WINDOW_DAYS)
    report = SickLeaveReport(exceeding=[], not_exceeding=[])
    for person in sorted(
        await reports.sick_days_by_person(session, since=since), key=lambda p: p.name
    ):
        summary = rules.sick_leave_summary(person.days, today)
        out = SickPerson(
            guid=person.guid,
            email=person.email,
            name=person.name,
            short=summary.short,
            long=summary.long,
            periods=[
                SickPeriodOut(first=p.first, last=p.last, num_days=p.num_days)
                for p in summary.periods
            ],
        )
        (report.exceeding if summary.exceeding else report.not_exceeding).append(out)
    return report


@router.get("/company", summary="Company figures per month over the last two years")
async def company(
    session: SessionDep, _: CanViewReports, today: Today = None
) -> list[CompanyMonth]:
    last = _last_month_end(today or date.today())
    first = (last - timedelta(days=730)).replace(day=1)
    rows = await reports.company_months(session, first=first, last=last)
    return [
        CompanyMonth(
            month=rules.month_label(r["month"]),
            billing_rate=rules.ratio(r["billable_money"], r["billable_hours"]),
            billable_money=r["billable_money"],
            non_billable_customer_hours=r["non_billable_customer_hours"],
            employees=r["employees"],
            billing_ratio=rules.billing_ratio(r["billable_hours"], r["non_billable_hours"]),
            billing_ratio_with_leaves=rules.billing_ratio(
                r["billable_hours_with_leaves"], r["non_billable_hours_with_leaves"]
            ),
        )
        for r in rows
    ]


SortField = Literal[
    "workdays_fte_avg", "workdays_people_avg", "active_days_fte_avg", "active_days_people_avg"
]


@router.get("/clients", summary="Client FTEs and people per month over the last 13 months")
async def client_stats(
    session: SessionDep,
    _: CanViewReports,
    field: SortField = "workdays_fte_avg",
    today: Today = None,
) -> list[ClientStats]:
    last = _last_month_end(today or date.today())
    first = (last - timedelta(days=375)).replace(day=1)
    months = [(m, min(month_end(m), last)) for m in rules.month_starts(first, last)]
    per_client = await reports.client_days(session, first=first, last=last)
    stats = [
        ClientStats(
            client=client,
            months=[
                ClientStatsMonth(
                    month=m.month,
                    total_days=m.total_days,
                    active_days=m.active_days,
                    people_sum=m.people_sum,
                    hours_sum=m.hours_sum,
                    workdays_fte_avg=m.workdays_fte_avg,
                    workdays_people_avg=m.workdays_people_avg,
                    active_days_fte_avg=m.active_days_fte_avg,
                    active_days_people_avg=m.active_days_people_avg,
                )
                for m in rules.client_months(days, months)
            ],
        )
        for client, days in per_client.items()
    ]
    # Clients by their values of `field`, newest month first, biggest first.
    return sorted(stats, key=lambda c: [getattr(m, field) or 0 for m in c.months], reverse=True)


@router.get("/front-page", summary="Your own figures and the company's, for the front page")
async def front_page(
    session: SessionDep, principal: CurrentPrincipal, today: Today = None
) -> FrontPage:
    today = today or date.today()
    mine = await reports.person_front_page(session, email=principal.email, today=today)
    company = await reports.company_front_page(session, today=today)
    return FrontPage(
        your_last_hour_marking=rules.last_marking_text(mine["last_marking"], today),
        your_hours_this_week=mine["hours_this_week"],
        your_billing_ratio=_or_unknown(
            rules.billing_ratio(mine["billable_30d"], mine["non_billable_30d"])
        ),
        your_unsubmitted_entries=mine["unsubmitted"],
        your_daily_billing_ratio=rules.smoothed_daily_ratio(mine["daily"], today),
        company_billing_30d=company["money_30d"],
        company_billing_365d=company["money_365d"],
        company_billing_ratio_30d=_or_unknown(
            rules.billing_ratio(company["billable_30d"], company["non_billable_30d"])
        ),
        company_billing_ratio_365d=_or_unknown(
            rules.billing_ratio(company["billable_365d"], company["non_billable_365d"])
        ),
        company_average_rate_30d=_or_unknown(
            rules.ratio(company["money_30d"], company["billable_30d"])
        ),
        company_average_rate_365d=_or_unknown(
            rules.ratio(company["money_365d"], company["billable_365d"])
        ),
        company_large_accounts_365d=company["large_accounts_365d"],
        company_no_descriptions_30d=company["no_descriptions_30d"],
        company_no_phases_categories_30d=company["no_phases_categories_30d"],
        company_unsubmitted_money_60d=company["unsubmitted_money"],
        company_unsubmitted_count_60d=company["unsubmitted_count"],
        company_pending_approval_money_60d=company["pending_money"],
        company_pending_approval_count_60d=company["pending_count"],
        company_error_entries_date_gte=today - timedelta(days=60),
    )
