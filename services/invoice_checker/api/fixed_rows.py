"""Fixed invoice rows: per project (on every open invoice) and per invoice (one month only).

An invoiced (Preview/Sent) invoice bills the copies frozen when it got there; its rows cannot
change until it goes back to Created/Approved (409).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field, StringConstraints

from invoice_checker.api.invoice_detail import NOT_FOUND, invoice_or_404
from invoice_checker.api.permissions import CanEditFixedRows, CanViewInvoices, RowScope
from invoice_checker.api.schemas import StoredFixedRowOut
from invoice_checker.domain.scopes import Scope
from invoice_checker.store import checking, scopes
from invoice_checker.store.directory import Project
from invoice_checker.store.workflow import InvoiceFixedRow, ProjectFixedRow
from service_kit.errors import Problem, not_found
from service_kit.request_session import SessionDep

router = APIRouter(prefix="/api/v1", tags=["fixed rows"])

Description = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
CONFLICTS: dict[int | str, dict[str, Any]] = {
    409: {"description": "The invoice is invoiced (rows frozen), or the description is taken"}
}


class FixedRowIn(BaseModel):
    description: Description = Field(examples=["Monthly maintenance"])
    price: float = Field(ge=-1e9, le=1e9, description="Negative for a discount", examples=[500])
    currency: Currency = Field(default="EUR", examples=["EUR"])


@asynccontextmanager
async def _fixed_row_change(description: str = "") -> AsyncIterator[None]:
    """Run one fixed-row change; the workflow's refusals become 409 problems."""
    try:
        yield
    except checking.FrozenRows:
        raise Problem(
            409,
            "The invoice is in Preview or Sent: its fixed rows are frozen. "
            "Post a comment without the invoice number to reopen it.",
            type_="urn:problem:frozen",
        ) from None
    except checking.DuplicateRow:
        raise Problem(
            409, f"A fixed row {description!r} exists already.", type_="urn:problem:duplicate"
        ) from None


async def _project_or_404(session: SessionDep, scope: Scope, project_guid: uuid.UUID) -> Project:
    project = await scopes.project_in_scope(session, scope, project_guid)
    if project is None:
        raise not_found(f"project {project_guid}")
    return project


# Project rows ---------------------------------------------------------------------------------


@router.get("/projects/{project_guid}/fixed-rows", summary="A project's fixed rows")
async def list_project_rows(
    project_guid: uuid.UUID, session: SessionDep, _: CanViewInvoices, scope: RowScope
) -> list[StoredFixedRowOut]:
    await _project_or_404(session, scope, project_guid)
    rows = await checking.project_fixed_rows(session, project_guid)
    return [StoredFixedRowOut.model_validate(r, from_attributes=True) for r in rows]


@router.post(
    "/projects/{project_guid}/fixed-rows",
    summary="Add a fixed row to every open invoice of a project",
    status_code=201,
    responses=CONFLICTS,
)
async def add_project_row(
    project_guid: uuid.UUID,
    body: FixedRowIn,
    session: SessionDep,
    principal: CanEditFixedRows,
    scope: RowScope,
) -> StoredFixedRowOut:
    await _project_or_404(session, scope, project_guid)
    row = ProjectFixedRow(project_guid=project_guid, **body.model_dump())
    async with _fixed_row_change(body.description):
        await checking.add_fixed_row(session, row, actor=principal.email)
    return StoredFixedRowOut.model_validate(row, from_attributes=True)


async def _project_row_or_404(
    session: SessionDep, scope: Scope, project_guid: uuid.UUID, row_id: int
) -> ProjectFixedRow:
    await _project_or_404(session, scope, project_guid)
    row = await session.get(ProjectFixedRow, row_id)
    if row is None or row.project_guid != project_guid:
        raise not_found(f"fixed row {row_id} on that project")
    return row


@router.put(
    "/projects/{project_guid}/fixed-rows/{row_id}",
    summary="Change a project's fixed row (invoiced invoices keep their frozen copy)",
    responses=CONFLICTS,
)
async def update_project_row(
    project_guid: uuid.UUID,
    row_id: int,
    body: FixedRowIn,
    session: SessionDep,
    principal: CanEditFixedRows,
    scope: RowScope,
) -> StoredFixedRowOut:
    row = await _project_row_or_404(session, scope, project_guid, row_id)
    async with _fixed_row_change(body.description):
        await checking.update_fixed_row(session, row, body.model_dump(), actor=principal.email)
    return StoredFixedRowOut.model_validate(row, from_attributes=True)


@router.delete(
    "/projects/{project_guid}/fixed-rows/{row_id}",
    summary="Delete a project's fixed row",
    status_code=204,
)
async def delete_project_row(
    project_guid: uuid.UUID,
    row_id: int,
    session: SessionDep,
    principal: CanEditFixedRows,
    scope: RowScope,
) -> Response:
    row = await _project_row_or_404(session, scope, project_guid, row_id)
    async with _fixed_row_change():
        await checking.delete_fixed_row(session, row, actor=principal.email)
    return Response(status_code=204)


# Invoice rows ---------------------------------------------------------------------------------


@router.get(
    "/invoices/{invoice_id}/fixed-rows",
    summary="An invoice's own fixed rows (hand-added and frozen copies)",
    responses=NOT_FOUND,
)
async def list_invoice_rows(
    invoice_id: uuid.UUID, session: SessionDep, _: CanViewInvoices, scope: RowScope
) -> list[StoredFixedRowOut]:
    invoice = await invoice_or_404(session, scope, invoice_id)
    rows = await checking.invoice_fixed_rows(session, invoice.id)
    return [StoredFixedRowOut.model_validate(r, from_attributes=True) for r in rows]


@router.post(
    "/invoices/{invoice_id}/fixed-rows",
    summary="Add a fixed row to one invoice",
    status_code=201,
    responses={**NOT_FOUND, **CONFLICTS},
)
async def add_invoice_row(
    invoice_id: uuid.UUID,
    body: FixedRowIn,
    session: SessionDep,
    principal: CanEditFixedRows,
    scope: RowScope,
) -> StoredFixedRowOut:
    invoice = await invoice_or_404(session, scope, invoice_id)
    row = InvoiceFixedRow(invoice_id=invoice.id, frozen=False, **body.model_dump())
    async with _fixed_row_change(body.description):
        await checking.add_fixed_row(session, row, actor=principal.email)
    return StoredFixedRowOut.model_validate(row, from_attributes=True)


async def _invoice_row_or_404(
    session: SessionDep, scope: Scope, invoice_id: uuid.UUID, row_id: int
) -> InvoiceFixedRow:
    await invoice_or_404(session, scope, invoice_id)
    row = await session.get(InvoiceFixedRow, row_id)
    if row is None or row.invoice_id != invoice_id:
        raise not_found(f"fixed row {row_id} on that invoice")
    return row


@router.put(
    "/invoices/{invoice_id}/fixed-rows/{row_id}",
    summary="Change one invoice's fixed row",
    responses={**NOT_FOUND, **CONFLICTS},
)
async def update_invoice_row(
    invoice_id: uuid.UUID,
    row_id: int,
    body: FixedRowIn,
    session: SessionDep,
    principal: CanEditFixedRows,
    scope: RowScope,
) -> StoredFixedRowOut:
    row = await _invoice_row_or_404(session, scope, invoice_id, row_id)
    async with _fixed_row_change(body.description):
        await checking.update_fixed_row(session, row, body.model_dump(), actor=principal.email)
    return StoredFixedRowOut.model_validate(row, from_attributes=True)


@router.delete(
    "/invoices/{invoice_id}/fixed-rows/{row_id}",
    summary="Delete one invoice's fixed row",
    status_code=204,
    responses={**NOT_FOUND, **CONFLICTS},
)
async def delete_invoice_row(
    invoice_id: uuid.UUID,
    row_id: int,
    session: SessionDep,
    principal: CanEditFixedRows,
    scope: RowScope,
) -> Response:
    row = await _invoice_row_or_404(session, scope, invoice_id, row_id)
    async with _fixed_row_change():
        await checking.delete_fixed_row(session, row, actor=principal.email)
    return Response(status_code=204)
