"""/you/tokens: my personal API tokens: create one (its secret is shown once), list, revoke.
The page calls the API's own handlers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from invoice_checker.api import auth
from invoice_checker.api.permissions import CurrentPrincipal
from invoice_checker.store.auth import DEFAULT_TOKEN_DAYS, MAX_TOKEN_DAYS
from invoice_checker.web.rendering import render
from invoice_checker.web.security import CsrfChecked
from service_kit.request_session import SessionDep

router = APIRouter(include_in_schema=False)


async def _page(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    created: auth.NewToken | None = None,
) -> Response:
    tokens = await auth.list_tokens(session, principal)
    return render(
        request,
        "tokens.html",
        principal,
        tokens=tokens,
        created=created,
        max_days=MAX_TOKEN_DAYS,
        default_days=DEFAULT_TOKEN_DAYS,
    )


@router.get("/you/tokens")
async def my_tokens(request: Request, session: SessionDep, principal: CurrentPrincipal) -> Response:
    return await _page(request, session, principal)


@router.post("/you/tokens", dependencies=[CsrfChecked])
async def create_my_token(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    name: Annotated[str, Form(min_length=1, max_length=100)],
    expires_in_days: Annotated[int, Form(ge=1, le=MAX_TOKEN_DAYS)] = DEFAULT_TOKEN_DAYS,
) -> Response:
    created = await auth.create_token(
        auth.TokenRequest(name=name, expires_in_days=expires_in_days), request, session, principal
    )
    # The secret is in this answer only; it is never stored nor shown again.
    return await _page(request, session, principal, created=created)


@router.post("/you/tokens/{token_id}/revoke", dependencies=[CsrfChecked])
async def revoke_my_token(
    token_id: int, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    await auth.delete_token(token_id, request, session, principal)
    return RedirectResponse("/you/tokens?revoked=1", status_code=303)
