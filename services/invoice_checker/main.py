"""App factory for the invoice checker: `uvicorn --factory invoice_checker.main:create_app`.

The JSON API lives under /api/v1; the web app's pages (invoice_checker.web) at the other paths."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import asynccontextmanager

from fastapi import FastAPI

from invoice_checker.api import (
    access,
    auth,
    comments,
    directory,
    exports,
    fixed_rows,
    guide,
    hour_entries,
    invoice_detail,
    invoices,
    operations,
    reports,
    syncs,
    tags,
    you,
)
from invoice_checker.api.flex import router as flex_router
from invoice_checker.api.invoices_direct import add_invoice_list_direct_route
from invoice_checker.api.slack import router as slack_router
from invoice_checker.settings import InvoiceCheckerSettings, get_settings
from invoice_checker.web.app import install_web
from service_kit.app import build_app

EXPORT_PROCESSES = 2  # PDF/XLSX builds at once per server process; more wait their turn
EXPORT_NICENESS = 10  # on a busy machine the API's event loop goes first, exports after


@asynccontextmanager
async def export_pool(app: FastAPI) -> AsyncIterator[None]:
    """Processes that build PDF and XLSX exports off the event loop; started on first use."""
    pool = ProcessPoolExecutor(
        max_workers=EXPORT_PROCESSES,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=os.nice,
        initargs=(EXPORT_NICENESS,),
    )
    app.state.export_pool = pool
    try:
        yield
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def create_app(settings: InvoiceCheckerSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = build_app(
        title="Invoice checker",
        description=guide.DESCRIPTION,
        openapi_tags=guide.OPENAPI_TAGS,
        settings=settings,
        application_name="invoice_checker",
        extra_lifespan=export_pool,
        routers=[
            auth.router,
            access.router,
            operations.router,
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
        ],
    )
    add_invoice_list_direct_route(app, invoices.router)
    install_web(app, settings)
    return app
