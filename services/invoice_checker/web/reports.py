"""Reports as pages: billing ratio per person over time, company hours and money per month,
client share, sick leaves; each chart with its table and a CSV download. Also the hours
overview (/hours/overview). Permissions are the API's."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from invoice_checker.api import reports as reports_api
from invoice_checker.api.flex import Today
from invoice_checker.api.permissions import CanSeeSickLeaves, CanViewReports, require
from invoice_checker.domain.charts import (
    Chart,
    billing_ratio_chart,
    client_share_chart,
    company_charts,
    csv_text,
)
from invoice_checker.domain.permissions import Permission, Principal
from invoice_checker.domain.reports import month_label
from invoice_checker.store import reports
from invoice_checker.store.invoice_stats import month_end
from invoice_checker.store.overviews import (
    FLAGS,
    STATUSES,
    billing_ratio_by_month,
    client_hours,
    hours_overview,
)
from invoice_checker.web.rendering import render, step_month
from service_kit.errors import Problem
from service_kit.request_session import SessionDep

router = APIRouter(include_in_schema=False)

Format = Literal["html", "csv"]
MonthParam = Annotated[str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]
FLAG_LABELS = {
    "not_billable": "Not billable",
    "no_notes": "No description",
    "no_phase": "No phase",
    "no_category": "No category",
    "improper_price": "Improper price",
    "overtime": "Overtime",
}


def _month(value: str | None, default: date) -> date:
    if not value:
        return default
    year, month = value.split("-")
    return date(int(year), int(month), 1)


def _csv(chart: Chart, name: str) -> Response:
    return Response(
        csv_text(chart),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{name}.csv"'},
    )


def _last_full_month(today: date) -> date:
    return (today.replace(day=1) - timedelta(days=1)).replace(day=1)


@router.get("/reports/billing-ratio")
async def billing_ratio_page(
    request: Request,
    session: SessionDep,
    principal: CanViewReports,
    today: Today,
    start: MonthParam = None,
    end: MonthParam = None,
    format: Format = "html",
) -> Response:
    last = _month(end, _last_full_month(today))
    first = _month(start, step_month(last, -5))
    if last < first:
        raise Problem(422, "The last month is before the first.", type_="urn:problem:validation")
    if (last.year - first.year) * 12 + last.month - first.month > 24:
        raise Problem(422, "Choose at most 25 months.", type_="urn:problem:validation")
    months, ratios = await billing_ratio_by_month(session, first=first, last=month_end(last))
    chart = billing_ratio_chart(months, ratios)
    if format == "csv":
        return _csv(chart, f"billing-ratio-{months[0]}-{months[-1]}")
    return render(
        request,
        "report.html",
        principal,
        heading="Billing ratio per person",
        intro="Billable share of each person's submitted project hours, month by month.",
        charts=[chart],
        first=first,
        last=last,
        month_form=True,
    )


@router.get("/reports/company")
async def company_page(
    request: Request,
    session: SessionDep,
    principal: CanViewReports,
    today: Today,
    end: MonthParam = None,
    chart: Literal["hours", "money"] = "hours",
    format: Format = "html",
) -> Response:
    last = month_end(_month(end, _last_full_month(today)))
    first = step_month(last.replace(day=1), -23)
    rows = await reports.company_months(session, first=first, last=last)
    hours_chart, money_chart = company_charts(
        [
            (
                month_label(r["month"]),
                float(r["billable_hours"]),
                float(r["non_billable_hours"]),
                float(r["billable_money"]),
            )
            for r in rows
        ]
    )
    if format == "csv":
        return _csv(hours_chart if chart == "hours" else money_chart, f"company-{chart}")
    return render(
        request,
        "report.html",
        principal,
        heading="Company hours and money",
        intro="Submitted project hours and billable money per month, "
        f"{first:%Y-%m} to {last:%Y-%m}.",
        last=last,
        end_form=True,
        charts=[hours_chart, money_chart],
        csv_names=["hours", "money"],
    )


@router.get("/reports/clients")
async def clients_page(
    request: Request,
    session: SessionDep,
    principal: CanViewReports,
    today: Today,
    end: MonthParam = None,
    format: Format = "html",
) -> Response:
    last = month_end(_month(end, _last_full_month(today)))
    first = step_month(last.replace(day=1), -12)
    chart = client_share_chart(await client_hours(session, first=first, last=last))
    if format == "csv":
        return _csv(chart, "client-share")
    return render(
        request,
        "report.html",
        principal,
        heading="Client share",
        intro=f"Each client's share of client work on weekdays, {first:%Y-%m} to {last:%Y-%m}; "
        "internal work left out.",
        charts=[chart],
        last=last,
        end_form=True,
    )


@router.get("/reports/sick-leaves")
async def sick_leaves_page(
    request: Request, session: SessionDep, principal: CanSeeSickLeaves, today: Today
) -> Response:
    report = await reports_api.sick_leaves(session, principal, today)
    return render(request, "sick_leaves.html", principal, report=report, today=today)


# Counts over every project's hours: finance and admin (a team lead's reach is their projects).
CanSeeAllHours = Annotated[Principal, Depends(require(Permission.SEE_ALL_PROJECTS))]


@router.get("/hours/overview", dependencies=[Depends(require(Permission.SEE_HOURS_OVERVIEW))])
async def hours_overview_page(
    request: Request,
    session: SessionDep,
    principal: CanSeeAllHours,
    today: Today,
    end: MonthParam = None,
) -> Response:
    last = month_end(_month(end, today.replace(day=1)))
    first = step_month(last.replace(day=1), -11)
    months = await hours_overview(session, first=first, last=last)
    return render(
        request,
        "hours_overview.html",
        principal,
        months=months,
        statuses=STATUSES,
        flags=FLAGS,
        flag_labels=FLAG_LABELS,
        month_end=month_end,
        last=last,
    )
