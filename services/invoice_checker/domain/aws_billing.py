"""The legacy AWS monthly billing CSV ("aws-billing-csv"): parsing and which months to import.

Pure: the caller downloads the file. Timestamps are `YYYY/MM/DD HH:MM:SS` in UTC; empty cells
become None. Rows without a LinkedAccountId (the payer's invoice and statement totals) are
skipped: they belong to no linked account, so no project or person can be billed for them.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

REQUIRED_COLUMNS = (
    "LinkedAccountId",
    "LinkedAccountName",
    "RecordType",
    "RecordID",
    "BillingPeriodStartDate",
    "BillingPeriodEndDate",
    "InvoiceDate",
    "ProductCode",
    "UsageType",
    "ItemDescription",
    "UsageStartDate",
    "UsageEndDate",
    "UsageQuantity",
    "TotalCost",
    "CurrencyCode",
)
ACCOUNT_TOTAL = "AccountTotal"
TIMESTAMP_FORMAT = "%Y/%m/%d %H:%M:%S"
# The stored key appends "YYYY-MM-DD" and must fit in 100 characters.
MAX_RECORD_ID = 90


class BillingFileError(ValueError):
    """The file is not a readable AWS billing CSV; the message names the line and column."""


@dataclass(frozen=True)
class BillingRow:
    record_id: str  # the CSV RecordID + the invoice month as YYYY-MM-DD
    invoice_month: date
    linked_account_id: str
    linked_account_name: str
    record_type: str
    billing_period_start: datetime | None
    billing_period_end: datetime | None
    invoice_date: datetime | None
    usage_start: datetime | None
    usage_end: datetime | None
    product_code: str
    usage_type: str
    item_description: str
    usage_quantity: float | None
    total_cost: float | None
    currency: str


def billing_file_key(prefix: str, year: int, month: int) -> str:
    """The S3 key of a month's file, e.g. `321914701408-aws-billing-csv-2018-02.csv`."""
    return f"{prefix}{year:04d}-{month:02d}.csv"


def months_to_import(today: date) -> list[date]:
    """This month; in the first days of a month also the previous one, whose bill is finishing."""
    months = [today.replace(day=1)]
    if today.day < 5:
        months.insert(0, (today - timedelta(days=10)).replace(day=1))
    return months


def parse_billing_csv(content: str, invoice_month: date) -> list[BillingRow]:
    """Every linked-account row of the file, keyed by its monthly record id (last one wins)."""
    month = invoice_month.replace(day=1)
    reader = csv.DictReader(io.StringIO(content.lstrip("\ufeff")))
    missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or ())]
    if missing:
        raise BillingFileError(f"the header lacks the columns {', '.join(missing)}")
    rows: dict[str, BillingRow] = {}
    for cells in reader:
        line = reader.line_num
        if not (cells.get("LinkedAccountId") or "").strip():
            continue
        record = (cells.get("RecordID") or "").strip()
        if not record or len(record) > MAX_RECORD_ID:
            raise BillingFileError(f"line {line}: RecordID is empty or over {MAX_RECORD_ID} chars")
        row = _row(cells, month, line)
        rows[row.record_id] = row
    return list(rows.values())


def _row(cells: dict[str, str | None], month: date, line: int) -> BillingRow:
    def text(column: str) -> str:
        return (cells.get(column) or "").strip()

    def timestamp(column: str) -> datetime | None:
        value = text(column)
        if not value:
            return None
        try:
            return datetime.strptime(value, TIMESTAMP_FORMAT).replace(tzinfo=UTC)
        except ValueError:
            raise BillingFileError(
                f"line {line}: {column} {value!r} is not YYYY/MM/DD HH:MM:SS"
            ) from None

    def number(column: str) -> float | None:
        value = text(column)
        if not value:
            return None
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise BillingFileError(f"line {line}: {column} {value!r} is not a number")
        return number

    return BillingRow(
        record_id=text("RecordID") + month.isoformat(),
        invoice_month=month,
        linked_account_id=text("LinkedAccountId"),
        linked_account_name=text("LinkedAccountName"),
        record_type=text("RecordType"),
        billing_period_start=timestamp("BillingPeriodStartDate"),
        billing_period_end=timestamp("BillingPeriodEndDate"),
        invoice_date=timestamp("InvoiceDate"),
        usage_start=timestamp("UsageStartDate"),
        usage_end=timestamp("UsageEndDate"),
        product_code=text("ProductCode")[:255],
        usage_type=text("UsageType")[:255],
        item_description=text("ItemDescription")[:1000],
        usage_quantity=number("UsageQuantity"),
        total_cost=number("TotalCost"),
        currency=text("CurrencyCode")[:3],
    )
