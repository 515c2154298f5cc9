"""/admin/people (can_manage_access): people with their groups and status; grant or revoke a
group, deactivate or reactivate a person, revoke their API tokens. Each form calls the access
API's own route function, so the page refuses what the API refuses (your own lock-out is a 409)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Form, Query, Request
from fastapi.routing import APIRouter
from starlette.responses import RedirectResponse, Response

from invoice_checker.api import access as access_api
from invoice_checker.api.auth import TokenId
from invoice_checker.api.permissions import CanManageAccess
from invoice_checker.domain.permissions import GROUPS
from invoice_checker.store import access
from invoice_checker.web.rendering import render
from invoice_checker.web.security import CsrfChecked
from service_kit.db import SessionDep

router = APIRouter(include_in_schema=False)

PersonEmail = Annotated[str, Form(max_length=255)]


def _back(done: str) -> Response:
    return RedirectResponse("/admin/people?" + urlencode({"done": done}), status_code=303)


@router.get("/admin/people")
async def people(
    request: Request,
    session: SessionDep,
    principal: CanManageAccess,
    done: Annotated[str | None, Query(max_length=300)] = None,
) -> Response:
    now = datetime.now(UTC)
    live_tokens = defaultdict(list)
    for row in await access.tokens(session):
        token = row.credential
        if token.revoked_at is None and (token.expires_at is None or token.expires_at > now):
            live_tokens[row.email].append(token)
    return render(
        request,
        "admin_people.html",
        principal,
        users=await access.list_users(session),
        tokens=live_tokens,
        groups=sorted(GROUPS),
        done=done,
    )


@router.post("/admin/people/grant", dependencies=[CsrfChecked])
async def grant(
    request: Request,
    session: SessionDep,
    principal: CanManageAccess,
    email: PersonEmail,
    group: Annotated[str, Form(max_length=50)],
) -> Response:
    user = await access_api.grant_group(email, group, request, session, principal)
    return _back(f"{user.email} is in {group}.")


@router.post("/admin/people/revoke-group", dependencies=[CsrfChecked])
async def revoke_group(
    request: Request,
    session: SessionDep,
    principal: CanManageAccess,
    email: PersonEmail,
    group: Annotated[str, Form(max_length=50)],
) -> Response:
    user = await access_api.revoke_group(email, group, request, session, principal)
    return _back(f"{user.email} is no longer in {group}.")


@router.post("/admin/people/deactivate", dependencies=[CsrfChecked])
async def deactivate(
    request: Request, session: SessionDep, principal: CanManageAccess, email: PersonEmail
) -> Response:
    user = await access_api.deactivate_user(email, request, session, principal)
    return _back(
        f"{user.email} is deactivated; {user.ended_credentials} sessions and tokens ended."
    )


@router.post("/admin/people/reactivate", dependencies=[CsrfChecked])
async def reactivate(
    request: Request, session: SessionDep, principal: CanManageAccess, email: PersonEmail
) -> Response:
    user = await access_api.reactivate_user(email, request, session, principal)
    return _back(f"{user.email} may sign in again.")


@router.post("/admin/tokens/{token_id}/revoke", dependencies=[CsrfChecked])
async def revoke_token(
    token_id: TokenId, request: Request, session: SessionDep, principal: CanManageAccess
) -> Response:
    await access_api.revoke_any_token(token_id, request, session, principal)
    return _back(f"Token #{token_id} is revoked.")
