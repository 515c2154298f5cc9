"""Who is calling, and may they: one `Annotated` dependency per permission, used on every route.

Scripts send `Authorization: Bearer <personal API token>`; browsers carry the session cookie set
at sign-in. A cookie-authenticated write must come from our own origin (CSRF guard).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoice_checker.api.deps import SettingsDep
from invoice_checker.domain.permissions import Permission, Principal
from invoice_checker.domain.scopes import Scope
from invoice_checker.settings import InvoiceCheckerSettings
from invoice_checker.store.access import access_changed, access_epoch
from invoice_checker.store.auth import CredentialKind, principal_for_secret
from service_kit.errors import Problem
from service_kit.queue import after_commit
from service_kit.request_session import ReadSessionmakerDep, route_read_sessionmaker
from service_kit.state import app_lifespan_state, get_redis

SESSION_COOKIE = "ic_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Declared as security schemes so /docs shows an "Authorize" button; they never fail themselves.
bearer_scheme = HTTPBearer(
    auto_error=False, description="A personal API token (`invoice-checker create-token`)."
)
cookie_scheme = APIKeyCookie(
    name=SESSION_COOKIE, auto_error=False, description="The browser session set at sign-in."
)


def _unauthenticated(detail: str) -> Problem:
    return Problem(
        401,
        detail,
        type_="urn:problem:unauthenticated",
        headers={"WWW-Authenticate": 'Bearer realm="invoice-checker"'},
    )


class PrincipalCache:
    """Who a credential belongs to, remembered for a few seconds per process: a busy list
    route then costs no credential query per request. Revoking in this process clears it; other
    processes see a revocation within `ttl` seconds."""

    def __init__(self, ttl: float = 5.0, max_size: int = 10_000) -> None:
        self.ttl = ttl
        self.max_size = max_size
        self._entries: dict[tuple[str, str], tuple[float, Principal]] = {}
        self.epoch: bytes | None = None  # the access epoch (store.access) the entries are of
        self.redis_down_until = 0.0  # monotonic time before which Redis is not asked again

    def get(self, kind: str, secret: str) -> Principal | None:
        found = self._entries.get((kind, secret))
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]

    def put(self, kind: str, secret: str, principal: Principal) -> None:
        if len(self._entries) >= self.max_size:
            self._entries.clear()
        self._entries[(kind, secret)] = (time.monotonic() + self.ttl, principal)

    def clear(self) -> None:
        self._entries.clear()


def principal_cache(request: Request) -> PrincipalCache:
    """The app's cache, made on first use (never at import)."""
    cache: PrincipalCache | None = getattr(request.app.state, "principal_cache", None)
    if cache is None:
        cache = request.app.state.principal_cache = PrincipalCache()
    return cache


def forget_sign_ins_after_commit(request: Request, session: AsyncSession) -> None:
    """Once `session` commits a change of access, empty this process's cache and make every
    other process re-check sign-ins on its next request."""
    after_commit(
        session, principal_cache(request).clear, partial(access_changed, get_redis(request))
    )


async def _fresh_cache(request: Request) -> PrincipalCache:
    """The cache, emptied when access was taken away anywhere since it was filled (another
    process, the CLI): a deactivated person's next request is refused."""
    cache = principal_cache(request)
    if cache.redis_down_until > time.monotonic():
        cache.clear()  # cannot tell: ask the database
        return cache
    try:
        epoch = await access_epoch(app_lifespan_state(request.app).kept_redis)
    except (RedisError, OSError):
        # Ask the database meanwhile, and Redis again only after a pause (no connect per call).
        cache.redis_down_until = time.monotonic() + cache.ttl
        cache.clear()
        return cache
    if epoch != cache.epoch:
        cache.clear()
        cache.epoch = epoch
    return cache


async def lookup_principal(
    request: Request,
    sessions: async_sessionmaker[AsyncSession],
    secret: str,
    kind: CredentialKind,
) -> Principal | None:
    cache = await _fresh_cache(request)
    principal = cache.get(kind, secret)
    if principal is None:
        # A session only when the cache misses: a remembered sign-in costs none.
        async with sessions() as session:
            principal = await principal_for_secret(session, secret, kind=kind)
        if principal is not None:
            cache.put(kind, secret, principal)
    return principal


def same_origin(request: Request) -> bool:
    # Host, not scheme: behind a TLS-terminating proxy the app itself sees plain http.
    origin = request.headers.get("origin") or request.headers.get("referer")
    return origin is not None and urlsplit(origin).netloc == request.headers.get("host")


async def current_principal(
    request: Request,
    sessions: ReadSessionmakerDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    cookie: Annotated[str | None, Depends(cookie_scheme)],
) -> Principal:
    if request.headers.get("authorization") and bearer is None:
        raise _unauthenticated("Use `Authorization: Bearer <token>`.")
    if bearer is not None:
        principal = await lookup_principal(request, sessions, bearer.credentials, "api")
    elif cookie:
        if request.method not in SAFE_METHODS and not same_origin(request):
            raise Problem(
                403,
                "A cookie-authenticated write must come from this site (Origin header).",
                type_="urn:problem:cross-site",
            )
        principal = await lookup_principal(request, sessions, cookie, "session")
    else:
        raise _unauthenticated("Sign in at /api/v1/auth/login or send a bearer token.")
    if principal is None:
        raise _unauthenticated("The token or session is unknown, expired or revoked.")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


async def direct_principal(request: Request) -> Principal:
    """`current_principal` for a route answered outside FastAPI's dependencies (a direct
    route): the same schemes read the credentials, the same sessions look them up."""
    return await current_principal(
        request,
        await route_read_sessionmaker(request.app),
        await bearer_scheme(request),
        await cookie_scheme(request),
    )


def require(permission: Permission) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that lets the call through only with `permission`."""

    async def check(principal: CurrentPrincipal) -> Principal:
        if not principal.can(permission):
            raise Problem(
                403,
                f"Your groups ({', '.join(principal.groups) or 'none'}) lack {permission}.",
                type_="urn:problem:forbidden",
                permission=permission.value,
            )
        return principal

    check.__name__ = f"require_{permission.value}"
    return check


view_invoices = require(Permission.VIEW_INVOICES)
CanViewInvoices = Annotated[Principal, Depends(view_invoices)]
CanCheckInvoices = Annotated[Principal, Depends(require(Permission.CHECK_INVOICES))]
CanSendInvoices = Annotated[Principal, Depends(require(Permission.SEND_INVOICES))]
CanEditFixedRows = Annotated[Principal, Depends(require(Permission.EDIT_FIXED_ROWS))]
CanViewDirectory = Annotated[Principal, Depends(require(Permission.VIEW_DIRECTORY))]
CanViewReports = Annotated[Principal, Depends(require(Permission.VIEW_REPORTS))]
CanRunSync = Annotated[Principal, Depends(require(Permission.RUN_SYNC))]
CanSendNotifications = Annotated[Principal, Depends(require(Permission.SEND_NOTIFICATIONS))]
CanSeeHoursOverview = Annotated[Principal, Depends(require(Permission.SEE_HOURS_OVERVIEW))]
CanSeeSickLeaves = Annotated[Principal, Depends(require(Permission.SEE_SICK_LEAVES))]
CanSeeFlexSaldos = Annotated[Principal, Depends(require(Permission.SEE_FLEX_SALDOS))]
CanManageAccess = Annotated[Principal, Depends(require(Permission.MANAGE_ACCESS))]


def sensitive_leave_types(settings: InvoiceCheckerSettings) -> tuple[str, ...]:
    names = settings.sensitive_leave_types
    return tuple(name.strip() for name in names.split(",") if name.strip())


async def current_scope(principal: CurrentPrincipal, settings: SettingsDep) -> Scope:
    """The rows the caller reaches (domain/scopes.py); every route reading rows takes it."""
    return Scope.of(principal, sensitive_leave_types(settings))


RowScope = Annotated[Scope, Depends(current_scope)]
