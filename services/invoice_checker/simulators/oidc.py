"""A local OpenID Connect provider standing in for Google in tests and the demo.

Speaks the real protocol: discovery, JWKS, an authorization endpoint that signs the browser in
immediately (as `login_hint`, else the default e-mail) and redirects back with a code, and a
token endpoint that checks the client secret, the redirect URI and PKCE before issuing an
RS256-signed ID token carrying email, email_verified, hd and the nonce.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

import uvicorn
from joserfc import jwt
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

ID_TOKEN_SECONDS = 3600
BEARER = "Bearer"  # the OAuth token_type of every token issued


@dataclass
class _Grant:
    client_id: str
    redirect_uri: str
    email: str
    nonce: str | None
    code_challenge: str | None


@dataclass
class OidcStandIn:
    """The provider's state; `app()` serves it. `issuer` must be the URL it is reached at."""

    issuer: str
    client_id: str
    client_secret: str
    default_email: str = "someone@example.com"
    key: RSAKey = field(
        default_factory=lambda: RSAKey.generate_key(
            2048, parameters={"kid": "stand-in", "use": "sig", "alg": "RS256"}
        )
    )
    grants: dict[str, _Grant] = field(default_factory=dict)
    issued: list[dict[str, Any]] = field(default_factory=list)  # claims, for tests to inspect
    # Claims every issued ID token gets, e.g. {"email_verified": False} for a refused sign-in.
    claim_overrides: dict[str, Any] = field(default_factory=dict)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self.discovery),
                Route("/jwks", self.jwks),
                Route("/authorize", self.authorize),
                Route("/token", self.token, methods=["POST"]),
            ]
        )

    async def discovery(self, request: Request) -> Response:
        return JSONResponse(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["openid", "email", "profile"],
                "code_challenge_methods_supported": ["S256"],
            }
        )

    async def jwks(self, request: Request) -> Response:
        return JSONResponse({"keys": [self.key.as_dict(private=False)]})

    async def authorize(self, request: Request) -> Response:
        query = request.query_params
        if query.get("response_type") != "code" or query.get("client_id") != self.client_id:
            return JSONResponse({"error": "unauthorized_client"}, status_code=400)
        redirect_uri = query.get("redirect_uri", "")
        code = secrets.token_urlsafe(24)
        self.grants[code] = _Grant(
            client_id=self.client_id,
            redirect_uri=redirect_uri,
            email=query.get("login_hint") or self.default_email,
            nonce=query.get("nonce"),
            code_challenge=query.get("code_challenge"),
        )
        back = {"code": code, "state": query.get("state", "")}
        return RedirectResponse(f"{redirect_uri}?{urlencode(back)}", status_code=302)

    async def token(self, request: Request) -> Response:
        # Token requests are application/x-www-form-urlencoded (RFC 6749 4.1.3).
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        grant = self.grants.pop(str(form.get("code", "")), None)
        if grant is None or form.get("grant_type") != "authorization_code":
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        client_ok = form.get("client_id") == self.client_id and secrets.compare_digest(
            str(form.get("client_secret", "")), self.client_secret
        )
        if not client_ok:
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        if form.get("redirect_uri") != grant.redirect_uri or not _pkce_ok(
            grant.code_challenge, str(form.get("code_verifier", ""))
        ):
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        return JSONResponse(
            {
                "access_token": secrets.token_urlsafe(24),
                "token_type": BEARER,
                "expires_in": ID_TOKEN_SECONDS,
                "id_token": self.id_token(grant.email, nonce=grant.nonce, **self.claim_overrides),
            }
        )

    def id_token(self, email: str, *, nonce: str | None, **overrides: Any) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.client_id,
            "sub": hashlib.sha256(email.encode()).hexdigest()[:21],
            "email": email,
            "email_verified": True,
            "hd": email.rpartition("@")[2],
            "name": email.partition("@")[0].replace(".", " ").title(),
            "iat": now,
            "exp": now + ID_TOKEN_SECONDS,
            "nonce": nonce,
            **overrides,
        }
        self.issued.append(claims)
        header = {"alg": "RS256", "kid": self.key.kid}
        return jwt.encode(header, {k: v for k, v in claims.items() if v is not None}, self.key)


def _pkce_ok(challenge: str | None, verifier: str) -> bool:
    if challenge is None:
        return True
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == challenge


@contextmanager
def serve_in_thread(
    *, client_id: str, client_secret: str, default_email: str = "someone@example.com"
) -> Iterator[OidcStandIn]:
    """Run a stand-in on a free 127.0.0.1 port in a background thread (for tests)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    issuer = f"http://127.0.0.1:{sock.getsockname()[1]}"
    provider = OidcStandIn(issuer, client_id, client_secret, default_email)
    server = uvicorn.Server(uvicorn.Config(provider.app(), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the OpenID Connect stand-in did not start")
        time.sleep(0.02)
    try:
        yield provider
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def run(*, host: str, port: int, client_id: str, client_secret: str, default_email: str) -> None:
    """Serve in the foreground (the `simulate oidc` command)."""
    provider = OidcStandIn(f"http://{host}:{port}", client_id, client_secret, default_email)
    uvicorn.run(provider.app(), host=host, port=port, log_level="info")
