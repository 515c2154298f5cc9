"""Sign-in with Google (OpenID Connect), sign-out, who am I, and personal API tokens."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import RedirectResponse
from itsdangerous import BadSignature, URLSafeTimedSerializer
from pydantic import BaseModel, Field

from invoice_checker.adapters import oidc
from invoice_checker.api.deps import app_settings
from invoice_checker.api.permissions import (
    SESSION_COOKIE,
    CurrentPrincipal,
    forget_sign_ins_after_commit,
)
from invoice_checker.domain.permissions import email_in_domain
from invoice_checker.settings import InvoiceCheckerSettings
from invoice_checker.store.auth import (
    DEFAULT_TOKEN_DAYS,
    MAX_TOKEN_DAYS,
    AuthUser,
    api_tokens_of,
    credential_id_of,
    ensure_user,
    issue_credential,
    revoke_credential,
    revoke_secret,
)
from service_kit.errors import Problem, not_configured
from service_kit.request_session import SessionDep
from service_kit.settings import NotConfiguredError, require_settings

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])

STATE_COOKIE = "ic_oidc"
STATE_MAX_AGE_SECONDS = 600
NEW_USER_GROUPS = ["employee"]


class Me(BaseModel):
    email: str = Field(examples=["anna.finance@example.com"])
    groups: list[str] = Field(examples=[["finance"]])
    permissions: list[str] = Field(examples=[["can_view_invoices", "can_send_invoices"]])


TokenId = Annotated[int, Path(ge=1, le=2**63 - 1)]


class TokenRequest(BaseModel):
    name: str = Field(min_length=1, max_length=100, examples=["monthly check script"])
    expires_in_days: int = Field(
        default=DEFAULT_TOKEN_DAYS, ge=1, le=MAX_TOKEN_DAYS, examples=[DEFAULT_TOKEN_DAYS]
    )


class TokenOut(BaseModel):
    id: int
    name: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class NewToken(TokenOut):
    token: str = Field(description="Shown once; send it as `Authorization: Bearer <token>`.")


def _settings(request: Request) -> InvoiceCheckerSettings:
    settings = app_settings(request)
    try:
        require_settings(
            settings, "Sign-in", "google_client_id", "allowed_domain", "session_secret"
        )
    except NotConfiguredError as exc:
        raise not_configured(exc, "urn:problem:sign-in-not-configured") from exc
    return settings


def _serializer(settings: InvoiceCheckerSettings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.session_secret.get_secret_value(), salt="oidc-state")


def safe_next(target: str, default: str = "/docs") -> str:
    """Only paths on this site: no scheme, no host, no `//evil` (open redirect)."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


async def _provider(request: Request, settings: InvoiceCheckerSettings) -> oidc.Provider:
    cached: oidc.Provider | None = getattr(request.app.state, "oidc_provider", None)
    if cached is None:
        try:
            cached = await oidc.discover(settings.oidc_issuer_url)
        except (oidc.SignInError, *oidc.UNREACHABLE) as exc:
            raise Problem(502, f"The identity provider is unreachable: {exc}") from None
        request.app.state.oidc_provider = cached
    return cached


@router.get(
    "/login",
    summary="Sign in with Google",
    status_code=302,
    response_class=RedirectResponse,
    responses={302: {"description": "To the identity provider's sign-in page"}},
)
async def login(
    request: Request,
    next: Annotated[str, Query(description="Where to go after")] = "/docs",
    login_hint: Annotated[
        str | None, Query(max_length=320, description="The account to sign in with (e-mail)")
    ] = None,
) -> RedirectResponse:
    settings = _settings(request)
    provider = await _provider(request, settings)
    state, nonce, verifier = (secrets.token_urlsafe(24) for _ in range(3))
    url = oidc.authorization_url(
        provider,
        client_id=settings.google_client_id,
        redirect_uri=str(request.url_for("callback")),
        state=state,
        nonce=nonce,
        code_verifier=verifier,
        hosted_domain=settings.allowed_domain,
        login_hint=login_hint,
    )
    response = RedirectResponse(url, status_code=302)
    payload = {"state": state, "nonce": nonce, "verifier": verifier, "next": safe_next(next)}
    response.set_cookie(
        STATE_COOKIE,
        _serializer(settings).dumps(payload),
        max_age=STATE_MAX_AGE_SECONDS,
        httponly=True,
        secure=settings.cookie_secure,
        samesite="lax",
        path="/api/v1/auth",
    )
    return response


@router.get(
    "/callback",
    summary="Where the identity provider sends the browser back",
    status_code=302,
    response_class=RedirectResponse,
    responses={
        302: {"description": "Signed in: session cookie set"},
        400: {"description": "Stale or forged sign-in attempt"},
        403: {"description": "Not an account of the allowed domain"},
    },
)
async def callback(
    request: Request, session: SessionDep, code: str = "", state: str = ""
) -> RedirectResponse:
    settings = _settings(request)
    try:
        saved: dict[str, Any] = _serializer(settings).loads(
            request.cookies.get(STATE_COOKIE, ""), max_age=STATE_MAX_AGE_SECONDS
        )
    except BadSignature:
        raise Problem(400, "The sign-in attempt expired; start again.") from None
    if not code or not secrets.compare_digest(state, saved["state"]):
        raise Problem(400, "The sign-in answer does not match this browser's attempt.")
    provider = await _provider(request, settings)
    try:
        id_token = await oidc.exchange_code(
            provider,
            code=code,
            client_id=settings.google_client_id,
            client_secret=settings.google_client_secret.get_secret_value(),
            redirect_uri=str(request.url_for("callback")),
            code_verifier=saved["verifier"],
        )
        identity = await oidc.verify_id_token(
            provider, id_token, client_id=settings.google_client_id, nonce=saved["nonce"]
        )
    except oidc.SignInError as exc:
        raise Problem(400, f"Sign-in failed: {exc}") from None
    except oidc.UNREACHABLE as exc:
        raise Problem(502, f"The identity provider is unreachable: {exc}") from None
    domain_ok = email_in_domain(identity.email, settings.allowed_domain)
    if not domain_ok or (identity.hosted_domain or "").lower() != settings.allowed_domain.lower():
        raise Problem(403, f"Only {settings.allowed_domain} accounts may sign in.")
    user = await ensure_user(session, identity.email, groups=None, name=identity.name)
    if not user.active:
        raise Problem(
            403, "Your access was withdrawn; ask an admin.", type_="urn:problem:forbidden"
        )
    if not user.groups:
        user.groups = list(NEW_USER_GROUPS)
    user.last_login_at = datetime.now().astimezone()
    _, secret = await issue_credential(
        session,
        user,
        kind="session",
        name="browser",
        lifetime=timedelta(hours=settings.session_hours),
    )
    response = RedirectResponse(saved["next"], status_code=302)
    response.delete_cookie(STATE_COOKIE, path="/api/v1/auth")
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=settings.session_hours * 3600,
        httponly=True,
        secure=settings.cookie_secure,
        samesite="lax",
    )
    return response


@router.post("/logout", summary="Sign out (ends the browser session)", status_code=204)
async def logout(request: Request, session: SessionDep, principal: CurrentPrincipal) -> Response:
    if secret := request.cookies.get(SESSION_COOKIE):
        await revoke_secret(session, secret)
        forget_sign_ins_after_commit(request, session)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/me", summary="Who you are signed in as, and what you may do")
async def me(principal: CurrentPrincipal) -> Me:
    return Me(
        email=principal.email,
        groups=list(principal.groups),
        permissions=sorted(p.value for p in principal.permissions),
    )


@router.get("/tokens", summary="Your personal API tokens (secrets are never shown again)")
async def list_tokens(session: SessionDep, principal: CurrentPrincipal) -> list[TokenOut]:
    tokens = await api_tokens_of(session, principal.user_id)
    return [TokenOut.model_validate(token, from_attributes=True) for token in tokens]


@router.post(
    "/tokens",
    summary="Create a personal API token for scripts (one made in the browser ends at sign-out)",
    status_code=201,
)
async def create_token(
    body: TokenRequest, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> NewToken:
    user = await session.get_one(AuthUser, principal.user_id)
    cookie = None if request.headers.get("authorization") else request.cookies.get(SESSION_COOKIE)
    credential, secret = await issue_credential(
        session,
        user,
        kind="api",
        name=body.name,
        lifetime=timedelta(days=body.expires_in_days),
        session_id=await credential_id_of(session, cookie) if cookie else None,
    )
    out = TokenOut.model_validate(credential, from_attributes=True)
    return NewToken(**out.model_dump(), token=secret)


@router.delete(
    "/tokens/{token_id}",
    summary="Revoke one of your API tokens",
    status_code=204,
    responses={404: {"description": "No such live token of yours"}},
)
async def delete_token(
    token_id: TokenId, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    if not await revoke_credential(session, credential_id=token_id, user_id=principal.user_id):
        raise Problem(404, "You have no live token with that id.")
    forget_sign_ins_after_commit(request, session)
    return Response(status_code=204)
