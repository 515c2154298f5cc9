"""Issue 18.3: one licence ICMS refuses (422 `{}`) no longer blocks its whole run.

ICMS is the ICMS simulator, checking Hawk as ICMS does and refusing the ids it is told to.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from licence_gateway.cli import main
from licence_gateway.jobs.callbacks import run_callbacks
from licence_gateway.jobs.context import MailFlow
from licence_gateway.main import create_app
from licence_gateway.simulators.icms import IcmsSimulator, LicenceRecord
from licence_gateway.simulators.serving import BackgroundServer
from licence_gateway.store.mail import IcmsCallback
from licence_gateway.store.payloads import LicencePayload
from tests.licence_gateway.mail_flow_support import (
    FIXTURES,
    HAWK_KEY,
    add_answered_batch,
    fixture_text,
    mails,
    running_icms_simulator,
)
from tests.licence_gateway.test_ops_cli import environment
from tests.support.apps import app_client

REPLY = "accepted_and_rejected_example"
TOKEN = "admin-token-for-tests"


@pytest.fixture
def icms() -> Iterator[tuple[IcmsSimulator, BackgroundServer]]:
    with running_icms_simulator(HAWK_KEY, patience=1) as running:
        yield running


@pytest.fixture
def flow(mail_flow: MailFlow, icms: tuple[IcmsSimulator, BackgroundServer]) -> MailFlow:
    mail_flow.settings = mail_flow.settings.model_copy(
        update={"icms_api_url": icms[1].url, "admin_token": SecretStr(TOKEN)}
    )
    return mail_flow


async def answered_run(flow: MailFlow, simulator: IcmsSimulator) -> list[str]:
    """A run of four licences CHIEF answered (3 accepted, 1 rejected); their ICMS ids."""
    golden = json.loads((FIXTURES / f"{REPLY}.json").read_text())
    ids: dict[str, str] = golden["payload_reference_to_icms_id"]
    await add_answered_batch(flow.engine, 29236, ids, fixture_text(REPLY))
    for icms_id in ids.values():  # ICMS knows them: it sent them
        simulator.licences[icms_id] = LicenceRecord({"id": icms_id})
    return list(ids.values())


async def payload_ids(flow: MailFlow) -> dict[str, int]:
    """ICMS id -> payload id."""
    async with AsyncSession(flow.engine) as session:
        rows = await session.execute(select(LicencePayload.icms_id, LicencePayload.id))
        return {str(icms_id): payload_id for icms_id, payload_id in rows.all()}


async def test_a_refused_licence_is_isolated_parked_and_the_rest_delivered(
    flow: MailFlow, icms: tuple[IcmsSimulator, BackgroundServer]
) -> None:
    simulator, _ = icms
    ids = await answered_run(flow, simulator)
    simulator.refuse_ids = {ids[1]}

    report = await run_callbacks(flow)

    outcomes = {icms_id: simulator.licences[icms_id].outcome for icms_id in ids}
    assert outcomes == {ids[0]: "accepted", ids[1]: None, ids[2]: "accepted", ids[3]: "rejected"}
    # the whole run, its first half, the refused licence alone (the rest went through)
    assert simulator.refused_callbacks == 3
    assert simulator.callbacks == 5
    assert report.parked == 1 and report.failed == []
    [mail] = await mails(flow.engine)
    assert mail.status == "reply_processed"  # every licence delivered or parked
    async with AsyncSession(flow.engine) as session:
        [callback] = await session.scalars(select(IcmsCallback))
    assert set(callback.refused_ids) == {ids[1]} and "422" in callback.refused_ids[ids[1]]
    assert set(callback.delivered_ids) == {ids[0], ids[2], ids[3]}
    assert callback.delivered


async def test_while_icms_accepts_a_run_is_one_body(
    flow: MailFlow, icms: tuple[IcmsSimulator, BackgroundServer]
) -> None:
    simulator, _ = icms
    await answered_run(flow, simulator)
    await run_callbacks(flow)
    assert (simulator.callbacks, simulator.refused_callbacks) == (1, 0)


async def test_parked_licences_show_in_admin_health_and_metrics_and_redeliver_clears_them(
    flow: MailFlow, icms: tuple[IcmsSimulator, BackgroundServer]
) -> None:
    simulator, _ = icms
    ids = await answered_run(flow, simulator)
    simulator.refuse_ids = {ids[1], ids[3]}
    await run_callbacks(flow)
    by_icms_id = await payload_ids(flow)
    refused = by_icms_id[ids[1]]
    auth = {"Authorization": f"Bearer {TOKEN}"}

    async with app_client(create_app(flow.settings)) as client:
        detail = (await client.get(f"/admin/payloads/{refused}", headers=auth)).json()
        assert detail["state"] == "icms_refused" and "422" in detail["icms_refusal"]
        assert set(detail["batches"][0]["callback"]["refused"]) == {ids[1], ids[3]}
        accepted = (await client.get(f"/admin/payloads/{by_icms_id[ids[0]]}", headers=auth)).json()
        assert (accepted["state"], accepted["icms_refusal"]) == ("accepted", None)
        listed = (await client.get("/admin/payloads?state=icms_refused", headers=auth)).json()
        assert sorted(item["id"] for item in listed["items"]) == [refused, by_icms_id[ids[3]]]
        health = await client.get("/healthcheck/")
        assert health.status_code == 503
        assert "check_icms_refused_licences" in health.text
        metrics = (await client.get("/metrics")).text
        assert "licence_gateway_icms_refused_licences 2.0" in metrics

    runner = CliRunner()
    env = environment(flow.settings)
    dry = await asyncio.to_thread(
        runner.invoke, main, ["redeliver", str(refused), "--dry-run"], env=env
    )
    assert dry.exit_code == 0 and "would send" in dry.stdout
    assert simulator.licences[ids[1]].outcome is None

    still_refused = await asyncio.to_thread(
        runner.invoke, main, ["redeliver", str(refused)], env=env
    )
    assert still_refused.exit_code == 1 and "422" in still_refused.stderr

    simulator.refuse_ids = {ids[3]}  # someone fixed the application in ICMS
    done = await asyncio.to_thread(runner.invoke, main, ["redeliver", str(refused)], env=env)
    assert done.exit_code == 0, done.stderr
    assert simulator.licences[ids[1]].outcome == "accepted"
    not_parked = await asyncio.to_thread(runner.invoke, main, ["redeliver", str(refused)], env=env)
    assert not_parked.exit_code == 1 and "not parked" in not_parked.stderr

    async with app_client(create_app(flow.settings)) as client:
        detail = (await client.get(f"/admin/payloads/{refused}", headers=auth)).json()
        assert detail["state"] == "accepted"
        metrics = (await client.get("/metrics")).text
        assert "licence_gateway_icms_refused_licences 1.0" in metrics
