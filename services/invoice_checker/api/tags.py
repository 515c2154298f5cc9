"""Free labels on invoices ("disputed", "waiting-for-po"); `GET /invoices?tag=` filters by them."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel

from invoice_checker.api.invoice_detail import NOT_FOUND, invoice_or_404
from invoice_checker.api.permissions import CanCheckInvoices, CanViewInvoices, RowScope
from invoice_checker.store import checking
from service_kit.errors import Problem
from service_kit.request_session import SessionDep

router = APIRouter(prefix="/api/v1", tags=["tags"])

TAG_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,49}$"
Tag = Annotated[str, Path(pattern=TAG_PATTERN, description="lower-case letters, digits, - and _")]


class TagCount(BaseModel):
    tag: str
    invoices: int


@router.get("/tags", summary="Every tag in use, with how many invoices carry it")
async def list_tags(session: SessionDep, _: CanViewInvoices, scope: RowScope) -> list[TagCount]:
    """Counted over the invoices the caller reaches."""
    return [TagCount(tag=tag, invoices=n) for tag, n in await checking.all_tags(session, scope)]


@router.put(
    "/invoices/{invoice_id}/tags/{tag}",
    summary="Tag an invoice (idempotent)",
    status_code=204,
    responses=NOT_FOUND,
)
async def add_tag(
    invoice_id: uuid.UUID,
    tag: Tag,
    session: SessionDep,
    principal: CanCheckInvoices,
    scope: RowScope,
) -> Response:
    invoice = await invoice_or_404(session, scope, invoice_id)
    await checking.add_tag(session, invoice, tag, actor=principal.email)
    return Response(status_code=204)


@router.delete(
    "/invoices/{invoice_id}/tags/{tag}",
    summary="Remove a tag from an invoice",
    status_code=204,
    responses={404: {"description": "No such invoice, or it lacks the tag"}},
)
async def remove_tag(
    invoice_id: uuid.UUID,
    tag: Tag,
    session: SessionDep,
    principal: CanCheckInvoices,
    scope: RowScope,
) -> Response:
    invoice = await invoice_or_404(session, scope, invoice_id)
    if not await checking.remove_tag(session, invoice, tag, actor=principal.email):
        raise Problem(404, f"The invoice has no tag {tag!r}.", type_="urn:problem:not-found")
    return Response(status_code=204)
