"""OpenID Connect client: discovery, the authorization-code exchange and ID-token checks.

authlib builds the authorization URL and the token request (PKCE included); joserfc verifies the
RS256 signature against the issuer's JWKS. Works against Google or any compliant stand-in.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

TIMEOUT_SECONDS = 10.0
LEEWAY_SECONDS = 60


# What a provider that cannot be reached raises: httpx's transport errors are not OSErrors.
UNREACHABLE = (OSError, httpx.TransportError)


class SignInError(Exception):
    """The identity provider's answer cannot be trusted; the message says why."""


@dataclass(frozen=True, slots=True)
class Provider:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


@dataclass(frozen=True, slots=True)
class Identity:
    email: str
    name: str | None
    hosted_domain: str | None


async def discover(issuer_url: str) -> Provider:
    url = issuer_url.rstrip("/") + "/.well-known/openid-configuration"
    async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as client:
        response = await client.get(url)
    if response.status_code != 200:
        raise SignInError(f"discovery answered {response.status_code}")
    document = response.json()
    try:
        return Provider(
            issuer=document["issuer"],
            authorization_endpoint=document["authorization_endpoint"],
            token_endpoint=document["token_endpoint"],
            jwks_uri=document["jwks_uri"],
        )
    except KeyError as missing:
        raise SignInError(f"discovery document lacks {missing}") from None


def authorization_url(
    provider: Provider,
    *,
    client_id: str,
    redirect_uri: str,
    state: str,
    nonce: str,
    code_verifier: str,
    hosted_domain: str,
    login_hint: str | None = None,
) -> str:
    # Google preselects that account; the stand-in signs in as it.
    hint = {"login_hint": login_hint} if login_hint else {}
    url: str = prepare_grant_uri(
        provider.authorization_endpoint,
        client_id,
        "code",
        redirect_uri=redirect_uri,
        scope="openid email profile",
        state=state,
        nonce=nonce,
        code_challenge=create_s256_code_challenge(code_verifier),
        code_challenge_method="S256",
        hd=hosted_domain,  # Google's account-chooser hint; the ID token is still checked
        **hint,
    )
    return url


async def exchange_code(
    provider: Provider,
    *,
    code: str,
    client_id: str,
    client_secret: str,
    redirect_uri: str,
    code_verifier: str,
) -> str:
    """The ID token the token endpoint returns for an authorization code."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "client_id": client_id,
        "client_secret": client_secret,
        "code_verifier": code_verifier,
    }
    async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as client:
        response = await client.post(provider.token_endpoint, data=form)
    if response.status_code != 200:
        raise SignInError(f"token endpoint answered {response.status_code}")
    id_token = response.json().get("id_token")
    if not isinstance(id_token, str):
        raise SignInError("token endpoint sent no id_token")
    return id_token


async def verify_id_token(
    provider: Provider, id_token: str, *, client_id: str, nonce: str
) -> Identity:
    async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as client:
        response = await client.get(provider.jwks_uri)
    if response.status_code != 200:
        raise SignInError(f"JWKS answered {response.status_code}")
    try:
        keys = KeySet.import_key_set(response.json())
        claims: dict[str, Any] = jwt.decode(id_token, keys, algorithms=["RS256"]).claims
    except (JoseError, ValueError) as exc:
        raise SignInError(f"ID token signature: {exc}") from None
    _check_claims(claims, issuer=provider.issuer, client_id=client_id, nonce=nonce)
    return Identity(
        email=str(claims["email"]).lower(), name=claims.get("name"), hosted_domain=claims.get("hd")
    )


def _check_claims(claims: dict[str, Any], *, issuer: str, client_id: str, nonce: str) -> None:
    now = time.time()
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    problems = {
        "issuer": claims.get("iss") != issuer,
        "audience": client_id not in audiences,
        "expiry": not isinstance(claims.get("exp"), int | float)
        or claims["exp"] < now - LEEWAY_SECONDS,
        "nonce": claims.get("nonce") != nonce,
        "email": not isinstance(claims.get("email"), str),
        "email_verified": claims.get("email_verified") is not True,
    }
    failed = [name for name, bad in problems.items() if bad]
    if failed:
        raise SignInError(f"ID token claims rejected: {', '.join(failed)}")
