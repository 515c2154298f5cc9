"""GET /api/v1/invoices, the service's busiest route, answered before FastAPI routes it.

Through FastAPI's router and dependency injection (the session, page, sign-in and scope
dependencies, and the validation of nine query parameters), a list request cost the server
more CPU than its one statement. This endpoint does the same work with the same functions:
the sign-in and permission check (`permissions.direct_principal`, `view_invoices`), the row
scope (`current_scope`), the page (`invoice_page_on`, on a kept connection: see
`request_session.route_connection`) and the answer (`list_response`). It takes only the requests
whose query it reads plainly (`plain_query`: known parameters, each valid in the simplest of
the forms the route's validation accepts); the route itself answers the others, and documents
the path (OpenAPI).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import get_args
from urllib.parse import parse_qsl

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from invoice_checker.api.deps import app_settings
from invoice_checker.api.invoices import (
    DEFAULT_SORT,
    TAG_MAX_LENGTH,
    Sort,
    list_filters,
    list_response,
)
from invoice_checker.api.permissions import current_scope, direct_principal, view_invoices
from invoice_checker.domain.invoice_state import InvoiceState
from invoice_checker.store.invoice_list import InvoiceFilters, invoice_page_on
from service_kit.app import ServiceApp
from service_kit.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, PageParams
from service_kit.request_session import route_connection
from service_kit.state import app_lifespan_state

# The plain forms: ASCII digits without sign, leading zero or spaces (ints kept well inside the
# columns' range), a lower-case hyphenated UUID, the exact words. Anything else, valid or not,
# is left to the route.
_COUNT = re.compile(r"[1-9][0-9]{0,5}")
_CLIENT_ID = re.compile(r"[1-9][0-9]{0,8}")
_MONTH = re.compile(r"(19|20|21)[0-9]{2}-(0[1-9]|1[0-2])")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_BOOLEANS = {"true": True, "false": False}
_SORTS = frozenset(get_args(Sort))
_STATES = {state.value: state for state in InvoiceState}
_SCALARS = frozenset(
    {"month", "project", "client", "tag", "has_problems", "sort", "page", "page_size"}
)


@dataclass(frozen=True)
class ListQuery:
    filters: InvoiceFilters
    sort: str
    page: PageParams


@lru_cache(maxsize=256)
def plain_query(query_string: bytes) -> ListQuery | None:
    """The list request's query when every parameter is known and plainly valid (see above),
    read as the route reads it; None otherwise. Clients repeat a few queries: cached."""
    # Split as Starlette splits it for FastAPI.
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    values: dict[str, str] = {}
    states: list[InvoiceState] = []
    for key, value in pairs:
        if key == "state" and value in _STATES:
            states.append(_STATES[value])
        elif key in _SCALARS and key not in values:
            values[key] = value
        else:  # unknown, repeated, or a state the route refuses
            return None
    try:
        month = _plain(values, "month", _MONTH.fullmatch)
        project = _plain(values, "project", _UUID.fullmatch)
        client = _plain(values, "client", _CLIENT_ID.fullmatch)
        tag = _plain(values, "tag", lambda text: len(text) <= TAG_MAX_LENGTH)
        has_problems = _plain(values, "has_problems", _BOOLEANS.__contains__)
        sort = _plain(values, "sort", _SORTS.__contains__) or DEFAULT_SORT
        page = _plain(values, "page", _COUNT.fullmatch) or "1"
        page_size = _plain(values, "page_size", _COUNT.fullmatch) or str(DEFAULT_PAGE_SIZE)
    except _NotPlain:
        return None
    if int(page_size) > MAX_PAGE_SIZE:
        return None
    filters = list_filters(
        month,
        None if project is None else uuid.UUID(project),
        None if client is None else int(client),
        states,
        tag,
        None if has_problems is None else _BOOLEANS[has_problems],
    )
    return ListQuery(filters, sort, PageParams(int(page), int(page_size)))


class _NotPlain(Exception):
    pass


def _plain(values: dict[str, str], key: str, accepts: Callable[[str], object]) -> str | None:
    value = values.get(key)
    if value is not None and not accepts(value):
        raise _NotPlain
    return value


def _takes(scope: Scope) -> bool:
    return plain_query(scope["query_string"]) is not None


async def _answer(scope: Scope, body: bytes) -> Response:
    query = plain_query(scope["query_string"])
    if query is None:  # `_takes` let it through: cannot happen
        raise RuntimeError("a list request the direct route does not read plainly")
    request = Request(scope)
    principal = await view_invoices(await direct_principal(request))
    reach = await current_scope(principal, app_settings(request))
    async with route_connection(request.app) as driver:
        found = await invoice_page_on(
            driver,
            app_lifespan_state(request.app).engine.dialect,
            query.filters,
            query.sort,
            scope=reach,
            limit=query.page.page_size,
            offset=query.page.offset,
        )
    return list_response(found, query.page)


def add_invoice_list_direct_route(app: ServiceApp, invoice_routes: APIRouter) -> None:
    """Answer plain GETs of the invoice list (`invoices.router`, included in `app`) before
    FastAPI's routing (see the module docstring)."""
    [route] = [
        r for r in invoice_routes.routes if isinstance(r, APIRoute) and r.name == "list_invoices"
    ]
    app.add_direct_route(route, _answer, methods=["GET"], takes=_takes)
