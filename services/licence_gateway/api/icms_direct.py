"""The Hawk-protected ICMS routes, answered before FastAPI routes the request.

ICMS posts every licence instruction to `/mail/update-licence/`. Through FastAPI's middleware,
router and dependency injection, and an ORM session around one INSERT, the framework cost more
CPU than the work itself. These endpoints do the same work with the same functions
(`hawk_route.hawk_protected`, the `answer_*` functions of `api.icms`, `store_payload_on`) as
plain ASGI apps, registered with `ServiceApp.add_direct_route`: the app's request context
(request id, body limit, metrics, logs) and exception handlers still apply. The FastAPI routes of
`api.icms` stay registered: they document these paths (OpenAPI) and answer their other methods.

The licences of concurrent requests are stored together (`service_kit.coalesce`): those that
arrive while an INSERT is running go into the next one, a lone request's at once. Each request
still answers only once its own row is committed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from functools import partial

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from licence_gateway.api.deps import app_settings
from licence_gateway.api.hawk_route import hawk_nonces, hawk_protected, incoming
from licence_gateway.api.icms import (
    CHECK_CONNECTION_PATH,
    UPDATE_LICENCE_PATH,
    StorePayload,
    answer_check_connection,
    answer_update_licence,
)
from licence_gateway.store.payloads import (
    DATABASE_UNREACHABLE,
    Ingest,
    NewPayload,
    store_payloads_on,
)
from service_kit.app import DirectAnswer, ServiceApp
from service_kit.coalesce import Coalesced
from service_kit.request_session import route_connection

Answer = Callable[[FastAPI, bytes], Awaitable[Response]]


def _hawk_endpoint(answer: Answer) -> DirectAnswer:
    """A direct route's endpoint giving `answer`'s response to a request that passes Hawk."""

    async def endpoint(scope: Scope, body: bytes) -> Response:
        request = Request(scope)
        return await hawk_protected(
            incoming(scope, body),
            app_settings(request),
            hawk_nonces(request.app),
            partial(answer, request.app, body),
        )

    return endpoint


async def _store(app: FastAPI, payloads: Sequence[NewPayload]) -> Sequence[Ingest | Exception]:
    """The outcome of each licence of a batch; when the database cannot be reached, that error
    for all of them."""
    try:
        return await _stored_together(app, payloads)
    except DATABASE_UNREACHABLE:
        raise
    except Exception:
        if len(payloads) == 1:
            raise
    # Each again on its own: one licence's failure must not fail the others. (A row the failed
    # batch did commit answers as a repeat of itself.)
    return [await _outcome(_stored_together(app, [payload])) for payload in payloads]


async def _stored_together(app: FastAPI, payloads: Sequence[NewPayload]) -> list[Ingest]:
    async with route_connection(app) as connection:
        return await store_payloads_on(connection, payloads)


async def _outcome(storing: Awaitable[list[Ingest]]) -> Ingest | Exception:
    try:
        (outcome,) = await storing
    except Exception as exc:
        return exc
    return outcome


def _update_licence(store: StorePayload) -> Answer:
    async def answer(app: FastAPI, body: bytes) -> Response:
        return await answer_update_licence(body, store)

    return answer


async def _check_connection(app: FastAPI, body: bytes) -> Response:
    return answer_check_connection(body)


def add_icms_direct_routes(app: ServiceApp, icms_routes: APIRouter) -> None:
    """Answer POSTs to the ICMS routes (`icms_router()`, included in `app`) before FastAPI's
    routing (see the module docstring)."""
    # One INSERT at a time per process: the licences arriving meanwhile wait for the next one.
    store: Coalesced[NewPayload, Ingest] = Coalesced(partial(_store, app))
    answers = {
        UPDATE_LICENCE_PATH: _update_licence(store),
        CHECK_CONNECTION_PATH: _check_connection,
    }
    for route in icms_routes.routes:
        if isinstance(route, APIRoute) and route.path in answers:
            app.add_direct_route(route, _hawk_endpoint(answers[route.path]), methods=["POST"])
