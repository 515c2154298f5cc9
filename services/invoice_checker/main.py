"""App factory for the invoice checker: `uvicorn --factory invoice_checker.main:create_app`."""

from __future__ import annotations

from fastapi import FastAPI

from invoice_checker.api import (
    auth,
    comments,
    directory,
    exports,
    fixed_rows,
    guide,
    hour_entries,
    invoice_detail,
    invoices,
    reports,
    syncs,
    tags,
    you,
)
from invoice_checker.api.flex import router as flex_router
from invoice_checker.api.slack import links_router as slack_links_router
from invoice_checker.api.slack import router as slack_router
from invoice_checker.settings import InvoiceCheckerSettings, get_settings
from service_kit.app import build_app


def create_app(settings: InvoiceCheckerSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    return build_app(
        title="Invoice checker",
        description=guide.DESCRIPTION,
        openapi_tags=guide.OPENAPI_TAGS,
        settings=settings,
        application_name="invoice_checker",
        routers=[
            auth.router,
            invoices.router,
            invoice_detail.router,
            hour_entries.router,
            syncs.router,
            comments.router,
            fixed_rows.router,
            tags.router,
            exports.router,
            directory.router,
            reports.router,
            flex_router,
            you.router,
            slack_router,
            slack_links_router,
        ],
    )
