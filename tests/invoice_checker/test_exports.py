"""Hour exports: CSV, XLSX and PDF of an invoice's counted entries; safe file names."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date
from urllib.parse import unquote

import httpx
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook
from sqlalchemy.ext.asyncio import AsyncSession

from invoice_checker.domain.hour_exports import export_filename
from invoice_checker.store.directory import Project
from invoice_checker.store.invoices import Invoice
from tests.invoice_checker.invoice_factories import (
    add_entries,
    bearer,
    lead_token,
    make_invoice,
    make_project,
    make_token,
)


async def _lead_of(session: AsyncSession, invoice_id: str) -> dict[str, str]:
    """A team lead leading the invoice's project."""
    invoice = await session.get_one(Invoice, uuid.UUID(invoice_id))
    return bearer(await lead_token(session, await session.get_one(Project, invoice.project_guid)))


async def _invoice_with_hours(session: AsyncSession) -> str:
    project = await make_project(session, name="Web/shop ../../etc", client="Acme Äö")
    invoice = await make_invoice(session, project, date(2026, 10, 1))
    await add_entries(
        session,
        invoice,
        {"date": date(2026, 10, 2), "hours": 7.5, "notes": '=HYPERLINK("http://x")'},
        {"date": date(2026, 10, 3), "hours": 2, "notes": None, "calculated_has_notes": False},
        {"date": date(2026, 10, 4), "hours": 3, "phase_name": "Non-billable work"},
        {"date": date(2026, 10, 5), "hours": 1, "status": "Unsubmitted"},
    )
    return str(invoice.id)


async def test_csv_export(ic_client: httpx.AsyncClient, db_session: AsyncSession) -> None:
    invoice_id = await _invoice_with_hours(db_session)
    token = await _lead_of(db_session, invoice_id)
    response = await ic_client.get(f"/api/v1/invoices/{invoice_id}/hours.csv", headers=token)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = response.headers["content-disposition"]
    name = unquote(disposition.split("filename*=UTF-8''")[1])
    assert name == "Hours for Acme Äö - Web_shop ____etc - 2026-10.csv"
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == [
        "Date",
        "Person",
        "Hour rate €",
        "Hours",
        "Incurred €",
        "Phase name",
        "Category",
        "Notes",
    ]
    assert [r[0] for r in rows[1:]] == ["2026-10-02", "2026-10-03", "2026-10-04"]
    assert rows[1][7] == '\'=HYPERLINK("http://x")'  # never a live formula
    assert rows[2][7] == ""  # a null note, which crashed the original's XLSX export
    assert rows[3][2:5] == ["0.00", "3", "0.00"]  # non-billable: no rate, no money


async def test_xlsx_export(ic_client: httpx.AsyncClient, db_session: AsyncSession) -> None:
    invoice_id = await _invoice_with_hours(db_session)
    token = bearer(await make_token(db_session, "finance"))
    response = await ic_client.get(f"/api/v1/invoices/{invoice_id}/hours.xlsx", headers=token)
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert [c.value for c in sheet[1]][:3] == ["Date", "Person", "Hour rate €"]
    assert sheet["A1"].font.b and sheet.freeze_panes == "A2"
    assert sheet["A2"].value.date() == date(2026, 10, 2)
    assert sheet["A2"].number_format == "yyyy-mm-dd"
    assert sheet["E2"].value == 750 and sheet["E2"].number_format == "# ##0.00€"
    assert sheet["H2"].data_type == "s" and sheet["H2"].value.startswith("=HYPERLINK")
    assert sheet.max_row == 4


async def test_pdf_export(ic_client: httpx.AsyncClient, db_session: AsyncSession) -> None:
    invoice_id = await _invoice_with_hours(db_session)
    token = bearer(await make_token(db_session, "finance"))
    response = await ic_client.get(f"/api/v1/invoices/{invoice_id}/hours.pdf", headers=token)
    assert response.status_code == 200
    assert response.content.startswith(b"%PDF-")
    assert response.headers["content-type"] == "application/pdf"


async def test_unknown_formats_and_employees_are_refused(
    ic_client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    invoice_id = await _invoice_with_hours(db_session)
    lead = await _lead_of(db_session, invoice_id)
    employee = bearer(await make_token(db_session, "employee"))
    bad = await ic_client.get(f"/api/v1/invoices/{invoice_id}/hours.exe", headers=lead)
    assert bad.status_code == 422
    denied = await ic_client.get(f"/api/v1/invoices/{invoice_id}/hours.csv", headers=employee)
    assert denied.status_code == 403


@given(st.text(max_size=80), st.text(max_size=80))
def test_export_file_names_never_escape_a_directory(client: str, project: str) -> None:
    name = export_filename(client, project, "2026-10", "xlsx")
    assert "/" not in name and "\\" not in name and ".." not in name
    assert name.endswith(".xlsx") and not name.startswith(".")
    assert all(ord(ch) >= 32 for ch in name)
