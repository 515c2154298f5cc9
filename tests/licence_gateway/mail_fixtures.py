"""Fixtures for tests that need real mail servers and Microsoft identity: import them by name.

- `local_certificate`: one self-signed certificate for 127.0.0.1 (session).
- `identity_service`: the Microsoft identity simulator over https, one app registered whose tokens
  may log in to MAILBOX_USER (session).
- `dovecot`: Dovecot POP3 (STLS and POP3S) with USER/PASS (POP3_PASSWORD) and XOAUTH2 checked
  against the identity simulator (session); `hmrc_mailbox` empties MAILBOX_USER's box first.
- `msal_tokens`: a TokenProvider running the real msal flow against the simulator.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from devtools.serving import BackgroundServer
from devtools.simulators.licence_gateway.microsoft_identity import IdentityDirectory, create_app
from licence_gateway.adapters.identity import MsalTokenProvider
from tests.support.dovecot import DovecotServer
from tests.support.tls import LocalCertificate, make_local_certificate

TENANT_ID = "test-tenant"
CLIENT_ID = "licence-gateway-app"
CLIENT_SECRET = "app-secret"
MAILBOX_USER = "icms-mailbox@licence-gateway.test"
POP3_PASSWORD = "pop3-secret"
MAIL_SCOPE = "https://outlook.office.com/.default"


@dataclass(frozen=True)
class IdentityService:
    url: str  # https://127.0.0.1:PORT/
    directory: IdentityDirectory
    ca_file: str

    @property
    def authority_host(self) -> str:
        return self.url.rstrip("/")

    @property
    def introspection_url(self) -> str:
        return f"{self.url}introspect"

    def token_is_valid(self, user: str, token: str) -> bool:
        """What a mail server asks: is this token active, and for this mailbox?"""
        return self.directory.introspect(token).get("username") == user


@pytest.fixture(scope="session")
def local_certificate(tmp_path_factory: pytest.TempPathFactory) -> LocalCertificate:
    return make_local_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def identity_service(local_certificate: LocalCertificate) -> Iterator[IdentityService]:
    directory = IdentityDirectory(tenant_id=TENANT_ID)
    directory.register(CLIENT_ID, CLIENT_SECRET, MAILBOX_USER)
    with BackgroundServer(create_app(directory), local_certificate.files) as server:
        yield IdentityService(server.url, directory, local_certificate.ca_file)


@pytest.fixture
def msal_tokens(identity_service: IdentityService) -> MsalTokenProvider:
    return MsalTokenProvider(
        tenant_id=TENANT_ID,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        scope=MAIL_SCOPE,
        authority_host=identity_service.authority_host,
        ca_file=identity_service.ca_file,
    )


@pytest.fixture(scope="session")
def dovecot(
    local_certificate: LocalCertificate, identity_service: IdentityService
) -> Iterator[DovecotServer]:
    server = DovecotServer(
        local_certificate,
        introspection_url=identity_service.introspection_url,
        password=POP3_PASSWORD,
    )
    with server:
        yield server


@pytest.fixture
def hmrc_mailbox(dovecot: DovecotServer) -> DovecotServer:
    """Dovecot with MAILBOX_USER's box empty."""
    dovecot.clear(MAILBOX_USER)
    return dovecot
