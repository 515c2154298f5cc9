"""Refusals a person understands: a page's 401 sends the browser to sign in, other errors
answer an HTML page with the same status. API paths keep their problem+json."""

from __future__ import annotations

from collections.abc import Awaitable
from http import HTTPStatus
from typing import Any, cast
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import RedirectResponse, Response

from invoice_checker.api.permissions import SESSION_COOKIE
from invoice_checker.web.rendering import templates_of
from invoice_checker.web.security import is_page
from service_kit.errors import Problem

EXPLANATIONS = {
    401: "You are not signed in, or your session has ended.",
    403: "You are signed in, but your account may not see or do this.",
    404: "There is no such page, or nothing here you may see.",
    409: "This cannot be done in the item's current state.",
    422: "The address or the form has a value this page cannot use.",
}


def sign_in_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/sign-in?" + urlencode({"next": target})


def error_page(request: Request, status: int, detail: str | None) -> Response:
    if status == 401 and request.method in ("GET", "HEAD"):
        return RedirectResponse(sign_in_url(request), status_code=303)
    context: dict[str, Any] = {
        "principal": None,
        "signed_in": bool(request.cookies.get(SESSION_COOKIE)) and status != 401,
        "status": status,
        "title": HTTPStatus(status).phrase,
        "explanation": EXPLANATIONS.get(status, "Something went wrong."),
        "detail": detail,
        "sign_in": sign_in_url(request),
        "csrf": "",
        "can": lambda permission: False,
    }
    return templates_of(request).TemplateResponse(
        request, "error.html", context, status_code=status
    )


def install_error_pages(app: FastAPI) -> None:
    """Wrap the problem+json handlers: page paths get `error.html`, the rest are unchanged."""
    for exc_class in (Problem, StarletteHTTPException, RequestValidationError):
        _wrap(app, exc_class)


def _wrap(app: FastAPI, exc_class: type[Exception]) -> None:
    api_handler = app.exception_handlers[exc_class]

    async def handler(request: Request, exc: Exception) -> Response:
        if not is_page(request.url.path):
            return await cast(Awaitable[Response], api_handler(request, exc))
        if isinstance(exc, Problem):
            return error_page(request, exc.status, exc.detail)
        if isinstance(exc, StarletteHTTPException):
            return error_page(request, exc.status_code, None)
        errors = cast(RequestValidationError, exc).errors()
        if any(error.get("loc", ("",))[0] == "path" for error in errors):
            return error_page(request, 404, None)  # /invoices/not-a-uuid is simply not there
        fields = ", ".join(str(error.get("loc", ("", "?"))[-1]) for error in errors)
        return error_page(request, 422, f"Check these values: {fields}.")

    app.add_exception_handler(exc_class, handler)
