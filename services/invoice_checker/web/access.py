"""/admin/people (can_manage_access): people with their groups and status; grant or revoke a
group, deactivate or reactivate a person, revoke their API tokens. Each form calls the access
API's own route function, so the page refuses what the API refuses (your own lock-out is a 409)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import Form, Query, Request
from fastapi.routing import APIRouter
from starlette.responses import Response

from invoice_checker.api import access as access_api
from invoice_checker.api.auth import TokenId
from invoice_checker.api.permissions import CanManageAccess
from invoice_checker.domain.permissions import GROUPS
from invoice_checker.store import access
from invoice_checker.web.rendering import done_redirect, render
from invoice_checker.web.security import CsrfChecked
from service_kit.request_session import SessionDep

router = APIRouter(include_in_schema=False)

PersonEmail = Annotated[str, Form(max_length=255)]


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


@router.post("/admin/people/groups/{change}", dependencies=[CsrfChecked])
async def change_group(
    request: Request,
    session: SessionDep,
    principal: CanManageAccess,
    change: Literal["grant", "revoke"],
    email: PersonEmail,
    group: Annotated[str, Form(max_length=50)],
) -> Response:
    """Add a person to a group or take them out (the API's PUT and DELETE of the group)."""
    if change == "grant":
        user = await access_api.grant_group(email, group, request, session, principal)
        return done_redirect("/admin/people", f"{user.email} is in {group}.")
    user = await access_api.revoke_group(email, group, request, session, principal)
    return done_redirect("/admin/people", f"{user.email} is no longer in {group}.")


@router.post("/admin/people/deactivate", dependencies=[CsrfChecked])
async def deactivate(
    request: Request, session: SessionDep, principal: CanManageAccess, email: PersonEmail
) -> Response:
    user = await access_api.deactivate_user(email, request, session, principal)
    return done_redirect(
        "/admin/people",
        f"{user.email} is deactivated; {user.ended_credentials} sessions and tokens ended.",
    )


@router.post("/admin/people/reactivate", dependencies=[CsrfChecked])
async def reactivate(
    request: Request, session: SessionDep, principal: CanManageAccess, email: PersonEmail
) -> Response:
    user = await access_api.reactivate_user(email, request, session, principal)
    return done_redirect("/admin/people", f"{user.email} may sign in again.")


@router.post("/admin/tokens/{token_id}/revoke", dependencies=[CsrfChecked])
async def revoke_token(
    token_id: TokenId, request: Request, session: SessionDep, principal: CanManageAccess
) -> Response:
    await access_api.revoke_any_token(token_id, request, session, principal)
    return done_redirect("/admin/people", f"Token #{token_id} is revoked.")
