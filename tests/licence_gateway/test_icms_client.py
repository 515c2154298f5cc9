"""The ICMS client against the ICMS simulator over real HTTP: Hawk both ways, errors classified."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
import pytest_asyncio
from pydantic import SecretStr

from devtools.serving import BackgroundServer
from devtools.simulators.licence_gateway.icms import IcmsSimulator, create_app
from licence_gateway.adapters.icms import (
    IcmsClient,
    IcmsRejectedError,
    IcmsSignatureError,
    IcmsUnavailableError,
    icms_client,
    icms_json,
)
from licence_gateway.domain.hawk import Credentials
from licence_gateway.settings import LicenceGatewaySettings
from service_kit.settings import NotConfiguredError
from tests.support.infra import free_port

HAWK_ID = "icms-api"
HAWK_KEY = "shared-hawk-key"


@dataclass
class RunningIcms:
    simulator: IcmsSimulator
    url: str


@pytest.fixture
def icms() -> Iterator[RunningIcms]:
    simulator = IcmsSimulator(
        gateway_url="http://127.0.0.1:1/", hawk_id=HAWK_ID, hawk_key=HAWK_KEY, hang_seconds=3
    )
    with BackgroundServer(create_app(simulator)) as server:
        yield RunningIcms(simulator, server.url)


@pytest_asyncio.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=2) as client:
        yield client


def client(http: httpx.AsyncClient, icms: RunningIcms, key: str = HAWK_KEY) -> IcmsClient:
    return IcmsClient(http, icms.url, Credentials(HAWK_ID, key.encode()))


def reply_body(simulator: IcmsSimulator) -> dict[str, object]:
    first, second = simulator.new_licences(2)
    return {
        "run_number": "29236",
        "accepted": [{"id": first.licence["id"]}],
        "rejected": [
            {
                "id": second.licence["id"],
                "errors": [{"error_code": "1234", "error_msg": "Invalid “1234A6” thingy"}],
            }
        ],
    }


async def test_a_licence_reply_reaches_icms_signed_and_its_answer_verifies(
    http: httpx.AsyncClient, icms: RunningIcms
) -> None:
    body = reply_body(icms.simulator)

    await client(http, icms).send_licence_reply(body)

    status = icms.simulator.status()
    assert status["totals"]["final"] == 2
    outcomes = [(item["outcome"], item["run_number"]) for item in status["licences"].values()]
    assert outcomes == [("accepted", "29236"), ("rejected", "29236")]
    [rejected] = [item for item in status["licences"].values() if item["outcome"] == "rejected"]
    assert rejected["errors"] == [{"error_code": "1234", "error_msg": "Invalid “1234A6” thingy"}]


def test_the_body_is_pythons_default_json_with_ascii_escapes() -> None:
    body = {"run_number": "1", "accepted": [], "rejected": [{"id": "x", "msg": "“q”"}]}
    assert icms_json(body) == (
        b'{"run_number": "1", "accepted": [], "rejected": [{"id": "x", "msg": "\\u201cq\\u201d"}]}'
    )
    assert icms_json(body) == json.dumps(body).encode()


async def test_usage_data_and_connection_check(http: httpx.AsyncClient, icms: RunningIcms) -> None:
    usage = {"usage_data": [{"licence_ref": "GBOIL9089579F", "licence_status": "O"}]}

    await client(http, icms).send_usage_data(usage)
    await client(http, icms).check_connection()

    assert icms.simulator.usage == usage["usage_data"]
    assert icms.simulator.callbacks == 2


async def test_a_500_is_transient(http: httpx.AsyncClient, icms: RunningIcms) -> None:
    icms.simulator.fault = "error_500"
    with pytest.raises(IcmsUnavailableError) as raised:
        await client(http, icms).send_licence_reply(reply_body(icms.simulator))
    assert raised.value.transient and raised.value.status == 500


async def test_a_timeout_is_transient(http: httpx.AsyncClient, icms: RunningIcms) -> None:
    icms.simulator.fault = "hang"
    async with httpx.AsyncClient(timeout=0.3) as impatient:
        with pytest.raises(IcmsUnavailableError, match="Timeout exceeded"):
            await client(impatient, icms).send_licence_reply(reply_body(icms.simulator))


async def test_no_icms_listening_is_transient(http: httpx.AsyncClient) -> None:
    unreachable = IcmsClient(http, f"http://127.0.0.1:{free_port()}/", Credentials(HAWK_ID, b"k"))
    with pytest.raises(IcmsUnavailableError, match="Cannot reach ICMS"):
        await unreachable.send_usage_data({"usage_data": []})


@pytest.mark.parametrize("fault", ["bad_signature", "unsigned"])
async def test_an_answer_that_does_not_verify_is_an_error(
    http: httpx.AsyncClient, icms: RunningIcms, fault: str
) -> None:
    icms.simulator.fault = fault  # type: ignore[assignment]
    with pytest.raises(IcmsSignatureError) as raised:
        await client(http, icms).send_licence_reply(reply_body(icms.simulator))
    assert not raised.value.transient
    assert raised.value.status == 200


async def test_a_wrong_key_is_refused_by_icms(http: httpx.AsyncClient, icms: RunningIcms) -> None:
    with pytest.raises(IcmsRejectedError) as raised:
        await client(http, icms, key="not-the-key").send_licence_reply(reply_body(icms.simulator))
    assert raised.value.status == 401
    assert icms.simulator.status()["totals"]["final"] == 0


async def test_icms_refusing_a_body_unsigned_is_reported_as_a_refusal(
    http: httpx.AsyncClient, icms: RunningIcms
) -> None:
    # The original verified the signature first and crashed on ICMS's unsigned 422 (§14.17).
    body = reply_body(icms.simulator)
    body["rejected"][0]["errors"][0]["error_code"] = "AB12"  # type: ignore[index]
    with pytest.raises(IcmsRejectedError) as raised:
        await client(http, icms).send_licence_reply(body)
    assert raised.value.status == 422


async def test_settings_build_a_working_client(
    lg_settings: LicenceGatewaySettings, icms: RunningIcms
) -> None:
    settings = lg_settings.model_copy(
        update={
            "icms_api_url": icms.url.rstrip("/"),  # the slash is added by the setting's validator
            "icms_hawk_id": HAWK_ID,
            "icms_hawk_key": SecretStr(HAWK_KEY),
        }
    )
    settings = LicenceGatewaySettings.model_validate(settings.model_dump())
    async with icms_client(settings) as configured:
        await configured.check_connection()
    assert settings.icms_api_url == icms.url


async def test_settings_without_url_or_key_say_what_to_set(
    lg_settings: LicenceGatewaySettings,
) -> None:
    with pytest.raises(NotConfiguredError, match="LICENCE_GATEWAY_ICMS_API_URL"):
        async with icms_client(lg_settings):
            pass
    with_url = lg_settings.model_copy(update={"icms_api_url": "http://caseworker:8008/"})
    with pytest.raises(NotConfiguredError, match="LICENCE_GATEWAY_ICMS_HAWK_KEY"):
        async with icms_client(with_url):
            pass
