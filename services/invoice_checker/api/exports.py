"""Downloads of an invoice's counted hours: CSV, XLSX (Excel) and a printable PDF."""

from __future__ import annotations

import uuid
from typing import Literal
from urllib.parse import quote

from fastapi import APIRouter, Response

from invoice_checker.api.invoice_detail import NOT_FOUND, invoice_or_404
from invoice_checker.api.permissions import CanViewInvoices, RowScope
from invoice_checker.domain import hour_exports
from invoice_checker.store import checking
from service_kit.db import SessionDep

router = APIRouter(prefix="/api/v1/invoices", tags=["exports"])

MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


def _disposition(filename: str) -> str:
    """An ASCII fallback plus the exact UTF-8 name (RFC 6266 / 5987)."""
    fallback = filename.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}"


@router.get(
    "/{invoice_id}/hours.{file_format}",
    summary="Download the invoice's counted hours as csv, xlsx or pdf",
    response_class=Response,
    responses={
        **NOT_FOUND,
        200: {
            "description": "The file, named `Hours for {client} - {project} - {YYYY-MM}.{ext}`",
            "content": {media_type: {} for media_type in MEDIA_TYPES.values()},
        },
    },
)
async def export_hours(
    invoice_id: uuid.UUID,
    file_format: Literal["csv", "xlsx", "pdf"],
    session: SessionDep,
    _: CanViewInvoices,
    scope: RowScope,
) -> Response:
    invoice = await invoice_or_404(session, scope, invoice_id)
    entries = await checking.counted_entries(session, invoice.id)
    rows = hour_exports.export_rows(entries, scope)
    project = invoice.project
    filename = hour_exports.export_filename(
        project.client.name, project.name, invoice.month, file_format
    )
    title = filename.rsplit(".", 1)[0]
    if file_format == "csv":
        body = hour_exports.csv_bytes(rows)
    elif file_format == "xlsx":
        body = hour_exports.xlsx_bytes(rows, title)
    else:
        body = hour_exports.pdf_bytes(rows, title)
    return Response(
        body,
        media_type=MEDIA_TYPES[file_format],
        headers={"Content-Disposition": _disposition(filename)},
    )
