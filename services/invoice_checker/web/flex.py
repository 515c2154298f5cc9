"""Flex hours: /you/flexhours and /users/{guid}/flexhours (a person's saldo, chart, months and
daily log; where the Slack flex notice and `/flex-hours` link), and /flex (everyone's saldo)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Form, Request
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import RedirectResponse, Response

from invoice_checker.api import flex as flex_api
from invoice_checker.api.flex import ContractIn, CorrectionIn, Today, _may_read
from invoice_checker.api.permissions import CanSeeFlexSaldos, CurrentPrincipal
from invoice_checker.domain.charts import saldo_chart
from invoice_checker.domain.flex import FlexError, calculate_flex_saldo, saldo_band
from invoice_checker.domain.permissions import Permission, Principal
from invoice_checker.store.directory import TenkfeetUser
from invoice_checker.store.flex import (
    FlexTimeCorrection,
    WorkContract,
    contracts_of,
    corrections_of,
    everyones_saldo,
    load_flex_inputs,
)
from invoice_checker.store.hour_submission import person_by_email
from invoice_checker.web.rendering import render
from invoice_checker.web.security import CsrfChecked
from service_kit.errors import Problem, not_found
from service_kit.request_session import SessionDep

router = APIRouter(include_in_schema=False)

Model = TypeVar("Model", bound=BaseModel)
DAILY_LOG_DAYS = 62  # the page shows the last two months of days; the JSON API has them all


def day_reason(row: dict[str, Any]) -> str:
    """Why a day moved the saldo as it did, in words (a row of the calculation's daily log)."""
    if "day_type" not in row:
        return "Correction by an admin"
    if not row.get("flex_enabled", True):
        return f"{row['day_type']}: flex is not in use under the contract"
    parts = [row["day_type"]]
    expected = row.get("expected_hours_today", 0.0)
    if expected:
        parts.append(f"{expected:.2f} h expected")
    for key, label in (
        ("worktime", "worked"),
        ("leave", "leave"),
        ("unpaid_leaves", "unpaid leave"),
        ("overtime", "overtime (not counted)"),
    ):
        if row.get(key):
            parts.append(f"{row[key]:.2f} h {label}")
    if len(parts) == 1 and row["day_type"] == "Weekday" and expected:
        parts.append("nothing marked")
    return ", ".join(parts)


async def _flex_page(
    request: Request,
    session: SessionDep,
    principal: Principal,
    person: TenkfeetUser,
    today: date,
    own: bool,
) -> Response:
    inputs = await load_flex_inputs(session, person, today=today)
    result, problem = None, None
    try:
        result = calculate_flex_saldo(inputs)
    except FlexError as exc:
        problem = str(exc)
    chart = None
    months: list[Any] = []
    log: list[dict[str, Any]] = []
    if result is not None:
        chart = saldo_chart([(m.month, m.cumulative_saldo) for m in result.months])
        months = list(reversed(result.months))
        log = [
            {**row, "reason": day_reason(row)}
            for row in reversed(result.daily_log[-DAILY_LOG_DAYS:])
        ]
    return render(
        request,
        "flexhours.html",
        principal,
        person=person,
        own=own,
        result=result,
        band=saldo_band(result.cumulative_saldo) if result else None,
        problem=problem,
        chart=chart,
        months=months,
        log=log,
        contracts=await contracts_of(session, person.guid),
        corrections=await corrections_of(session, person.guid),
        may_edit=principal.can(Permission.SEE_FLEX_SALDOS),
        today=today,
    )


@router.get("/you/flexhours")
async def my_flex_hours(
    request: Request, session: SessionDep, principal: CurrentPrincipal, today: Today
) -> Response:
    person = await person_by_email(session, principal.email)
    if person is None:
        raise Problem(
            404,
            f"No 10000ft user has your e-mail ({principal.email}), so there is no flex saldo "
            "to show.",
            type_="urn:problem:not-found",
        )
    return await _flex_page(request, session, principal, person, today, own=True)


@router.get("/users/{user_guid}/flexhours")
async def person_flex_hours(
    request: Request,
    user_guid: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
    today: Today,
) -> Response:
    person = await session.get(TenkfeetUser, user_guid)
    if person is None:
        raise not_found(f"10000ft user {user_guid}")
    _may_read(principal, person)
    own = principal.email.lower() == (person.email or "").lower()
    return await _flex_page(request, session, principal, person, today, own=own)


@router.get("/flex")
async def flex_overview(
    request: Request, session: SessionDep, principal: CanSeeFlexSaldos, today: Today
) -> Response:
    people = await everyones_saldo(session, today, include_inactive=True)
    return render(
        request,
        "flex.html",
        principal,
        people=[p for p in people if p.saldo is not None],
        problems=[p for p in people if p.saldo is None],
        today=today,
    )


# --- admin edits: contracts and corrections, through the API's own handlers -----------------


def _back(user_guid: uuid.UUID) -> RedirectResponse:
    return RedirectResponse(f"/users/{user_guid}/flexhours?saved=1", status_code=303)


def _valid(model: type[Model], **values: Any) -> Model:
    try:
        return model(**values)
    except ValidationError as exc:
        reasons = "; ".join(str(error["msg"]) for error in exc.errors())
        raise Problem(422, reasons, type_="urn:problem:validation") from None


@router.post("/users/{user_guid}/flexhours/contracts", dependencies=[CsrfChecked])
async def add_contract(
    user_guid: uuid.UUID,
    session: SessionDep,
    principal: CanSeeFlexSaldos,
    start_date: Annotated[date, Form()],
    end_date: Annotated[date, Form()],
    worktime_percent: Annotated[int, Form()] = 100,
    flex_enabled: Annotated[bool, Form()] = False,
) -> Response:
    body = _valid(
        ContractIn,
        start_date=start_date,
        end_date=end_date,
        worktime_percent=worktime_percent,
        flex_enabled=flex_enabled,
    )
    await flex_api.create_contract(user_guid, body, session, principal)
    return _back(user_guid)


@router.post("/flex-contracts/{contract_id}/delete", dependencies=[CsrfChecked])
async def remove_contract(
    contract_id: int, session: SessionDep, principal: CanSeeFlexSaldos
) -> Response:
    user_guid = await _owner_of(session, WorkContract, contract_id, "contract")
    await flex_api.delete_contract(contract_id, session, principal)
    return _back(user_guid)


@router.post("/users/{user_guid}/flexhours/corrections", dependencies=[CsrfChecked])
async def add_correction(
    user_guid: uuid.UUID,
    session: SessionDep,
    principal: CanSeeFlexSaldos,
    day: Annotated[date, Form(alias="date")],
    kind: Annotated[Literal["adjust_by", "set_to"], Form()],
    hours: Annotated[float, Form(ge=-10_000, le=10_000)],
) -> Response:
    body = _valid(CorrectionIn, date=day, **{kind: hours})
    await flex_api.create_correction(user_guid, body, session, principal)
    return _back(user_guid)


@router.post("/flex-corrections/{correction_id}/delete", dependencies=[CsrfChecked])
async def remove_correction(
    correction_id: int, session: SessionDep, principal: CanSeeFlexSaldos
) -> Response:
    user_guid = await _owner_of(session, FlexTimeCorrection, correction_id, "correction")
    await flex_api.delete_correction(correction_id, session, principal)
    return _back(user_guid)


_FlexRecord = TypeVar("_FlexRecord", WorkContract, FlexTimeCorrection)


async def _owner_of(
    session: AsyncSession,
    model: type[_FlexRecord],
    row_id: int,
    label: str,
) -> uuid.UUID:
    """Whose flex page a deleted contract or correction returns to (404 when it is gone)."""
    row = await session.get(model, row_id)
    if row is None:
        raise not_found(f"{label} {row_id}")
    return row.user_guid
