"""A stand-in for Microsoft identity (Entra ID): the client-credentials token endpoint and the
OpenID discovery document msal reads first, plus a token introspection endpoint (RFC 7662 style)
that mail servers use to check a bearer token: Dovecot's oauth2 passdb and the HMRC simulator.

msal insists on https, so serve it with TLS and give clients the certificate as their CA.
Tokens are opaque random strings as long as real Entra JWTs (~1.8 KB), which is what trips
small command-line limits in mail servers.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

TOKEN_LIFETIME_SECONDS = 3599
BEARER = "Bearer"  # the OAuth token_type of every token issued


@dataclass(frozen=True)
class AppRegistration:
    """An app allowed to get tokens, and the mailbox its tokens may log in to."""

    client_id: str
    client_secret: str
    mailbox: str


@dataclass(frozen=True)
class IssuedToken:
    client_id: str
    mailbox: str
    scope: str
    expires_at: float


@dataclass
class IdentityDirectory:
    """Registered apps and the tokens issued to them."""

    tenant_id: str
    apps: dict[str, AppRegistration] = field(default_factory=dict)
    tokens: dict[str, IssuedToken] = field(default_factory=dict)
    token_length: int = 1800
    unavailable: bool = False  # answer 503 temporarily_unavailable, to test retries

    def register(self, client_id: str, client_secret: str, mailbox: str) -> AppRegistration:
        app = AppRegistration(client_id, client_secret, mailbox)
        self.apps[client_id] = app
        return app

    def issue(self, app: AppRegistration, scope: str) -> str:
        token = secrets.token_urlsafe(self.token_length)[: self.token_length]
        expires_at = time.time() + TOKEN_LIFETIME_SECONDS
        self.tokens[token] = IssuedToken(app.client_id, app.mailbox, scope, expires_at)
        return token

    def introspect(self, token: str) -> dict[str, Any]:
        issued = self.tokens.get(token)
        if issued is None or issued.expires_at < time.time():
            return {"active": False}
        return {
            "active": True,
            "username": issued.mailbox,
            "client_id": issued.client_id,
            "scope": issued.scope,
            "exp": int(issued.expires_at),
            "token_type": BEARER,
        }


def _oauth_error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def create_app(directory: IdentityDirectory) -> Starlette:
    def base_url(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    def known_tenant(request: Request) -> bool:
        return bool(request.path_params["tenant"] == directory.tenant_id)

    async def openid_configuration(request: Request) -> JSONResponse:
        if not known_tenant(request):
            return _oauth_error(400, "invalid_tenant", "AADSTS90002: Tenant not found.")
        tenant = f"{base_url(request)}/{directory.tenant_id}"
        return JSONResponse(
            {
                "issuer": f"{tenant}/v2.0",
                "authorization_endpoint": f"{tenant}/oauth2/v2.0/authorize",
                "token_endpoint": f"{tenant}/oauth2/v2.0/token",
                "introspection_endpoint": f"{base_url(request)}/introspect",
                "grant_types_supported": ["client_credentials"],
                "token_endpoint_auth_methods_supported": ["client_secret_post"],
                "response_types_supported": ["code"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
            }
        )

    async def token(request: Request) -> JSONResponse:
        if directory.unavailable:
            return _oauth_error(503, "temporarily_unavailable", "AADSTS90033: try again later.")
        if not known_tenant(request):
            return _oauth_error(400, "invalid_request", "AADSTS90002: Tenant not found.")
        form = {key: values[0] for key, values in parse_qs((await request.body()).decode()).items()}
        if form.get("grant_type") != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type", "Only client_credentials here.")
        app = directory.apps.get(form.get("client_id", ""))
        if app is None:
            return _oauth_error(400, "unauthorized_client", "AADSTS700016: Application not found.")
        if not secrets.compare_digest(form.get("client_secret", ""), app.client_secret):
            return _oauth_error(401, "invalid_client", "AADSTS7000215: Invalid client secret.")
        scope = form.get("scope", "")
        if not scope.endswith("/.default"):
            return _oauth_error(400, "invalid_scope", "AADSTS1002012: Use a /.default scope.")
        return JSONResponse(
            {
                "token_type": BEARER,
                "expires_in": TOKEN_LIFETIME_SECONDS,
                "ext_expires_in": TOKEN_LIFETIME_SECONDS,
                "access_token": directory.issue(app, scope),
            }
        )

    async def introspect(request: Request) -> JSONResponse:
        """GET with `Authorization: Bearer <token>` (Dovecot's mode), or POST a `token=` form."""
        if request.method == "POST":
            form = parse_qs((await request.body()).decode())
            candidate = form.get("token", [""])[0]
        else:
            candidate = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        return JSONResponse(directory.introspect(candidate))

    async def index(request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "simulator": "microsoft-identity",
                "tenant": directory.tenant_id,
                "apps": sorted(directory.apps),
                "tokens_issued": len(directory.tokens),
            }
        )

    return Starlette(
        routes=[
            Route("/", index),
            Route("/{tenant}/v2.0/.well-known/openid-configuration", openid_configuration),
            Route("/{tenant}/oauth2/v2.0/token", token, methods=["POST"]),
            Route("/introspect", introspect, methods=["GET", "POST"]),
        ]
    )
