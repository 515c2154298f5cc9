"""Access tokens for XOAUTH2 mail logins: Microsoft identity's client-credentials flow via msal."""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING, Any, Protocol

from licence_gateway.settings import LicenceGatewaySettings, require

if TYPE_CHECKING:  # msal and requests load on the first token request, not with every worker
    import msal

MICROSOFT_AUTHORITY_HOST = "https://login.microsoftonline.com"

# Token-endpoint errors that a later attempt can get past; anything else needs an operator.
TRANSIENT_ERRORS = frozenset({"temporarily_unavailable", "server_error", "request_timeout"})


class IdentityError(Exception):
    """No token: the identity platform refused (permanent) or could not be reached."""

    transient = False

    def __init__(self, message: str, *, error: str = "") -> None:
        super().__init__(message)
        self.error = error


class IdentityUnavailableError(IdentityError):
    """The identity platform could not be reached or failed on its side; try again later."""

    transient = True


class TokenProvider(Protocol):
    async def access_token(self) -> str:
        """A bearer token for the mail server's XOAUTH2 login."""
        ...


class StaticTokenProvider:
    """Always the same token: for tests and for servers that hand out long-lived tokens."""

    def __init__(self, token: str) -> None:
        self._token = token

    async def access_token(self) -> str:
        return self._token


class MsalTokenProvider:
    """Client-credentials tokens from one long-lived msal app, which caches them until expiry.

    msal is synchronous (requests), so every call runs in a worker thread. The app is built on
    first use because building it already fetches the tenant's OpenID configuration.
    """

    def __init__(
        self,
        *,
        tenant_id: str,
        client_id: str,
        client_secret: str,
        scope: str,
        authority_host: str = MICROSOFT_AUTHORITY_HOST,
        ca_file: str = "",
        timeout_seconds: float = 30,
    ) -> None:
        self._authority = f"{authority_host.rstrip('/')}/{tenant_id}"
        self._known_host = authority_host.rstrip("/") == MICROSOFT_AUTHORITY_HOST
        self._client_id = client_id
        self._client_secret = client_secret
        self._scopes = [scope]
        self._verify: str | bool = ca_file or True
        self._timeout = timeout_seconds
        self._app: msal.ConfidentialClientApplication | None = None
        self._lock = threading.Lock()

    async def access_token(self) -> str:
        result = await asyncio.to_thread(self._acquire)
        token = result.get("access_token")
        if isinstance(token, str) and token:
            return token
        error = str(result.get("error", "no_token"))
        description = str(result.get("error_description", "no access_token in the answer"))
        failure = IdentityUnavailableError if error in TRANSIENT_ERRORS else IdentityError
        raise failure(f"token request refused: {error}: {description}", error=error)

    def _acquire(self) -> dict[str, Any]:
        import msal.exceptions
        import requests

        try:
            result: dict[str, Any] = self._application().acquire_token_for_client(
                scopes=self._scopes
            )
        except requests.RequestException as exc:
            raise IdentityUnavailableError(f"identity platform unreachable: {exc}") from exc
        except msal.exceptions.MsalServiceError as exc:  # a 5xx answer msal could not read
            raise IdentityUnavailableError(
                f"identity platform failed: {exc}", error="server_error"
            ) from exc
        except ValueError as exc:  # msal's "unable to get authority configuration"
            raise IdentityUnavailableError(f"identity platform misbehaved: {exc}") from exc
        return result

    def _application(self) -> msal.ConfidentialClientApplication:
        import msal

        with self._lock:
            if self._app is None:
                self._app = msal.ConfidentialClientApplication(
                    self._client_id,
                    client_credential=self._client_secret,
                    authority=self._authority,
                    token_cache=msal.TokenCache(),
                    http_client=_http_session(self._verify, self._timeout),
                    # Instance discovery asks Microsoft about the host; only theirs is known there.
                    instance_discovery=None if self._known_host else False,
                )
            return self._app


def _http_session(verify: str | bool, timeout: float) -> Any:
    """msal's HTTP client with our CA and timeout. A plain Session would let REQUESTS_CA_BUNDLE
    in the environment override the CA we set (a long-standing requests quirk)."""
    import requests

    class HttpSession(requests.Session):
        def request(self, *args: Any, **kwargs: Any) -> requests.Response:
            kwargs.setdefault("timeout", timeout)
            return super().request(*args, **kwargs)

        def merge_environment_settings(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
            settings: dict[str, Any] = super().merge_environment_settings(*args, **kwargs)
            settings["verify"] = verify
            return settings

    session = HttpSession()
    session.verify = verify
    return session


def token_provider_from_settings(settings: LicenceGatewaySettings) -> MsalTokenProvider:
    """The msal provider the azure_* settings describe; NotConfiguredError if any is empty."""
    require(
        settings,
        "Microsoft identity (XOAUTH2)",
        "azure_tenant_id",
        "azure_client_id",
        "azure_client_secret",
    )
    return MsalTokenProvider(
        tenant_id=settings.azure_tenant_id,
        client_id=settings.azure_client_id,
        client_secret=settings.azure_client_secret.get_secret_value(),
        scope=settings.azure_scope,
        authority_host=settings.azure_authority_host,
        ca_file=settings.tls_ca_file,
    )
