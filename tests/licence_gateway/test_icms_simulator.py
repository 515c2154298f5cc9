"""The ICMS simulator: realistic seeded licences, Hawk as ICMS does it, outcomes and conflicts."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import httpx
import mohawk
import pytest
import pytest_asyncio
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from devtools.serving import BackgroundServer
from devtools.simulators.licence_gateway.icms import IcmsSimulator, create_app
from devtools.simulators.licence_gateway.icms_licences import LICENCE_TYPES, LicenceFactory
from licence_gateway.adapters.icms import IcmsClient
from licence_gateway.domain.chief.licence_data import build_licence_data
from licence_gateway.domain.hawk import Credentials
from licence_gateway.domain.licence_validation import validate_licence
from licence_gateway.main import create_app as create_gateway
from licence_gateway.settings import LicenceGatewaySettings
from tests.support.apps import app_client

HAWK_KEY = "simulator-hawk-key"


def test_the_same_seed_gives_the_same_licences_and_another_seed_others() -> None:
    assert LicenceFactory(7).take(50) == LicenceFactory(7).take(50)
    assert LicenceFactory(7).take(50) != LicenceFactory(8).take(50)


def test_fifty_licences_cover_every_type_and_action() -> None:
    licences = LicenceFactory(0).take(50)
    assert {licence["type"] for licence in licences} == set(LICENCE_TYPES)
    assert Counter(licence["action"] for licence in licences).keys() == {
        "insert",
        "replace",
        "cancel",
    }
    assert len({licence["id"] for licence in licences}) == 50


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_every_licence_passes_the_gateway_and_builds_a_valid_chief_file(seed: int) -> None:
    licences = LicenceFactory(seed).take(60)
    assert [validate_licence(licence) for licence in licences] == [{}] * 60
    built = build_licence_data(licences, run_number=1, created_at=datetime(2026, 1, 2, tzinfo=UTC))
    assert len(built.references) == 60


def test_replaces_and_cancels_refer_to_earlier_licences() -> None:
    licences = LicenceFactory(0).take(50)
    seen: set[str] = set()
    for licence in licences:
        if licence["action"] != "insert":
            assert licence["licence_reference"] in seen
        seen.add(licence["licence_reference"])
        if licence["action"] == "replace":
            assert licence["reference"].count("/") == 3  # a variation: IMA/2026/00001/1


@pytest_asyncio.fixture
async def gateway(
    lg_settings: LicenceGatewaySettings, db_session: AsyncSession
) -> AsyncIterator[httpx.AsyncClient]:
    settings = lg_settings.model_copy(update={"icms_hawk_key": SecretStr(HAWK_KEY)})
    async with app_client(create_gateway(settings), db_session) as client:
        yield client


async def test_licences_reach_the_gateway_signed_and_its_answers_verify(
    gateway: httpx.AsyncClient,
) -> None:
    simulator = IcmsSimulator(
        gateway_url="http://testserver/", hawk_id="icms-api", hawk_key=HAWK_KEY
    )
    records = simulator.new_licences(10)

    await simulator.send(gateway, records)

    assert [(r.post_status, r.post_error) for r in records] == [(201, None)] * 10
    totals = simulator.status()["totals"]
    assert (totals["sent"], totals["final"]) == (10, 0)


async def test_a_gateway_with_another_key_is_recorded_as_refusing(
    gateway: httpx.AsyncClient,
) -> None:
    simulator = IcmsSimulator(gateway_url="http://testserver/", hawk_id="icms-api", hawk_key="nope")
    [record] = simulator.new_licences(1)

    await simulator.send(gateway, [record])

    assert record.post_status == 401
    assert record.post_error == "no Server-Authorization"  # refusals are not signed
    assert simulator.status()["totals"]["sent"] == 0


@pytest.fixture
def running() -> Iterator[tuple[IcmsSimulator, str]]:
    simulator = IcmsSimulator(
        gateway_url="http://127.0.0.1:1/", hawk_id="icms-api", hawk_key=HAWK_KEY
    )
    with BackgroundServer(create_app(simulator)) as server:
        yield simulator, server.url


async def test_outcomes_are_recorded_and_a_different_second_outcome_is_a_conflict(
    running: tuple[IcmsSimulator, str],
) -> None:
    simulator, url = running
    first, second, third = simulator.new_licences(3)
    ids = [record.licence["id"] for record in (first, second, third)]
    async with httpx.AsyncClient() as http:
        icms = IcmsClient(http, url, Credentials("icms-api", HAWK_KEY.encode()))
        await icms.send_licence_reply(
            {"run_number": "4", "accepted": [{"id": ids[0]}], "rejected": []}
        )
        # a repeated outcome is harmless; a contradicting one is a conflict
        await icms.send_licence_reply(
            {
                "run_number": "5",
                "accepted": [{"id": ids[0]}, {"id": "unknown-id"}],
                "rejected": [{"id": ids[0], "errors": [{"error_code": "1", "error_msg": "no"}]}],
            }
        )
        status = (await http.get(f"{url}status.json")).json()
        page = (await http.get(url)).text

    assert status["licences"][ids[0]]["outcome"] == "accepted"
    assert status["licences"][ids[0]]["run_number"] == "4"
    assert status["licences"][ids[1]]["outcome"] is None
    assert status["conflicts"] == [
        {"id": ids[0], "outcome": "rejected", "run_number": "5", "first_outcome": "accepted"}
    ]
    assert status["unknown_outcomes"] == [
        {"id": "unknown-id", "outcome": "accepted", "run_number": "5"}
    ]
    assert {k: status["totals"][k] for k in ("final", "accepted", "rejected", "conflicts")} == {
        "final": 1,
        "accepted": 1,
        "rejected": 0,
        "conflicts": 1,
    }
    assert first.licence["reference"] in page and "conflicts 1" in page


async def test_callbacks_without_valid_hawk_or_replayed_are_refused(
    running: tuple[IcmsSimulator, str],
) -> None:
    simulator, url = running
    target = f"{url}chief/usage-data-callback"
    body = json.dumps({"usage_data": []}).encode()
    sender = mohawk.Sender(
        {"id": "icms-api", "key": HAWK_KEY, "algorithm": "sha256"},
        target,
        "POST",
        content=body,
        content_type="application/json",
    )
    headers = {"content-type": "application/json", "hawk-authentication": sender.request_header}
    async with httpx.AsyncClient() as http:
        unsigned = await http.post(
            target, content=body, headers={"content-type": "application/json"}
        )
        first = await http.post(target, content=body, headers=headers)
        replay = await http.post(target, content=body, headers=headers)
        tampered = await http.post(target, content=body + b" ", headers=headers)

    assert (unsigned.status_code, first.status_code, replay.status_code) == (401, 200, 401)
    assert tampered.status_code == 401
    assert unsigned.json() == {"detail": "Failed HAWK authentication"}
    sender.accept_response(
        first.headers["server-authorization"],
        content=first.content,
        content_type=first.headers["content-type"],
    )
    assert simulator.callbacks == 1


async def test_send_endpoint_posts_more_licences_and_reports_them() -> None:
    simulator = IcmsSimulator(gateway_url="http://127.0.0.1:1/", hawk_id="icms-api", hawk_key="k")
    app = create_app(simulator, patience=0)
    async with app_client(app) as client:  # type: ignore[arg-type]
        answer = await client.post("/send", params={"count": 2})
        refused = await client.post("/send", params={"count": 0})

    assert len(answer.json()["sent"]) == 2
    assert refused.status_code == 400
    records = list(simulator.licences.values())
    assert all(r.post_status is None and "ConnectError" in (r.post_error or "") for r in records)


def test_simulate_commands_refuse_bad_options_with_one_clear_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from click.testing import CliRunner

    from devtools.simulators.licence_gateway.cli import simulate

    monkeypatch.delenv("ICMS_SIMULATOR_HAWK_KEY", raising=False)
    runner = CliRunner()
    listing = runner.invoke(simulate, ["--help"])
    no_key = runner.invoke(simulate, ["icms", "--count", "1"])
    bad_app = runner.invoke(simulate, ["microsoft-identity", "--app", "only-an-id"])

    assert "icms" in listing.output and "microsoft-identity" in listing.output
    assert no_key.exit_code == 2 and "--hawk-key" in no_key.output
    assert bad_app.exit_code == 2
    assert "'only-an-id' is not CLIENT_ID:SECRET:MAILBOX" in bad_app.output
