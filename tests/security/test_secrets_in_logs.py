"""No secret setting of either service ever reaches a log line, an error message, an API error
body or the `check` command's output. Every secret is set to a recognisable value, the JSON
logging is pointed at a captured stream at DEBUG, and each path that logs or reports a failure
is driven for real: app start and stop (Hawk on and off), refused Hawk and admin requests, a
refused SMTP and POP3 login, ICMS client failures, settings errors, `check`, 10000ft client
failures, Slack signature failures and failed sign-ins."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import httpx
import mohawk
import pytest
import sentry_sdk
from pydantic import SecretStr

from devtools.serving import BackgroundServer
from devtools.simulators.invoice_checker import tenkfeet
from devtools.simulators.invoice_checker.oidc import serve_in_thread
from devtools.simulators.licence_gateway.icms import IcmsSimulator
from devtools.simulators.licence_gateway.icms import create_app as create_icms
from invoice_checker.adapters.tenkfeet import TenkfeetClient, TenkfeetError
from invoice_checker.settings import InvoiceCheckerSettings
from licence_gateway.adapters.icms import IcmsClient, IcmsError
from licence_gateway.adapters.pop3 import Pop3Config, Pop3Error, Pop3Mailbox
from licence_gateway.adapters.smtp import SmtpConfig, SmtpError, SmtpSender
from licence_gateway.domain.hawk import Credentials
from licence_gateway.settings import LicenceGatewaySettings
from service_kit.logging import configure_logging
from service_kit.settings import SettingsError, load_settings
from tests.licence_gateway.mail_fixtures import (  # noqa: F401 (fixtures: real mail servers)
    MAILBOX_USER,
    dovecot,
    hmrc_mailbox,
    identity_service,
    local_certificate,
)
from tests.security.support import running_checker, running_gateway
from tests.support.dovecot import DovecotServer
from tests.support.infra import free_port
from tests.support.smtp_server import LocalSmtpServer
from tests.support.tls import LocalCertificate

ROOT = Path(__file__).resolve().parents[2]
DB_PASSWORD = "DbPassword-s3cr3t-0001"
GATEWAY_SECRETS = {
    "icms_hawk_key": "HawkKey-s3cr3t-0002",
    "smtp_password": "SmtpPassword-s3cr3t-0003",
    "pop3_password": "Pop3Password-s3cr3t-0004",
    "azure_client_secret": "AzureSecret-s3cr3t-0005",
    "admin_token": "AdminToken-s3cr3t-0006",
    # A DSN sentry_sdk accepts, on a port where nothing listens: reports go nowhere.
    "sentry_dsn": "http://SentryKey-s3cr3t-0014@127.0.0.1:9/1",
}
CHECKER_SECRETS = {
    "tenkfeet_api_token": "TenkfeetToken-s3cr3t-0007",
    "google_client_secret": "GoogleSecret-s3cr3t-0008",
    "session_secret": "SessionSecret-s3cr3t-0009",
    "slack_bot_token": "xoxb-SlackBot-s3cr3t-0010",
    "slack_workspace_token": "xoxp-SlackWorkspace-s3cr3t-0011",
    "slack_signing_secret": "SlackSigning-s3cr3t-0012",
    "aws_secret_access_key": "AwsSecret-s3cr3t-0013",
    "sentry_dsn": "http://SentryKey-s3cr3t-0015@127.0.0.1:9/1",
}
SECRETS = [DB_PASSWORD, *GATEWAY_SECRETS.values(), *CHECKER_SECRETS.values()]


def assert_no_secret(*texts: object) -> None:
    for text in texts:
        leaked = [secret for secret in SECRETS if secret in str(text)]
        assert leaked == [], f"{leaked} in {str(text)[:500]}"


def test_every_secret_setting_has_a_recognisable_value_here() -> None:
    """A new SecretStr setting must be added above, or this test would not look for it."""
    for settings, values in (
        (LicenceGatewaySettings, GATEWAY_SECRETS),
        (InvoiceCheckerSettings, CHECKER_SECRETS),
    ):
        secret_fields = {
            name for name, info in settings.model_fields.items() if info.annotation is SecretStr
        }
        assert secret_fields == set(values)


@contextmanager
def captured_logs(*, expect_lines: bool = True) -> Iterator[io.StringIO]:
    """Everything written to stderr, where configure_logging (called again by each app's start)
    sends the JSON log lines, at DEBUG; checked for secrets at the end. Entered inside the test:
    pytest points sys.stderr elsewhere between fixture setup and the test."""
    stream = io.StringIO()
    saved = sys.stderr
    sys.stderr = stream
    configure_logging("DEBUG")
    try:
        yield stream
    finally:
        sys.stderr = saved
        logging.getLogger().handlers[:] = []
    if expect_lines:
        assert stream.getvalue(), "the paths driven logged nothing: the test would prove nothing"
    assert_no_secret(stream.getvalue())


@pytest.fixture(autouse=True)
def no_sentry_client_afterwards() -> Iterator[None]:
    """The apps here start a Sentry client (their DSN is set); later tests run without one."""
    yield
    sentry_sdk.get_client().close(timeout=0)
    sentry_sdk.get_global_scope().set_client(None)


def secret_db_url(database_url: str) -> str:
    """The test database's URL with a password (the local server trusts, so it is ignored)."""
    return database_url.replace("postgres@", f"postgres:{DB_PASSWORD}@", 1)


def gateway(database_url: str, redis_url: str, **changes: object) -> LicenceGatewaySettings:
    secrets = {name: SecretStr(value) for name, value in GATEWAY_SECRETS.items()}
    return LicenceGatewaySettings(
        database_url=secret_db_url(database_url),
        redis_url=redis_url,
        environment="test",
        log_level="DEBUG",
        **{**secrets, **changes},  # type: ignore[arg-type]
    )


def checker(database_url: str, redis_url: str, **changes: object) -> InvoiceCheckerSettings:
    secrets = {name: SecretStr(value) for name, value in CHECKER_SECRETS.items()}
    return InvoiceCheckerSettings(
        database_url=secret_db_url(database_url),
        redis_url=redis_url,
        environment="test",
        log_level="DEBUG",
        **{**secrets, **changes},  # type: ignore[arg-type]
    )


async def test_gateway_start_stop_and_refused_requests(database_url: str, redis_url: str) -> None:
    with captured_logs() as logs:
        key = GATEWAY_SECRETS["icms_hawk_key"]
        url = "http://testserver/mail/update-licence/"
        bodies: list[str] = []
        for changes in ({}, {"hawk_disabled": True}, {"icms_hawk_key": SecretStr("")}):
            async with running_gateway(gateway(database_url, redis_url, **changes)) as client:
                for wrong_key in (key[:-1], key + "x", "other"):
                    sender = mohawk.Sender(
                        {"id": "icms-api", "key": wrong_key, "algorithm": "sha256"},
                        url,
                        "POST",
                        content=b"{}",
                        content_type="application/json",
                    )
                    answer = await client.post(
                        url,
                        content=b"{}",
                        headers={
                            "Hawk-Authentication": sender.request_header,
                            "Content-Type": "application/json",
                        },
                    )
                    bodies.append(answer.text + str(answer.headers))
                for token in ("wrong", GATEWAY_SECRETS["admin_token"][:-1]):
                    admin = await client.get(
                        "/admin/mails", headers={"Authorization": f"Bearer {token}"}
                    )
                    bodies.append(admin.text + str(admin.headers))
                broken = await client.post("/mail/update-licence/", content=b"{not json")
                bodies.append(broken.text)
        assert_no_secret(*bodies)
        assert "Hawk authentication is OFF" in logs.getvalue()


async def test_refused_smtp_and_pop3_logins(
    local_certificate: LocalCertificate,  # noqa: F811
    hmrc_mailbox: DovecotServer,  # noqa: F811
) -> None:
    with captured_logs():
        smtp_password = GATEWAY_SECRETS["smtp_password"]
        user = "gateway@licence-gateway.test"
        with LocalSmtpServer(local_certificate, users={user: "the-real-password"}) as server:
            config = SmtpConfig(
                host=server.host,
                port=server.port,
                security="starttls",
                auth="password",
                username=user,
                password=smtp_password,
                from_address=user,
                to_address="chief@hmrc.test",
                timeout_seconds=5,
                ca_file=local_certificate.ca_file,
            )
            with pytest.raises(SmtpError) as smtp_failure:
                await SmtpSender(config).send_licence_data(
                    file_name="CHIEF_x", text="x\n", message_id="<a@b>"
                )
            # The same password over a connection that never comes up.
            with pytest.raises(SmtpError) as unreachable:
                await SmtpSender(replace(config, port=free_port())).send_licence_data(
                    file_name="CHIEF_x", text="x\n", message_id="<b@c>"
                )
        pop3 = Pop3Config(
            host="127.0.0.1",
            port=hmrc_mailbox.pop3_port,
            security="starttls",
            auth="password",
            username=MAILBOX_USER,
            password=GATEWAY_SECRETS["pop3_password"],
            timeout_seconds=5,
            ca_file=local_certificate.ca_file,
        )
        with pytest.raises(Pop3Error) as pop3_failure:
            await Pop3Mailbox(pop3).count()
        failures = [smtp_failure.value, unreachable.value, pop3_failure.value]
        assert_no_secret(*failures, *map(repr, failures), config, pop3)


async def test_icms_client_failures() -> None:
    with captured_logs(expect_lines=False):  # the client raises; its callers log the message
        key = GATEWAY_SECRETS["icms_hawk_key"]
        simulator = IcmsSimulator(
            gateway_url="http://127.0.0.1:1/", hawk_id="icms-api", hawk_key="icms-own-key"
        )
        failures: list[IcmsError] = []
        async with httpx.AsyncClient(timeout=2) as http:
            with BackgroundServer(create_icms(simulator)) as icms:
                for base in (icms.url, f"http://127.0.0.1:{free_port()}/"):
                    client = IcmsClient(http, base, Credentials("icms-api", key.encode()))
                    with pytest.raises(IcmsError) as raised:
                        await client.check_connection()
                    failures.append(raised.value)
        assert_no_secret(*failures, *map(repr, failures))


async def test_tenkfeet_client_failures() -> None:
    with captured_logs():
        token = CHECKER_SECRETS["tenkfeet_api_token"]
        failures: list[TenkfeetError] = []
        for world in (
            tenkfeet.TenkfeetWorld(token="not-ours", user_count=1, project_count=0),
            tenkfeet.TenkfeetWorld(
                token=token, user_count=1, project_count=0, faults=tenkfeet.Faults(server_errors=9)
            ),
        ):

            async def no_wait(seconds: float) -> None:
                return None

            transport = httpx.ASGITransport(app=tenkfeet.create_app(world))
            async with TenkfeetClient(
                "http://tenkfeet.test/", token, transport=transport, sleep=no_wait, max_retries=2
            ) as client:
                with pytest.raises(TenkfeetError) as raised:
                    await client.users()
            failures.append(raised.value)
        assert_no_secret(*failures, *map(repr, failures))


async def test_checker_start_stop_slack_and_sign_in_failures(
    database_url: str, redis_url: str
) -> None:
    with captured_logs():
        bodies: list[str] = []
        with serve_in_thread(client_id="ic", client_secret="the-providers-idea") as provider:
            settings = checker(
                database_url,
                redis_url,
                oidc_issuer_url=provider.issuer,
                google_client_id="ic",
                allowed_domain="example.com",
                cookie_secure=False,
            )
            async with running_checker(settings) as client:
                for path in ("/api/v1/slack/flex-hours", "/api/v1/slack/events"):
                    for signature in ("v0=00", None):
                        headers = {"X-Slack-Request-Timestamp": "1700000000"}
                        if signature:
                            headers["X-Slack-Signature"] = signature
                        refused = await client.post(path, content=b"user_id=U1", headers=headers)
                        assert refused.status_code == 401
                        bodies.append(refused.text)
                login = await client.get("/api/v1/auth/login")
                async with httpx.AsyncClient() as browser:
                    answer = await browser.get(
                        login.headers["location"] + "&login_hint=a@example.com"
                    )
                back = httpx.URL(answer.headers["location"])
                # The provider refuses our client secret when the code is exchanged.
                failed = await client.get(f"{back.path}?{back.query.decode()}")
                assert failed.status_code in (400, 502)
                forged = await client.get("/api/v1/auth/callback?code=x&state=y")
                bodies += [failed.text, forged.text, str(failed.headers)]
            unreachable = settings.model_copy(
                update={"oidc_issuer_url": f"http://127.0.0.1:{free_port()}"}
            )
            async with running_checker(unreachable) as client:
                down = await client.get("/api/v1/auth/login")
                assert down.status_code == 502
                bodies.append(down.text)
        assert_no_secret(*bodies)


def secret_environment(database_url: str, redis_url: str) -> dict[str, str]:
    env = {**os.environ}
    for prefix, secrets in (
        ("LICENCE_GATEWAY_", GATEWAY_SECRETS),
        ("INVOICE_CHECKER_", CHECKER_SECRETS),
    ):
        env[f"{prefix}DATABASE_URL"] = secret_db_url(database_url)
        env[f"{prefix}REDIS_URL"] = redis_url
        env[f"{prefix}ENVIRONMENT"] = "test"
        env.update({f"{prefix}{name.upper()}": value for name, value in secrets.items()})
    return env


def test_settings_errors_and_the_check_command(
    database_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = secret_environment(database_url, redis_url)
    for name, value in env.items():
        if name.startswith(("LICENCE_GATEWAY_", "INVOICE_CHECKER_")):
            monkeypatch.setenv(name, value)
    errors: list[SettingsError] = []
    for settings_class, prefix in (
        (LicenceGatewaySettings, "LICENCE_GATEWAY_"),
        (InvoiceCheckerSettings, "INVOICE_CHECKER_"),
    ):
        for bad in (
            {"DATABASE_URL": f"mysql://root:{DB_PASSWORD}@db/app"},
            {"REDIS_URL": f"http://:{DB_PASSWORD}@redis"},
            {"DB_POOL_SIZE": DB_PASSWORD},
        ):
            for name, value in bad.items():
                monkeypatch.setenv(prefix + name, value)
            with pytest.raises(SettingsError) as raised:
                load_settings(settings_class)
            errors.append(raised.value)
            for name in bad:
                if prefix + name in env:
                    monkeypatch.setenv(prefix + name, env[prefix + name])
                else:
                    monkeypatch.delenv(prefix + name)
    assert_no_secret(*errors, *map(repr, errors))
    outputs = []
    # Once with every connection up, once with PostgreSQL unreachable (its error is printed).
    nowhere = f"postgresql+asyncpg://postgres:{DB_PASSWORD}@127.0.0.1:{free_port()}/down"
    down = {name: nowhere for name in env if name.endswith("_DATABASE_URL")}
    for environment, reachable in ((env, True), ({**env, **down}, False)):
        for service in ("licence_gateway", "invoice_checker"):
            run = subprocess.run(
                [sys.executable, "-c", f"from {service}.cli import main; main()", "check"],
                cwd=ROOT,
                env=environment,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            postgres_ok = "connection postgres: ok" in run.stdout
            assert (postgres_ok, run.returncode) == (reachable, 0 if reachable else 1), run.stdout
            outputs += [run.stdout, run.stderr]
    assert_no_secret(*outputs)
    assert "=***" in outputs[0] and "postgres:***@" in outputs[0]
