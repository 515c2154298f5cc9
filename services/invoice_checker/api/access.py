"""Access administration (can_manage_access): people, their groups, deactivation, anyone's
API tokens. The same operations as `invoice-checker user ...` (store.access)."""

from __future__ import annotations

from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, Field

from invoice_checker.api.auth import TokenId, TokenOut
from invoice_checker.api.permissions import CanManageAccess, forget_sign_ins_after_commit
from invoice_checker.domain.permissions import GROUPS, Permission, Principal, permissions_of
from invoice_checker.store import access
from invoice_checker.store.auth import AuthUser
from service_kit.errors import Problem, not_found
from service_kit.request_session import SessionDep

router = APIRouter(prefix="/api/v1/access", tags=["access"])

Email = Annotated[str, Path(max_length=255, examples=["pat.lead@example.com"])]
Group = Annotated[str, Path(max_length=50, examples=["team-lead"])]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such person, group or token"}
}


class UserOut(BaseModel):
    email: str
    name: str | None
    groups: list[str]
    permissions: list[str]
    active: bool
    created_at: datetime
    last_login_at: datetime | None

    @classmethod
    def of(cls, user: AuthUser) -> UserOut:
        return cls(
            email=user.email,
            name=user.name,
            groups=list(user.groups),
            permissions=sorted(p.value for p in permissions_of(user.groups)),
            active=user.active,
            created_at=user.created_at,
            last_login_at=user.last_login_at,
        )


class OwnedTokenOut(TokenOut):
    email: str = Field(description="Whose token it is")


class UserDetail(UserOut):
    tokens: list[OwnedTokenOut]


class Deactivated(UserOut):
    ended_credentials: int = Field(description="Sessions and tokens that were live and ended now")


class GroupOut(BaseModel):
    name: str
    permissions: list[str]
    members: list[str] = Field(description="E-mails of the active members")


@contextmanager
def _found() -> Iterator[None]:
    """store.access's "no such ..." as a 404 problem."""
    try:
        yield
    except access.AccessError as exc:
        raise not_found(str(exc).removeprefix("no ")) from None


def _is_self(email: str, principal: Principal) -> bool:
    return email.strip().lower() == principal.email


def _owned(row: access.TokenRow) -> OwnedTokenOut:
    token = TokenOut.model_validate(row.credential, from_attributes=True)
    return OwnedTokenOut(**token.model_dump(), email=row.email)


async def _changed_user(
    request: Request, session: SessionDep, change: Awaitable[AuthUser]
) -> UserOut:
    """Await a store.access change of one person; answer the person as now."""
    with _found():
        user = await change
    forget_sign_ins_after_commit(request, session)
    return UserOut.of(user)


@router.get("/users", summary="Everyone who has signed in or holds a token")
async def list_users(session: SessionDep, _: CanManageAccess) -> list[UserOut]:
    return [UserOut.of(user) for user in await access.list_users(session)]


@router.get("/users/{email}", summary="A person, their groups and API tokens", responses=NOT_FOUND)
async def show_user(email: Email, session: SessionDep, _: CanManageAccess) -> UserDetail:
    with _found():
        user = await access.user_by_email(session, email)
        tokens = await access.tokens(session, email)
    return UserDetail(**UserOut.of(user).model_dump(), tokens=[_owned(t) for t in tokens])


@router.put("/users/{email}/groups/{group}", summary="Add a person to a group", responses=NOT_FOUND)
async def grant_group(
    email: Email, group: Group, request: Request, session: SessionDep, _: CanManageAccess
) -> UserOut:
    return await _changed_user(request, session, access.grant(session, email, group))


@router.delete(
    "/users/{email}/groups/{group}",
    summary="Take a person out of a group",
    responses={**NOT_FOUND, 409: {"description": "You cannot lock yourself out"}},
)
async def revoke_group(
    email: Email, group: Group, request: Request, session: SessionDep, principal: CanManageAccess
) -> UserOut:
    if _is_self(email, principal) and Permission.MANAGE_ACCESS in GROUPS.get(group, ()):
        raise Problem(
            409,
            f"Leaving {group} would take away your own {Permission.MANAGE_ACCESS}; "
            "another admin must do it.",
            type_="urn:problem:conflict",
        )
    return await _changed_user(request, session, access.revoke_group(session, email, group))


@router.post(
    "/users/{email}/deactivate",
    summary="Stop a person signing in; end every session and token of theirs now",
    responses={**NOT_FOUND, 409: {"description": "You cannot deactivate yourself"}},
)
async def deactivate_user(
    email: Email, request: Request, session: SessionDep, principal: CanManageAccess
) -> Deactivated:
    if _is_self(email, principal):
        raise Problem(409, "You cannot deactivate yourself.", type_="urn:problem:conflict")
    with _found():
        user, ended = await access.deactivate(session, email)
    forget_sign_ins_after_commit(request, session)
    return Deactivated(**UserOut.of(user).model_dump(), ended_credentials=ended)


@router.post("/users/{email}/reactivate", summary="Let a person sign in again", responses=NOT_FOUND)
async def reactivate_user(
    email: Email, request: Request, session: SessionDep, _: CanManageAccess
) -> UserOut:
    return await _changed_user(request, session, access.reactivate(session, email))


@router.get("/groups", summary="The groups, what each may do, and who is in them")
async def list_groups(session: SessionDep, _: CanManageAccess) -> list[GroupOut]:
    users = [user for user in await access.list_users(session) if user.active]
    return [
        GroupOut(
            name=name,
            permissions=sorted(p.value for p in permissions),
            members=[user.email for user in users if name in user.groups],
        )
        for name, permissions in sorted(GROUPS.items())
    ]


@router.get("/tokens", summary="Everyone's API tokens (or one person's), newest first")
async def list_all_tokens(
    session: SessionDep,
    _: CanManageAccess,
    email: Annotated[str | None, Query(max_length=255, description="Only this person's")] = None,
) -> list[OwnedTokenOut]:
    with _found():
        return [_owned(row) for row in await access.tokens(session, email)]


@router.delete(
    "/tokens/{token_id}",
    summary="Revoke anyone's API token",
    status_code=204,
    responses=NOT_FOUND,
)
async def revoke_any_token(
    token_id: TokenId, request: Request, session: SessionDep, _: CanManageAccess
) -> Response:
    with _found():
        await access.revoke_token(session, token_id)
    forget_sign_ins_after_commit(request, session)
    return Response(status_code=204)
