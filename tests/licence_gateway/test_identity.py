"""Tokens for XOAUTH2: the real msal client-credentials flow against the identity simulator."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from licence_gateway.adapters.identity import (
    IdentityError,
    IdentityUnavailableError,
    MsalTokenProvider,
    StaticTokenProvider,
    token_provider_from_settings,
)
from licence_gateway.settings import LicenceGatewaySettings, NotConfiguredError
from tests.licence_gateway.mail_fixtures import (
    CLIENT_ID,
    CLIENT_SECRET,
    MAIL_SCOPE,
    MAILBOX_USER,
    TENANT_ID,
    IdentityService,
)
from tests.support.infra import free_port


def provider(identity: IdentityService, **changes: str) -> MsalTokenProvider:
    options: dict[str, Any] = {
        "tenant_id": TENANT_ID,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "scope": MAIL_SCOPE,
        "authority_host": identity.authority_host,
        "ca_file": identity.ca_file,
    }
    return MsalTokenProvider(**{**options, **changes})


async def test_msal_gets_a_full_size_token_and_reuses_it_until_expiry(
    msal_tokens: MsalTokenProvider, identity_service: IdentityService
) -> None:
    issued_before = len(identity_service.directory.tokens)

    token = await msal_tokens.access_token()
    again = await msal_tokens.access_token()

    assert len(token) == 1800  # as long as a real Entra JWT: what breaks small line limits
    assert again == token
    assert len(identity_service.directory.tokens) == issued_before + 1  # second from msal's cache
    assert identity_service.directory.introspect(token)["username"] == MAILBOX_USER


async def test_a_wrong_secret_is_a_permanent_error_naming_the_cause(
    identity_service: IdentityService,
) -> None:
    with pytest.raises(IdentityError) as raised:
        await provider(identity_service, client_secret="wrong").access_token()

    assert not raised.value.transient
    assert raised.value.error == "invalid_client"
    assert "AADSTS7000215" in str(raised.value)


async def test_an_unknown_tenant_is_reported_not_crashed(identity_service: IdentityService) -> None:
    with pytest.raises(IdentityError, match="authority configuration"):
        await provider(identity_service, tenant_id="no-such-tenant").access_token()


async def test_a_platform_outage_is_transient(identity_service: IdentityService) -> None:
    identity_service.directory.unavailable = True
    try:
        with pytest.raises(IdentityUnavailableError) as raised:
            await provider(identity_service).access_token()
    finally:
        identity_service.directory.unavailable = False
    assert raised.value.transient
    assert "503" in str(raised.value)


async def test_an_unreachable_platform_is_transient(identity_service: IdentityService) -> None:
    closed = f"https://127.0.0.1:{free_port()}"
    with pytest.raises(IdentityUnavailableError, match=r"unreachable|misbehaved"):
        await provider(identity_service, authority_host=closed).access_token()


async def test_the_platform_certificate_is_checked(identity_service: IdentityService) -> None:
    # No CA file: the self-signed simulator must not be trusted.
    with pytest.raises(IdentityUnavailableError, match="CERTIFICATE_VERIFY_FAILED"):
        await provider(identity_service, ca_file="").access_token()


async def test_introspection_answers_as_mail_servers_expect(
    msal_tokens: MsalTokenProvider, identity_service: IdentityService
) -> None:
    token = await msal_tokens.access_token()
    async with httpx.AsyncClient(verify=False) as http:  # noqa: S501 (local self-signed server)
        by_header = await http.get(
            identity_service.introspection_url, headers={"Authorization": f"Bearer {token}"}
        )
        by_form = await http.post(identity_service.introspection_url, data={"token": token})
        unknown = await http.get(
            identity_service.introspection_url, headers={"Authorization": "Bearer nope"}
        )

    assert by_header.json()["active"] is True
    assert by_header.json()["username"] == MAILBOX_USER
    assert by_form.json() == by_header.json()
    assert unknown.json() == {"active": False}


async def test_static_provider_hands_out_its_token() -> None:
    assert await StaticTokenProvider("abc").access_token() == "abc"


def test_settings_without_azure_credentials_say_what_to_set(
    lg_settings: LicenceGatewaySettings,
) -> None:
    with pytest.raises(NotConfiguredError) as raised:
        token_provider_from_settings(lg_settings)
    assert str(raised.value) == (
        "Microsoft identity (XOAUTH2) is not configured: set LICENCE_GATEWAY_AZURE_TENANT_ID,"
        " LICENCE_GATEWAY_AZURE_CLIENT_ID, LICENCE_GATEWAY_AZURE_CLIENT_SECRET"
    )


async def test_settings_configure_the_msal_provider(
    lg_settings: LicenceGatewaySettings, identity_service: IdentityService
) -> None:
    settings = lg_settings.model_copy(
        update={
            "azure_tenant_id": TENANT_ID,
            "azure_client_id": CLIENT_ID,
            "azure_client_secret": SecretStr(CLIENT_SECRET),
            "azure_authority_host": identity_service.authority_host,
            "tls_ca_file": identity_service.ca_file,
        }
    )
    token = await token_provider_from_settings(settings).access_token()
    assert identity_service.directory.introspect(token)["active"] is True
