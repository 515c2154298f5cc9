"""Downloads of an invoice's counted hours: CSV, XLSX (Excel) and a printable PDF."""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import Executor
from typing import Literal
from urllib.parse import quote

from fastapi import APIRouter, Request, Response

from invoice_checker.api.invoice_detail import NOT_FOUND, invoice_or_404
from invoice_checker.api.permissions import CanViewInvoices, RowScope
from invoice_checker.domain import hour_exports
from invoice_checker.store import checking
from service_kit.request_session import SessionDep

router = APIRouter(prefix="/api/v1/invoices", tags=["exports"])

PROCESS_FORMATS = frozenset({"pdf", "xlsx"})
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


async def _build_off_the_loop(
    request: Request, rows: list[hour_exports.ExportRow], title: str, file_format: str
) -> bytes:
    """Build the file where it cannot stall other requests. A PDF or XLSX of thousands of
    entries takes seconds of pure Python: a thread would hold the GIL against the event loop,
    so they go to the app's process pool. CSV is quick; a thread does."""
    if file_format in PROCESS_FORMATS:
        pool: Executor = request.app.state.export_pool
        wire = hour_exports.to_wire(rows)
        # Submitted from a thread: the first submit starts a process, tens of milliseconds.
        built = await asyncio.to_thread(
            pool.submit, hour_exports.export_bytes_from_wire, wire, title, file_format
        )
        return await asyncio.wrap_future(built)
    return await asyncio.to_thread(hour_exports.export_bytes, rows, title, file_format)


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
    request: Request,
    session: SessionDep,
    _: CanViewInvoices,
    scope: RowScope,
) -> Response:
    invoice = await invoice_or_404(session, scope, invoice_id)
    rows: list[hour_exports.ExportRow] = []
    async for chunk in checking.counted_export_chunks(session, invoice.id):
        rows += hour_exports.export_rows(chunk, scope)
        await asyncio.sleep(0)  # other requests run between chunks
    project = invoice.project
    filename = hour_exports.export_filename(
        project.client.name, project.name, invoice.month, file_format
    )
    title = filename.rsplit(".", 1)[0]
    body = await _build_off_the_loop(request, rows, title, file_format)
    return Response(
        body,
        media_type=MEDIA_TYPES[file_format],
        headers={"Content-Disposition": _disposition(filename)},
    )
