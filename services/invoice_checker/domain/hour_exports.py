"""An invoice's counted hours as CSV, XLSX and a printable PDF (spec 2.9), built in memory."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from itertools import groupby
from typing import Protocol

from fpdf import FPDF
from fpdf.fonts import FontFace
from openpyxl import Workbook
from openpyxl.styles import Font

from invoice_checker.domain.scopes import Scope, mask_leave
from invoice_checker.domain.stats import EntryFacts

COLUMNS = (
    "Date",
    "Person",
    "Hour rate €",
    "Hours",
    "Incurred €",
    "Phase name",
    "Category",
    "Notes",
)
MONEY_FORMAT = "# ##0.00€"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class ExportEntry(EntryFacts, Protocol):
    """What an export reads from an hour entry, beyond the stats' facts."""

    @property
    def date(self) -> date: ...
    @property
    def category(self) -> str: ...
    @property
    def notes(self) -> str | None: ...
    @property
    def leave_type(self) -> str: ...


@dataclass(frozen=True, slots=True)
class ExportRow:
    date: date
    person: str
    rate: float  # 0 for non-billable work, as the original
    hours: float
    money: float
    phase_name: str
    category: str
    notes: str  # never None (the original crashed on a null note)
    billable: bool


def export_rows(entries: Iterable[ExportEntry], scope: Scope) -> list[ExportRow]:
    """The rows as `scope` may see them: a sensitive leave shows as `Leave` (domain/scopes)."""
    rows = []
    for e in entries:
        shown = mask_leave(scope, e)
        rows.append(
            ExportRow(
                date=e.date,
                person=e.user_name or e.user_email or "",
                rate=e.bill_rate if e.calculated_is_billable else 0.0,
                hours=e.incurred_hours,
                money=e.incurred_money if e.calculated_is_billable else 0.0,
                phase_name=e.phase_name,
                category=shown.category,
                notes=shown.notes or "",
                billable=e.calculated_is_billable,
            )
        )
    return rows


def export_filename(client: str, project: str, month: str, extension: str) -> str:
    """`Hours for {client} - {project} - {YYYY-MM}.{ext}`, safe as a file name anywhere:
    no path separators, no `..`, no control characters, bounded length."""
    title = f"Hours for {client} - {project} - {month}"
    title = "".join(ch for ch in title if unicodedata.category(ch)[0] != "C")
    title = re.sub(r'[\\/:*?"<>|]+', "_", title).replace("..", "_").strip(" .")
    return f"{title[:150] or 'Hours'}.{extension}"


def _text_cell(value: str) -> str:
    """Text a spreadsheet must not run as a formula (CSV injection)."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def csv_bytes(rows: Sequence[ExportRow]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for r in rows:
        writer.writerow(
            [
                r.date.isoformat(),
                _text_cell(r.person),
                f"{r.rate:.2f}",
                f"{r.hours:g}",
                f"{r.money:.2f}",
                _text_cell(r.phase_name),
                _text_cell(r.category),
                _text_cell(r.notes),
            ]
        )
    return buffer.getvalue().encode()


def xlsx_bytes(rows: Sequence[ExportRow], title: str) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "Hours"
    sheet.append(COLUMNS)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    for r in rows:
        sheet.append([r.date, r.person, r.rate, r.hours, r.money, r.phase_name, r.category, ""])
        row = sheet.max_row
        sheet.cell(row, 1).number_format = "yyyy-mm-dd"
        sheet.cell(row, 3).number_format = MONEY_FORMAT
        sheet.cell(row, 5).number_format = MONEY_FORMAT
        notes = sheet.cell(row, 8)
        notes.value = r.notes
        notes.data_type = "s"  # a note starting with "=" stays text, never a formula
        for column in (2, 6, 7):
            sheet.cell(row, column).data_type = "s"
    for letter, width in zip("ABCDEFGH", (12, 24, 12, 8, 12, 28, 20, 60), strict=True):
        sheet.column_dimensions[letter].width = width
    book.properties.title = title
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _latin1(value: str) -> str:
    """The PDF core fonts are Latin-1: keep ä and ö, strip accents from what Latin-1 lacks."""
    kept = []
    for ch in value:
        if not ch.encode("latin-1", "ignore"):
            ch = unicodedata.normalize("NFKD", ch).encode("latin-1", "ignore").decode("latin-1")
        kept.append(ch or "?")
    return "".join(kept)


def pdf_bytes(rows: Sequence[ExportRow], title: str) -> bytes:
    """A4 landscape: a title with the totals, then one table per phase with its sums."""
    pdf = FPDF(orientation="landscape", format="A4")
    pdf.set_margins(10, 10, 10)
    pdf.set_auto_page_break(True, margin=10)
    pdf.add_page()
    pdf.set_title(_latin1(title))
    total_hours = sum(r.hours for r in rows)
    total_money = sum(r.money for r in rows if r.billable)
    pdf.set_font("helvetica", "B", 14)
    pdf.cell(0, 8, _latin1(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", "", 10)
    summary = f"{total_hours:.2f} hours, {total_money:.2f} EUR billable"
    pdf.cell(0, 6, summary, new_x="LMARGIN", new_y="NEXT")
    for phase, phase_rows in groupby(
        sorted(rows, key=lambda r: r.phase_name), key=lambda r: r.phase_name
    ):
        items = list(phase_rows)
        pdf.ln(3)
        pdf.set_font("helvetica", "B", 11)
        pdf.cell(0, 7, _latin1(phase), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("helvetica", "", 8)
        widths = (22, 45, 22, 16, 24, 148)
        with pdf.table(col_widths=widths, headings_style=FontFace(emphasis="BOLD")) as table:
            table.row(["Date", "Person", "Hour rate", "Hours", "Incurred", "Notes"])
            for r in items:
                table.row(
                    [
                        r.date.isoformat(),
                        _latin1(r.person),
                        f"{r.rate:.2f}" if r.billable else "-",
                        f"{r.hours:g}",
                        f"{r.money:.2f}" if r.billable else "-",
                        _latin1(r.notes),
                    ]
                )
            phase_money = sum(r.money for r in items if r.billable)
            table.row(
                ["Total", "", "", f"{sum(r.hours for r in items):g}", f"{phase_money:.2f}", ""]
            )
    return bytes(pdf.output())


# ExportRows as plain tuples with the date as its ordinal, for sending to a worker process:
# pickling 5,000 date objects holds the GIL (and so the event loop) for tens of milliseconds.
WireRow = tuple[int, str, float, float, float, str, str, str, bool]


def to_wire(rows: Iterable[ExportRow]) -> list[WireRow]:
    return [
        (
            r.date.toordinal(),
            r.person,
            r.rate,
            r.hours,
            r.money,
            r.phase_name,
            r.category,
            r.notes,
            r.billable,
        )
        for r in rows
    ]


def export_bytes_from_wire(wire: Sequence[WireRow], title: str, file_format: str) -> bytes:
    """`export_bytes` of rows sent by `to_wire` (what the worker process runs)."""
    rows = [ExportRow(date.fromordinal(w[0]), *w[1:]) for w in wire]
    return export_bytes(rows, title, file_format)


def export_bytes(rows: Sequence[ExportRow], title: str, file_format: str) -> bytes:
    """The file in one of the formats."""
    if file_format == "csv":
        return csv_bytes(rows)
    if file_format == "xlsx":
        return xlsx_bytes(rows, title)
    return pdf_bytes(rows, title)
