"""The whole licence flow on real PostgreSQL and Redis, every outside party a local stand-in:

ICMS simulator -> gateway API (Hawk) -> batching job -> SMTP -> HMRC simulator -> POP3 ->
inbox job -> callbacks job (Hawk) -> ICMS simulator, which records every outcome.

The gateway API and the ICMS simulator are served by uvicorn in threads; the HMRC simulator runs
on the test's loop; the jobs are the worker's own passes, run back to back instead of on cron.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import os
import re
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from licence_gateway.domain.chief import licence_reply_file_name, render_licence_reply
from licence_gateway.jobs.batching import run_batching
from licence_gateway.jobs.callbacks import run_callbacks
from licence_gateway.jobs.context import open_mail_flow
from licence_gateway.jobs.inbox import run_inbox
from licence_gateway.main import create_app
from licence_gateway.settings import LicenceGatewaySettings
from licence_gateway.simulators.hmrc import HmrcConfig, HmrcSimulator, OutcomeMix
from licence_gateway.simulators.icms import IcmsSimulator
from licence_gateway.simulators.pop3_server import TokenCheck, introspection_token_check
from licence_gateway.simulators.serving import BackgroundServer
from licence_gateway.store.mail import Mail, ReceivedEmail
from licence_gateway.store.payloads import LicencePayload
from service_kit.migrations import upgrade
from tests.licence_gateway.mail_fixtures import (
    CLIENT_ID,
    CLIENT_SECRET,
    MAILBOX_USER,
    TENANT_ID,
    IdentityService,
    identity_service,
    local_certificate,
)
from tests.licence_gateway.mail_flow_support import running_icms_simulator
from tests.support.database import recreate_database
from tests.support.infra import (
    ROOT,
    database_name_for_tests,
    free_port,
    postgres_server_url,
    redis_server_url,
)
from tests.support.tls import LocalCertificate

__all__ = ["identity_service", "local_certificate"]  # fixtures used through mail_login

HAWK_KEY = "end-to-end-hawk-key"
GATEWAY, ICMS_MAILBOX, CHIEF = "gateway@lg.test", "icms-mailbox@lg.test", "chief@hmrc.test"
PASSWORD = "e2e-password"
MIX = OutcomeMix(seed=11, accept_ratio=0.7)
RECEIVING_SERVER = "mx.lg.test"  # stamps Authentication-Results, as Exchange Online does


@dataclass(frozen=True)
class MailLogin:
    """How the gateway reaches HMRC's servers: its settings, and the simulator's side."""

    settings: dict[str, str]
    hmrc: HmrcConfig
    token_check: TokenCheck | None = None


def password_login() -> MailLogin:
    """Plain connections and passwords, as `make run` configures them."""
    settings = {
        "smtp_security": "none",
        "smtp_username": GATEWAY,
        "smtp_password": PASSWORD,
        "pop3_security": "none",
        "pop3_auth": "password",
        "pop3_username": ICMS_MAILBOX,
        "pop3_password": PASSWORD,
    }
    hmrc = HmrcConfig(
        smtp_username=GATEWAY,
        smtp_password=PASSWORD,
        mailbox_user=ICMS_MAILBOX,
        mailbox_password=PASSWORD,
    )
    return MailLogin(settings, hmrc)


def production_login(identity: IdentityService, certificate: LocalCertificate) -> MailLogin:
    """As against Microsoft 365: SMTPS and POP3S, XOAUTH2 with tokens from the real msal flow
    (client credentials) against the identity simulator, checked by the HMRC simulator through
    the identity simulator's introspection."""
    settings = {
        "tls_ca_file": certificate.ca_file,
        "smtp_security": "tls",
        "smtp_auth": "xoauth2",
        "smtp_username": MAILBOX_USER,
        "pop3_security": "tls",
        "pop3_auth": "xoauth2",
        "pop3_username": MAILBOX_USER,
        "azure_tenant_id": TENANT_ID,
        "azure_client_id": CLIENT_ID,
        "azure_client_secret": CLIENT_SECRET,
        "azure_authority_host": identity.authority_host,
        "hmrc_trusted_authserv_id": RECEIVING_SERVER,
    }
    hmrc = HmrcConfig(
        authserv_id=RECEIVING_SERVER,
        smtp_username=MAILBOX_USER,
        mailbox_user=MAILBOX_USER,
        tls_context=certificate.server_context(),
        implicit_tls=True,
    )
    check = introspection_token_check(identity.introspection_url, certificate.ca_file)
    return MailLogin(settings, hmrc, check)


@pytest.fixture
def mail_login(request: pytest.FixtureRequest) -> MailLogin:
    if getattr(request, "param", "password") == "password":
        return password_login()
    return production_login(
        request.getfixturevalue("identity_service"), request.getfixturevalue("local_certificate")
    )


@pytest_asyncio.fixture
async def database_url() -> str:
    """A database of its own, migrated: the API, the jobs and the operator command each commit."""
    url = await recreate_database(f"{database_name_for_tests()}_e2e")
    await asyncio.to_thread(upgrade, "licence_gateway", url)
    return url


@pytest_asyncio.fixture
async def hmrc(mail_login: MailLogin) -> AsyncIterator[HmrcSimulator]:
    config = dataclasses.replace(mail_login.hmrc, reply_sender=CHIEF, reply_delay=0.2, mix=MIX)
    simulator = HmrcSimulator(config, mail_login.token_check)
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
def icms() -> Iterator[tuple[IcmsSimulator, BackgroundServer]]:
    with running_icms_simulator(HAWK_KEY) as running:
        yield running


@pytest.fixture
def gateway_env(
    database_url: str,
    redis_url: str,
    mail_login: MailLogin,
    hmrc: HmrcSimulator,
    icms: tuple[IcmsSimulator, BackgroundServer],
) -> dict[str, str]:
    """The gateway's environment, configured against the simulators."""
    values = {
        "database_url": database_url,
        "redis_url": redis_url,
        "environment": "test",
        "smtp_host": "127.0.0.1",
        "smtp_port": str(hmrc.smtp_port),
        "smtp_to_address": CHIEF,
        "pop3_host": "127.0.0.1",
        "pop3_port": str(hmrc.pop3.port),
        "hmrc_sender_address": CHIEF,
        "icms_api_url": icms[1].url,
        "icms_hawk_key": HAWK_KEY,
        **mail_login.settings,
    }
    return {f"LICENCE_GATEWAY_{name.upper()}": value for name, value in values.items()}


@pytest.fixture
def settings(gateway_env: dict[str, str]) -> LicenceGatewaySettings:
    fields: dict[str, Any] = {
        name.removeprefix("LICENCE_GATEWAY_").lower(): v for name, v in gateway_env.items()
    }
    return LicenceGatewaySettings(**fields)


@pytest.fixture
def gateway(
    settings: LicenceGatewaySettings, icms: tuple[IcmsSimulator, BackgroundServer]
) -> Iterator[BackgroundServer]:
    with BackgroundServer(create_app(settings)) as server:
        icms[0].gateway_url = server.url
        yield server


async def icms_sends(icms: BackgroundServer, count: int) -> None:
    async with httpx.AsyncClient(timeout=60) as client:
        response = await client.post(f"{icms.url}send", params={"count": count})
    response.raise_for_status()


async def run_jobs_until(
    settings: LicenceGatewaySettings,
    done: Callable[[], bool],
    timeout: float = 20,
    why: Callable[[], str] = str,
    give_up: bool = False,
) -> list[str]:
    """The worker's batching, mailbox and callback passes, in turn, until `done()`; after
    `timeout` seconds fail, or with `give_up` just stop."""
    log: list[str] = []
    deadline = time.monotonic() + timeout
    async with open_mail_flow(settings) as flow:
        while not done():
            if give_up and time.monotonic() > deadline:
                break
            assert time.monotonic() < deadline, f"flow stuck: {why()}; jobs said {log[-3:]}"
            log.append(await run_batching(flow))
            log.append(str(await run_inbox(flow)))
            log.append(str(await run_callbacks(flow)))
            await asyncio.sleep(0.05)
    return log


def totals(icms: IcmsSimulator) -> dict[str, int]:
    return icms.status()["totals"]


@pytest.mark.parametrize("mail_login", ["production"], indirect=True)
async def test_every_licence_reaches_icms_with_the_outcome_hmrc_gave(
    settings: LicenceGatewaySettings,
    gateway: BackgroundServer,
    hmrc: HmrcSimulator,
    icms: tuple[IcmsSimulator, BackgroundServer],
) -> None:
    simulator, server = icms
    await icms_sends(server, 40)
    licences = simulator.status()["licences"].values()
    assert {item["type"] for item in licences} == {"OIL", "DFL", "SIL", "SAN", "NUCLEAR"}
    assert {item["action"] for item in licences} == {"insert", "replace", "cancel"}
    assert totals(simulator)["sent"] == 40  # every POST answered 201 with a good signature
    # An attacker answers run 1 first, "accepting" everything, with a From that only contains
    # HMRC's address and a verdict from a server we do not trust: it must change nothing.
    everything = tuple(item["reference"] for item in licences)
    forged = render_licence_reply(
        run_number="1",
        created_at=datetime.now(UTC),
        accepted=everything,
        rejected=(),
        file_errors=(),
    )
    raw = hmrc.chief_email(licence_reply_file_name(1, datetime.now(UTC)), forged)
    untrusted = raw.replace(RECEIVING_SERVER.encode(), b"evil.test")  # HMRC's From, wrong server
    hmrc.deliver_raw(untrusted)
    hmrc.deliver_raw(
        untrusted.replace(b"Message-ID: <", b"Message-ID: <other.").replace(
            b"From: ", f"From: {CHIEF} <attacker@evil.test>\nX-Was-From: ".encode()
        )
    )

    await run_jobs_until(
        settings,
        lambda: totals(simulator)["final"] == 40,
        why=lambda: f"ICMS totals {totals(simulator)}, HMRC totals {hmrc.totals}",
    )

    result = totals(simulator)
    assert result["accepted"] == hmrc.totals.accepted > 0
    assert result["rejected"] == hmrc.totals.rejected > 0
    assert result["conflicts"] == result["unknown_outcomes"] == 0
    async with AsyncSession(create_async_engine(settings.database_url)) as session:
        flags = list(await session.scalars(select(ReceivedEmail.flag).order_by(ReceivedEmail.id)))
    assert flags.count("sender_not_verified") == 2 and flags.count(None) == 1
    licences = simulator.status()["licences"].values()
    rejected = [item for item in licences if item["outcome"] == "rejected"]
    assert len(rejected) == result["rejected"]
    assert all(item["errors"][0]["error_code"].isdigit() for item in rejected)

    # CHIEF's usage report for the accepted licences reaches ICMS's usage callback too.
    hmrc.emit_usage_data()
    await run_jobs_until(settings, lambda: totals(simulator)["usage_entries"] > 0)
    usage = collections.Counter(entry["licence_status"] for entry in simulator.status()["usage"])
    accepted = collections.Counter(
        "C" if item["action"] == "cancel" else "O"
        for item in licences
        if item["outcome"] == "accepted"
    )
    assert usage == accepted  # open for inserts and replaces, cancelled for cancels


async def test_a_file_error_is_recovered_with_recreate_and_send(
    settings: LicenceGatewaySettings,
    gateway_env: dict[str, str],
    gateway: BackgroundServer,
    hmrc: HmrcSimulator,
    icms: tuple[IcmsSimulator, BackgroundServer],
) -> None:
    simulator, server = icms
    hmrc.config = dataclasses.replace(hmrc.config, mix=OutcomeMix(file_error_ratio=1.0))
    await icms_sends(server, 4)  # four distinct references
    await run_jobs_until(
        settings, lambda: hmrc.totals.files == 1, why=lambda: str(simulator.status())
    )
    # The reply is read, but with file errors only ICMS is told nothing and the mail waits.
    log = await run_jobs_until(settings, lambda: False, timeout=1.5, give_up=True)
    assert "stored 1" in " ".join(log)
    async with open_mail_flow(settings) as flow, flow.sessions() as session:
        (mail,) = (await session.scalars(select(Mail))).all()
    assert mail.status == "reply_received"
    assert totals(simulator)["final"] == 0

    hmrc.config = dataclasses.replace(hmrc.config, mix=OutcomeMix(accept_ratio=1.0))
    output = await operator_command(gateway_env, "recreate-and-send")
    assert "recreated" in output and "run 2" in output, output

    await run_jobs_until(
        settings,
        lambda: totals(simulator)["final"] == 4,
        why=lambda: f"ICMS {simulator.status()}, HMRC {hmrc.totals}, recreate said {output}",
    )
    assert totals(simulator)["accepted"] == 4
    assert {item["run_number"] for item in simulator.status()["licences"].values()} == {"2"}
    assert (hmrc.totals.files, hmrc.totals.file_errors) == (2, 1)


async def operator_command(env: dict[str, str], *args: str) -> str:
    """`licence-gateway ...` as an operator runs it. Asynchronously: the HMRC simulator it talks
    to runs on this test's loop."""
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "licence-gateway"),
        *args,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, output.decode()
    return output.decode()


async def test_make_demo_runs_the_flow_through_the_whole_stack(tmp_path: Path) -> None:
    """`deploy/stack.py demo` as `make demo` runs it: every process, the simulators, the ticker.
    On the test servers and free ports, with its state under tmp_path."""
    stack_ports = re.findall(r"STACK_\w+_PORT", (ROOT / "deploy" / "stack.py").read_text())
    env = {name: str(free_port()) for name in set(stack_ports)}  # every server it starts
    server = postgres_server_url()
    env |= {
        "STACK_LOCAL_DIR": str(tmp_path),
        "STACK_DEMO_DATABASE": f"{database_name_for_tests()}_demo",
        "STACK_DEMO_REDIS_DB": os.environ.get("TEST_REDIS_DB", "15"),
        "LICENCE_GATEWAY_DATABASE_URL": server,
        "INVOICE_CHECKER_DATABASE_URL": server,
        "LICENCE_GATEWAY_REDIS_URL": redis_server_url(),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "deploy" / "stack.py"),
        *("demo", "--only", "licence", "--licences", "12", "--timeout", "60"),
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output = (await asyncio.wait_for(process.communicate(), 240))[0].decode()
    assert process.returncode == 0, output
    (line,) = [line for line in output.splitlines() if line.startswith("demo licences: ")]
    assert line.startswith("demo licences: sent=12 final=12 accepted="), line
    assert (tmp_path / "demo" / "logs" / "hmrc-simulator.log").exists()


async def test_licences_icms_refuses_are_parked_and_the_rest_of_the_run_reaches_icms(
    settings: LicenceGatewaySettings,
    gateway_env: dict[str, str],
    gateway: BackgroundServer,
    hmrc: HmrcSimulator,
    icms: tuple[IcmsSimulator, BackgroundServer],
) -> None:
    """Issue 18.3: ICMS answers 422 `{}` to any callback naming two of the run's licences."""
    simulator, server = icms
    await icms_sends(server, 12)
    refused = sorted(simulator.licences)[:2]
    simulator.refuse_ids = set(refused)

    async def run_is_processed() -> bool:
        async with open_mail_flow(settings) as flow, flow.sessions() as session:
            return {mail.status for mail in await session.scalars(select(Mail))} == {
                "reply_processed"
            }

    processed = False

    def done() -> bool:
        return totals(simulator)["final"] == 10 and processed

    deadline = time.monotonic() + 20
    while not done():
        assert time.monotonic() < deadline, f"stuck: {simulator.status()['totals']}"
        await run_jobs_until(settings, lambda: totals(simulator)["final"] == 10)
        processed = await run_is_processed()
    assert all(simulator.licences[icms_id].outcome is None for icms_id in refused)
    assert simulator.refused_callbacks >= 2

    async with open_mail_flow(settings) as flow, flow.sessions() as session:
        rows = await session.execute(select(LicencePayload.id, LicencePayload.icms_id))
        by_icms_id = {str(icms_id): payload_id for payload_id, icms_id in rows.all()}
    simulator.refuse_ids = set()  # fixed in ICMS
    for icms_id in refused:
        output = await operator_command(gateway_env, "redeliver", str(by_icms_id[icms_id]))
        assert "no longer parked" in output, output
    assert totals(simulator)["final"] == 12 and totals(simulator)["conflicts"] == 0
