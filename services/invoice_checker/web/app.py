"""Mount the web app on the invoice checker: routes, static files, headers, error pages."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from invoice_checker.settings import InvoiceCheckerSettings
from invoice_checker.web import (
    access,
    aws,
    directory,
    flex,
    front,
    hours,
    invoices,
    jobs,
    notices,
    people,
    reports,
    signin,
    syncs,
    tokens,
    you,
)
from invoice_checker.web.errors import install_error_pages
from invoice_checker.web.rendering import HERE
from invoice_checker.web.security import SecurityHeaders

# Part 2's pages (people, flex, reports, admin) add their routers here.
ROUTERS = (
    signin.router,
    front.router,
    invoices.router,
    directory.router,
    hours.router,
    syncs.router,
    flex.router,
    you.router,
    reports.router,
    aws.router,
    people.router,
    tokens.router,
    jobs.router,
    access.router,
    notices.router,
)


def install_web(app: FastAPI, settings: InvoiceCheckerSettings) -> None:
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_middleware(SecurityHeaders, hsts=settings.cookie_secure)
    install_error_pages(app)
