"""AWS billing import: the month's CSV from S3 into billing rows, then the month's invoice stats."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from invoice_checker.adapters.s3 import download_billing_file
from invoice_checker.domain.aws_billing import (
    billing_file_key,
    months_to_import,
    parse_billing_csv,
)
from invoice_checker.jobs.runtime import job_session, local_today
from invoice_checker.settings import InvoiceCheckerSettings
from invoice_checker.store.aws import store_billing_month
from invoice_checker.store.events import record_event
from invoice_checker.store.invoice_stats import refresh_invoice_stats

logger = logging.getLogger(__name__)
EVENT_TYPE = "sync_aws_invoice"


async def import_billing_month(
    session: AsyncSession, settings: InvoiceCheckerSettings, month: date
) -> str:
    """Import one month in the caller's transaction; re-importing gives the same data."""
    month = month.replace(day=1)
    key = billing_file_key(settings.aws_billing_key_prefix, month.year, month.month)
    content = await download_billing_file(settings, key)
    if content is None:
        message = f"No AWS billing file {key} yet; nothing imported for {month:%Y-%m}"
        await record_event(session, EVENT_TYPE, message, details={"key": key})
        return message
    rows = parse_billing_csv(content, month)
    result = await store_billing_month(session, month, rows)
    await refresh_invoice_stats(session, months=[month])
    message = (
        f"Imported {result.rows} AWS billing rows for {month:%Y-%m} "
        f"({result.accounts} accounts, {result.deleted} old rows deleted, "
        f"{result.invoices_created} invoices created)"
    )
    await record_event(session, EVENT_TYPE, message, details={"key": key, **vars(result)})
    return message


async def import_aws_billing(ctx: dict[str, Any], year: int, month: int) -> str:
    """arq job: import one month (`invoice-checker` / API trigger)."""
    async with job_session(ctx) as (session, settings):
        return await import_billing_month(session, settings, date(year, month, 1))


async def import_aws_billing_automatic(ctx: dict[str, Any]) -> list[str]:
    """Scheduled: this month, and the previous one during the first days of a month."""
    messages = []
    for month in months_to_import(local_today(ctx)):
        async with job_session(ctx) as (session, settings):
            messages.append(await import_billing_month(session, settings, month))
    return messages
