"""RFC 9457 problem+json for every error a service answers."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any, cast

import asyncpg
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DataError, DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from service_kit.settings import NotConfiguredError

PROBLEM_MEDIA_TYPE = "application/problem+json"

logger = logging.getLogger(__name__)


class Problem(Exception):
    """Raise from anywhere in a request to answer with a problem+json body."""

    def __init__(
        self,
        status: int,
        detail: str | None = None,
        *,
        title: str | None = None,
        type_: str = "about:blank",
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or title or HTTPStatus(status).phrase)
        self.status = status
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.type = type_
        self.headers = headers
        self.extra = extra


def not_found(what: str) -> Problem:
    """A 404 problem naming what is missing: `not_found(f"invoice {id}")`."""
    return Problem(404, f"No {what}.", type_="urn:problem:not-found")


def not_configured(exc: NotConfiguredError, type_: str) -> Problem:
    """503 for a route whose feature's settings are empty; the detail names what to set."""
    return Problem(503, f"{exc}.", title="Not configured", type_=type_)


def problem_response(
    status: int,
    detail: str | None = None,
    *,
    title: str | None = None,
    type_: str = "about:blank",
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": type_,
        "title": title or HTTPStatus(status).phrase,
        "status": status,
    }
    if detail is not None:
        body["detail"] = detail
    if instance is not None:
        body["instance"] = instance
    body.update(jsonable_encoder(extra))
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


async def _on_problem(request: Request, exc: Exception) -> Response:
    exc = cast(Problem, exc)  # registered for Problem only
    return problem_response(
        exc.status,
        exc.detail,
        title=exc.title,
        type_=exc.type,
        instance=request.url.path,
        headers=exc.headers,
        **exc.extra,
    )


async def _on_http_exception(request: Request, exc: Exception) -> Response:
    exc = cast(StarletteHTTPException, exc)  # registered for HTTPException only
    detail = exc.detail if isinstance(exc.detail, str) else None
    extra: dict[str, Any] = {} if isinstance(exc.detail, str) else {"errors": exc.detail}
    return problem_response(
        exc.status_code,
        detail,
        instance=request.url.path,
        headers=dict(exc.headers) if exc.headers else None,
        **extra,
    )


async def _on_validation_error(request: Request, exc: Exception) -> Response:
    exc = cast(RequestValidationError, exc)  # registered for RequestValidationError only
    errors = [
        {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
        for err in exc.errors()
    ]
    return problem_response(
        422,
        "The request does not match the schema.",
        title="Validation failed",
        type_="urn:problem:validation",
        instance=request.url.path,
        errors=errors,
    )


def _is_bad_value(exc: DBAPIError) -> bool:
    """A value PostgreSQL or asyncpg refused: SQLSTATE class 22 (out of range, malformed text,
    NUL bytes) raised by the server, or the same refused by asyncpg while encoding the query."""
    return isinstance(exc, DataError) or isinstance(
        getattr(exc.orig, "__cause__", None), asyncpg.exceptions.DataError
    )


async def _on_database_error(request: Request, exc: Exception) -> Response:
    exc = cast(DBAPIError, exc)  # registered for DBAPIError only
    if not _is_bad_value(exc):
        return await _on_unhandled(request, exc)
    return await _on_refused_value(request, exc)


async def _on_refused_value(request: Request, exc: Exception) -> Response:
    """A bad value, through SQLAlchemy or straight from asyncpg (a query run on the driver's
    connection, where asyncpg's DataError covers both the server's and its own refusals)."""
    # The client's input slipped past the schema: a 422, never a 500.
    logger.info("database refused a request value", extra={"path": request.url.path})
    return problem_response(
        422,
        "A value in the request is out of range or malformed.",
        title="Unprocessable value",
        type_="urn:problem:invalid-value",
        instance=request.url.path,
    )


async def _on_unhandled(request: Request, exc: Exception) -> Response:
    logger.exception("unhandled error", extra={"path": request.url.path})
    return problem_response(500, "An unexpected error occurred; it has been logged.")


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(DBAPIError, _on_database_error)
    app.add_exception_handler(asyncpg.exceptions.DataError, _on_refused_value)
    app.add_exception_handler(Exception, _on_unhandled)
