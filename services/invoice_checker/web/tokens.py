"""/you/tokens: my personal API tokens: create one (its secret is shown once), list, revoke."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Form, Query, Request
from fastapi.routing import APIRouter
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from invoice_checker.api import auth
from invoice_checker.api.permissions import CurrentPrincipal
from invoice_checker.domain.permissions import Principal
from invoice_checker.store.auth import DEFAULT_TOKEN_DAYS, MAX_TOKEN_DAYS
from invoice_checker.web.rendering import render
from invoice_checker.web.security import CsrfChecked
from service_kit.db import SessionDep
from service_kit.errors import Problem

router = APIRouter(include_in_schema=False)


async def _page(
    request: Request,
    session: SessionDep,
    principal: Principal,
    *,
    created: auth.NewToken | None = None,
    revoked: int | None = None,
    status_code: int = 200,
) -> Response:
    response = render(
        request,
        "tokens.html",
        principal,
        status_code=status_code,
        tokens=await auth.list_tokens(session, principal),
        created=created,
        revoked=revoked,
        now=datetime.now(UTC),
        default_days=DEFAULT_TOKEN_DAYS,
        max_days=MAX_TOKEN_DAYS,
    )
    # The page may carry a secret shown once: no cache keeps a copy of it.
    response.headers["cache-control"] = "no-store"
    return response


@router.get("/you/tokens")
async def token_list(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    revoked: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    return await _page(request, session, principal, revoked=revoked)


@router.post("/you/tokens", dependencies=[CsrfChecked])
async def create_one(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    name: Annotated[str, Form(max_length=200)] = "",
    expires_in_days: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Answers the page itself (no redirect), so the secret never sits in a URL or history."""
    fields = {"name": name.strip()}
    if expires_in_days.strip():
        fields["expires_in_days"] = expires_in_days.strip()
    try:
        body = auth.TokenRequest.model_validate(fields)
    except ValidationError as exc:
        reasons = "; ".join(f"{e['loc'][-1]}: {e['msg']}" for e in exc.errors())
        raise Problem(422, f"The token cannot be made: {reasons}") from None
    created = await auth.create_token(body, request, session, principal)
    return await _page(request, session, principal, created=created, status_code=201)


@router.post("/you/tokens/{token_id}/revoke", dependencies=[CsrfChecked])
async def revoke_one(
    token_id: auth.TokenId, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    await auth.delete_token(token_id, request, session, principal)
    return RedirectResponse(f"/you/tokens?revoked={token_id}", status_code=303)
