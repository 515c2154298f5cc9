"""What every page answer carries: security headers, and a CSRF token tied to the session.

The API's cookie writes are guarded by the Origin check alone; a page form also carries a token
derived from the session cookie (a signed HMAC), so a forged form from elsewhere fails both.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import Depends, Form, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from invoice_checker.api.deps import app_settings
from invoice_checker.api.permissions import SESSION_COOKIE, lookup_principal, same_origin
from invoice_checker.domain.permissions import Principal
from service_kit.errors import Problem
from service_kit.request_session import ReadSessionmakerDep

# Paths that are not pages: the JSON API, its docs (Swagger loads its own scripts), probes.
NOT_PAGES = ("/api/", "/docs", "/redoc", "/openapi.json", "/healthz", "/readyz", "/metrics")

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    )
)
HSTS = "max-age=31536000; includeSubDomains"


def is_page(path: str) -> bool:
    return not path.startswith(NOT_PAGES)


class SecurityHeaders:
    """Adds the page headers to every answer outside `NOT_PAGES` (static files included)."""

    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        headers = [
            (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"same-origin"),
            (b"x-content-type-options", b"nosniff"),
        ]
        if hsts:
            headers.append((b"strict-transport-security", HSTS.encode()))
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_page(scope["path"]):
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.headers]
            await send(message)

        await self.app(scope, receive, with_headers)


def csrf_token(request: Request) -> str:
    """The token a page's forms carry: an HMAC of the session cookie under the app's secret."""
    secret = app_settings(request).session_secret.get_secret_value()
    session = request.cookies.get(SESSION_COOKIE, "")
    return hmac.new(secret.encode(), f"csrf:{session}".encode(), hashlib.sha256).hexdigest()


async def check_csrf(
    request: Request, csrf_token_: Annotated[str, Form(alias="csrf_token")] = ""
) -> None:
    """A form post must come from this site (Origin) and carry this session's token."""
    if not request.cookies.get(SESSION_COOKIE):
        raise Problem(
            401, "Sign in, then submit the form again.", type_="urn:problem:unauthenticated"
        )
    if not same_origin(request) or not hmac.compare_digest(csrf_token_, csrf_token(request)):
        raise Problem(
            403,
            "This form is stale or came from another site. Go back, reload the page and "
            "submit it again.",
            type_="urn:problem:csrf",
        )


CsrfChecked = Depends(check_csrf)


async def optional_principal(request: Request, sessions: ReadSessionmakerDep) -> Principal | None:
    """Who the browser is signed in as, or None (pages that also serve signed-out people)."""
    secret = request.cookies.get(SESSION_COOKIE)
    return await lookup_principal(request, sessions, secret, "session") if secret else None


OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]
