"""Flex hours: a person's saldo, and the work contracts and corrections it is computed from.

Everyone may read their own flex; reading others' and editing contracts or corrections needs
`can_see_flex_saldos` (the admins who kept contracts in the original's admin site).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from invoice_checker.api.deps import SettingsDep
from invoice_checker.api.permissions import CanSeeFlexSaldos, CurrentPrincipal
from invoice_checker.domain.date_ranges import Day
from invoice_checker.domain.flex import (
    FLEX_MAX_MINUS,
    FLEX_MAX_PLUS,
    FlexError,
    NoContractError,
    calculate_flex_saldo,
    is_active,
    result_document,
)
from invoice_checker.domain.permissions import Permission, Principal
from invoice_checker.store.directory import TenkfeetUser
from invoice_checker.store.flex import (
    FlexTimeCorrection,
    WorkContract,
    contracts_of,
    corrections_of,
    load_flex_inputs,
    overlapping_contract,
)
from invoice_checker.store.history import record_history, update_with_history
from service_kit.errors import Problem, not_found
from service_kit.request_session import SessionDep

router = APIRouter(prefix="/api/v1", tags=["flex"])

Hours = Annotated[Decimal, Field(ge=-9999.99, le=9999.99, decimal_places=2)]


class KikyOut(BaseModel):
    hours_done: float
    deduction: float
    eligible_months: int
    unused_hours: float
    saldo: float


class MonthOut(BaseModel):
    month: str = Field(examples=["2018-03"])
    leave: float
    worktime: float
    expected_worktime: float
    diff: float
    cumulative_saldo: float
    overtime: float
    unpaid_leaves: float


class FlexOut(BaseModel):
    user: uuid.UUID
    name: str
    active: bool = Field(description="A contract covers the last computed day")
    cumulative_saldo: float = Field(description="Flex saldo plus the (negative) KIKY saldo")
    flex_saldo: float
    kiky: KikyOut
    max_minus: float = FLEX_MAX_MINUS
    max_plus: float = FLEX_MAX_PLUS
    monthly_summary: list[MonthOut] = Field(description="Newest month first")
    daily_log: list[dict[str, Any]] = Field(description="Oldest first; corrections included")


class ContractIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start_date: Day
    end_date: Day
    flex_enabled: bool = True
    worktime_percent: int = Field(default=100, ge=1, le=100)

    @model_validator(mode="after")
    def _period(self) -> ContractIn:
        if self.end_date < self.start_date:
            raise ValueError("end_date is before start_date")
        return self


class ContractOut(ContractIn):
    model_config = ConfigDict(from_attributes=True)

    id: int
    user_guid: uuid.UUID


class CorrectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    date: Day
    adjust_by: Hours | None = Field(default=None, description="Hours added to the saldo")
    set_to: Hours | None = Field(default=None, description="The saldo from this date on")

    @model_validator(mode="after")
    def _one_kind(self) -> CorrectionIn:
        if (self.adjust_by is None) == (self.set_to is None):
            raise ValueError("give exactly one of adjust_by and set_to")
        return self


class CorrectionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    user_guid: uuid.UUID
    date: date
    adjust_by: float | None
    set_to: float | None


async def _person(session: SessionDep, user_guid: uuid.UUID) -> TenkfeetUser:
    user = await session.get(TenkfeetUser, user_guid)
    if user is None:
        raise not_found(f"10000ft user {user_guid}")
    return user


def _may_read(principal: Principal, user: TenkfeetUser) -> None:
    own = principal.email.lower() == (user.email or "").lower()
    if not own and not principal.can(Permission.SEE_FLEX_SALDOS):
        raise Problem(
            403,
            f"Only your own flex hours, unless your groups have {Permission.SEE_FLEX_SALDOS}.",
            type_="urn:problem:forbidden",
            permission=Permission.SEE_FLEX_SALDOS.value,
        )


def local_today(settings: SettingsDep) -> date:
    """Today on the company's calendar (a dependency, so tests can fix the date)."""
    zone = ZoneInfo(settings.schedule_timezone)
    return datetime.now(zone).date()


Today = Annotated[date, Depends(local_today)]


@router.get("/users/{user_guid}/flex", response_model=FlexOut)
async def get_flex(
    user_guid: uuid.UUID,
    today: Today,
    session: SessionDep,
    principal: CurrentPrincipal,
    flex_last_day: Annotated[
        Day | None, Query(description="Last day computed (default: yesterday)")
    ] = None,
    ignore_events: Annotated[bool, Query(description="Leave corrections out")] = False,
) -> dict[str, Any]:
    """The saldo, KIKY, monthly summary and daily log, computed from stored data.

    A day without a contract between the start and the last day makes the saldo undefined:
    the answer is 409 naming the day, never a partial number.
    """
    user = await _person(session, user_guid)
    _may_read(principal, user)
    if flex_last_day is not None and flex_last_day >= today:
        raise Problem(
            422,
            f"flex_last_day must be before today ({today.isoformat()}): today's hours are "
            "never final.",
            type_="urn:problem:validation",
        )
    inputs = await load_flex_inputs(
        session,
        user,
        today=today,
        flex_last_day=flex_last_day,
        ignore_events=ignore_events,
    )
    try:
        result = calculate_flex_saldo(inputs)
    except NoContractError as exc:
        raise Problem(
            409,
            str(exc),
            title="No work contract",
            type_="urn:problem:flex-no-contract",
            day=exc.day.isoformat() if exc.day else None,
        ) from exc
    except FlexError as exc:
        raise Problem(409, str(exc), type_="urn:problem:flex") from exc
    document = result_document(result)
    return {"user": user.guid, "name": user.full_name, "active": is_active(inputs), **document}


@router.get("/users/{user_guid}/contracts", response_model=list[ContractOut])
async def list_contracts(
    user_guid: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> list[WorkContract]:
    _may_read(principal, await _person(session, user_guid))
    return await contracts_of(session, user_guid)


async def _refuse_overlap(
    session: SessionDep, user_guid: uuid.UUID, body: ContractIn, other_than: int | None = None
) -> None:
    clash = await overlapping_contract(
        session, user_guid, body.start_date, body.end_date, other_than=other_than
    )
    if clash is not None:
        raise Problem(
            409,
            f"Overlaps contract {clash.id} ({clash.start_date} to {clash.end_date}).",
            title="Contracts overlap",
            type_="urn:problem:contract-overlap",
            contract_id=clash.id,
        )


@router.post("/users/{user_guid}/contracts", response_model=ContractOut, status_code=201)
async def create_contract(
    user_guid: uuid.UUID, body: ContractIn, session: SessionDep, principal: CanSeeFlexSaldos
) -> WorkContract:
    await _person(session, user_guid)
    await _refuse_overlap(session, user_guid, body)
    contract = WorkContract(user_guid=user_guid, **body.model_dump())
    session.add(contract)
    await session.flush()
    await record_history(session, contract, body.model_dump(), principal.email)
    return contract


async def _contract(session: SessionDep, contract_id: int) -> WorkContract:
    contract = await session.get(WorkContract, contract_id)
    if contract is None:
        raise not_found(f"contract {contract_id}")
    return contract


@router.put("/contracts/{contract_id}", response_model=ContractOut)
async def replace_contract(
    contract_id: int, body: ContractIn, session: SessionDep, principal: CanSeeFlexSaldos
) -> WorkContract:
    contract = await _contract(session, contract_id)
    await _refuse_overlap(session, contract.user_guid, body, other_than=contract_id)
    await update_with_history(session, contract, body.model_dump(), principal.email)
    return contract


@router.delete("/contracts/{contract_id}", status_code=204)
async def delete_contract(
    contract_id: int, session: SessionDep, principal: CanSeeFlexSaldos
) -> Response:
    contract = await _contract(session, contract_id)
    await record_history(session, contract, {"deleted": True}, principal.email)
    await session.delete(contract)
    return Response(status_code=204)


@router.get("/users/{user_guid}/flex-corrections", response_model=list[CorrectionOut])
async def list_corrections(
    user_guid: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> list[FlexTimeCorrection]:
    _may_read(principal, await _person(session, user_guid))
    return await corrections_of(session, user_guid)


@router.post("/users/{user_guid}/flex-corrections", response_model=CorrectionOut, status_code=201)
async def create_correction(
    user_guid: uuid.UUID, body: CorrectionIn, session: SessionDep, principal: CanSeeFlexSaldos
) -> FlexTimeCorrection:
    await _person(session, user_guid)
    correction = FlexTimeCorrection(user_guid=user_guid, **body.model_dump())
    session.add(correction)
    await session.flush()
    await record_history(session, correction, body.model_dump(), principal.email)
    return correction


async def _correction(session: SessionDep, correction_id: int) -> FlexTimeCorrection:
    correction = await session.get(FlexTimeCorrection, correction_id)
    if correction is None:
        raise not_found(f"correction {correction_id}")
    return correction


@router.put("/flex-corrections/{correction_id}", response_model=CorrectionOut)
async def replace_correction(
    correction_id: int, body: CorrectionIn, session: SessionDep, principal: CanSeeFlexSaldos
) -> FlexTimeCorrection:
    correction = await _correction(session, correction_id)
    await update_with_history(session, correction, body.model_dump(), principal.email)
    return correction


@router.delete("/flex-corrections/{correction_id}", status_code=204)
async def delete_correction(
    correction_id: int, session: SessionDep, principal: CanSeeFlexSaldos
) -> Response:
    correction = await _correction(session, correction_id)
    await record_history(session, correction, {"deleted": True}, principal.email)
    await session.delete(correction)
    return Response(status_code=204)
