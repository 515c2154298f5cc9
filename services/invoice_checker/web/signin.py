"""/sign-in and /sign-out: the API's OpenID Connect flow as pages, sharing its session."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from starlette.responses import RedirectResponse, Response

from invoice_checker.api import auth
from invoice_checker.api.auth import safe_next
from invoice_checker.api.permissions import SESSION_COOKIE, CurrentPrincipal
from invoice_checker.web.rendering import render
from invoice_checker.web.security import CsrfChecked, OptionalPrincipal
from service_kit.request_session import SessionDep

router = APIRouter(include_in_schema=False)


@router.get("/sign-in")
async def sign_in(
    request: Request,
    principal: OptionalPrincipal,
    next: Annotated[str, Query(max_length=2000)] = "/",
    login_hint: Annotated[str | None, Query(max_length=320)] = None,
) -> Response:
    """A page with the Sign in link; with `login_hint` it goes straight to the provider (a
    person or a test choosing the account)."""
    target = safe_next(next, default="/")
    params = {"next": target, **({"login_hint": login_hint} if login_hint else {})}
    provider_url = "/api/v1/auth/login?" + urlencode(params)
    if login_hint:
        return RedirectResponse(provider_url, status_code=303)
    return render(request, "sign_in.html", principal, provider_url=provider_url, target=target)


@router.get("/sign-out")
async def sign_out_page(request: Request, principal: OptionalPrincipal) -> Response:
    if principal is None:
        return RedirectResponse("/sign-in", status_code=303)
    return render(request, "sign_out.html", principal)


@router.post("/sign-out", dependencies=[CsrfChecked])
async def sign_out(request: Request, session: SessionDep, principal: CurrentPrincipal) -> Response:
    """The API's logout (it ends the session and whatever else sign-out ends), as a page."""
    await auth.logout(request, session, principal)
    response = render(request, "signed_out.html", None)
    response.delete_cookie(SESSION_COOKIE)
    return response
