"""Hawk on the ICMS routes, checked against mohawk (what ICMS uses) in both directions."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator

import httpx
import mohawk
import pytest
import pytest_asyncio
from arq.connections import ArqRedis
from hypothesis import given
from hypothesis import strategies as st
from mohawk.exc import HawkFail
from sqlalchemy.ext.asyncio import AsyncSession

from licence_gateway.domain.hawk import (
    Credentials,
    HawkError,
    parse_header,
    sign_request,
    verify_request,
    verify_response,
)
from licence_gateway.settings import LicenceGatewaySettings
from tests.licence_gateway.icms_client import (
    HAWK_KEY,
    IcmsClient,
    Signed,
    credentials,
    icms_client,
    with_hawk_key,
)
from tests.support.infra import free_port

CHECK = "/mail/check-icms-hmrc-connection/"
FOO_BAR = {"foo": "bar"}


@pytest.fixture
def settings(lg_settings: LicenceGatewaySettings) -> LicenceGatewaySettings:
    return with_hawk_key(lg_settings)


@pytest_asyncio.fixture
async def icms(
    settings: LicenceGatewaySettings, db_session: AsyncSession, redis: ArqRedis
) -> AsyncIterator[IcmsClient]:
    async with icms_client(settings, db_session) as client:
        yield client


def assert_refused(answer: Signed | httpx.Response, *, server_signed: bool = False) -> None:
    response = answer.response if isinstance(answer, Signed) else answer
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"] == "Hawk"
    assert response.json() == {"detail": "Failed HAWK authentication"}
    if server_signed:
        assert response.headers["Server-Authorization"]
    else:
        assert "Server-Authorization" not in response.headers


async def test_mohawk_signed_request_is_accepted_and_answer_accepted_by_mohawk(
    icms: IcmsClient,
) -> None:
    signed = await icms.post(CHECK, FOO_BAR)
    assert signed.response.status_code == 200
    assert signed.response.json() == {"bar": "foo"}
    header = signed.response.headers["Server-Authorization"]
    nonce = parse_header(signed.sender.request_header)["nonce"]
    assert header.startswith('Hawk mac="') and f'nonce="{nonce}"' in header
    signed.accept()


async def test_4xx_answers_are_signed_too(icms: IcmsClient) -> None:
    signed = await icms.post(CHECK, {"foo": "baz"})
    assert signed.response.status_code == 400
    assert signed.response.json() == {"errors": "Invalid request data: {'foo': 'baz'}"}
    signed.accept()


async def test_authorization_header_is_accepted_as_well(icms: IcmsClient) -> None:
    signed = await icms.post(CHECK, FOO_BAR, header="Authorization")
    assert signed.response.status_code == 200
    signed.accept()


async def test_ext_app_and_dlg_are_covered_by_the_mac(icms: IcmsClient) -> None:
    signed = await icms.post(CHECK, FOO_BAR, ext="some ext", app="an-app", dlg="a-dlg")
    assert signed.response.status_code == 200
    signed.accept()


async def test_replay_is_refused_by_the_same_instance(icms: IcmsClient) -> None:
    first = await icms.post(CHECK, FOO_BAR)
    assert first.response.status_code == 200
    replay = await icms.http.post(
        CHECK, content=first.response.request.content, headers=first.response.request.headers
    )
    assert_refused(replay, server_signed=True)
    # The refusal is signed (its MAC was good), and mohawk accepts that signature.
    Signed(replay, first.sender).accept()


async def test_replay_is_refused_by_another_replica_sharing_redis(
    settings: LicenceGatewaySettings, db_session: AsyncSession, redis: ArqRedis
) -> None:
    async with icms_client(settings, db_session) as one, icms_client(settings, db_session) as two:
        first = await one.post(CHECK, FOO_BAR)
        assert first.response.status_code == 200
        request = first.response.request
        replay = await two.http.post(CHECK, content=request.content, headers=request.headers)
    assert_refused(replay, server_signed=True)


async def test_tampered_body_is_refused(icms: IcmsClient) -> None:
    assert_refused(await icms.post(CHECK, FOO_BAR, signed_body=b'{"foo": "baz"}'))


async def test_tampered_url_is_refused(icms: IcmsClient) -> None:
    assert_refused(await icms.post(CHECK, FOO_BAR, signed_url="http://testserver/mail/other/"))
    assert_refused(await icms.post(CHECK, FOO_BAR, signed_url=f"http://elsewhere{CHECK}"))
    assert_refused(await icms.post(CHECK, FOO_BAR, signed_url=f"http://testserver:8080{CHECK}"))
    assert_refused(await icms.post(CHECK, FOO_BAR, signed_url=f"https://testserver{CHECK}"))


async def test_tampered_content_type_is_refused(icms: IcmsClient) -> None:
    assert_refused(await icms.post(CHECK, FOO_BAR, signed_content_type="text/plain"))


async def test_content_type_parameters_and_case_are_ignored_as_in_mohawk(icms: IcmsClient) -> None:
    signed = await icms.post(CHECK, FOO_BAR, content_type="Application/JSON; charset=utf-8")
    assert signed.response.status_code == 200
    signed.accept()


async def test_clock_skew_of_60_seconds_is_allowed_and_more_is_refused(icms: IcmsClient) -> None:
    now = int(time.time())
    assert (await icms.post(CHECK, FOO_BAR, _timestamp=now - 55)).response.status_code == 200
    assert (await icms.post(CHECK, FOO_BAR, _timestamp=now + 55)).response.status_code == 200
    assert_refused(await icms.post(CHECK, FOO_BAR, _timestamp=now - 65))
    assert_refused(await icms.post(CHECK, FOO_BAR, _timestamp=now + 65))


async def test_unknown_id_and_wrong_key_are_refused(icms: IcmsClient) -> None:
    assert_refused(await icms.post(CHECK, FOO_BAR, credentials=credentials(id_="someone-else")))
    assert_refused(await icms.post(CHECK, FOO_BAR, credentials=credentials(key="wrong key")))


async def test_missing_or_foreign_header_is_refused_whatever_the_body(icms: IcmsClient) -> None:
    for body in (b"not json at all", b'{"licence": {}}', b""):
        for headers in ({}, {"Authorization": "Bearer abc"}, {"Hawk-Authentication": "Hawk x"}):
            response = await icms.http.post("/mail/update-licence/", content=body, headers=headers)
            assert_refused(response)


async def test_request_without_payload_hash_is_refused(icms: IcmsClient) -> None:
    sender = mohawk.Sender(
        credentials(), f"http://testserver{CHECK}", "POST", always_hash_content=False
    )
    assert "hash=" not in sender.request_header
    response = await icms.http.post(
        CHECK, content=b'{"foo": "bar"}', headers={"Hawk-Authentication": sender.request_header}
    )
    assert_refused(response)


async def test_url_is_rebuilt_from_scheme_and_host_header_as_sent(
    settings: LicenceGatewaySettings, db_session: AsyncSession, redis: ArqRedis
) -> None:
    async with icms_client(settings, db_session, "https://Gateway.Example:8443") as client:
        signed = await client.post(CHECK, FOO_BAR)
    assert signed.response.status_code == 200
    signed.accept()


async def test_nonce_store_down_answers_503_signed_not_500(
    settings: LicenceGatewaySettings, db_session: AsyncSession
) -> None:
    offline = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    async with icms_client(offline, db_session) as client:
        signed = await client.post(CHECK, FOO_BAR)
    assert signed.response.status_code == 503
    assert signed.response.json()["detail"].startswith("Replay protection unavailable")
    signed.accept()


async def test_unset_key_refuses_everything(
    lg_settings: LicenceGatewaySettings, db_session: AsyncSession, redis: ArqRedis
) -> None:
    async with icms_client(lg_settings, db_session) as client:
        assert_refused(await client.post(CHECK, FOO_BAR, credentials=credentials(key="")))


async def test_disabled_hawk_takes_unsigned_requests_and_warns_at_start(
    settings: LicenceGatewaySettings,
    db_session: AsyncSession,
    redis: ArqRedis,
    capsys: pytest.CaptureFixture[str],
) -> None:
    disabled = settings.model_copy(update={"hawk_disabled": True})
    async with icms_client(disabled, db_session) as client:
        response = await client.http.post(CHECK, json=FOO_BAR)
    assert response.status_code == 200
    assert "Server-Authorization" not in response.headers
    warnings = [json.loads(line) for line in capsys.readouterr().err.splitlines() if "OFF" in line]
    assert warnings[0]["level"] == "warning"
    assert "Hawk authentication is OFF" in warnings[0]["msg"]


# --- the protocol functions on their own, against mohawk both ways ---------------------------

URL = "https://icms.example/chief/license-data-callback"
BODY = b'{"run_number": "1"}'
TEXT = "text/plain"
OURS = Credentials("icms-api", HAWK_KEY.encode())


def test_our_client_signature_is_accepted_by_mohawk_receiver_and_we_accept_its_answer() -> None:
    sender = sign_request(OURS, method="POST", url=URL, body=BODY, content_type="application/json")
    receiver = mohawk.Receiver(
        lambda _id: credentials(),
        sender.request_header,
        URL,
        "POST",
        content=BODY,
        content_type="application/json",
        seen_nonce=lambda *_: False,
    )
    answer = b'{"ok": true}'
    header = receiver.respond(content=answer, content_type="application/json")
    verify_response(sender, header, answer, "application/json")
    # The nonce and ts the gateway appends (for mohawk issue #50) are accepted as well.
    with_nonce = f'{header}, nonce="{parse_header(sender.request_header)["nonce"]}", ts="1"'
    verify_response(sender, with_nonce, answer, "application/json")
    with pytest.raises(HawkError):
        verify_response(sender, header, b'{"ok": false}', "application/json")
    with pytest.raises(HawkError):
        verify_response(sender, None, answer, "application/json")


def test_verify_request_accepts_mohawk_and_rejects_what_mohawk_rejects() -> None:
    sender = mohawk.Sender(credentials(), URL, "POST", content=BODY, content_type="text/plain")
    header = sender.request_header
    verified = verify_request(
        header, credentials=OURS, method="POST", url=URL, body=BODY, content_type="text/plain"
    )
    assert verified.nonce == parse_header(header)["nonce"]
    for url, body in ((URL + "?x=1", BODY), (URL, BODY + b" ")):
        with pytest.raises(HawkError):
            verify_request(
                header,
                credentials=OURS,
                method="POST",
                url=url,
                body=body,
                content_type="text/plain",
            )
        with pytest.raises(HawkFail):
            mohawk.Receiver(
                lambda _id: credentials(),
                header,
                url,
                "POST",
                content=body,
                content_type="text/plain",
            )


@pytest.mark.parametrize(
    "header",
    [
        "",
        "Basic abc",
        'Hawk id="a", id="b"',
        'Hawk id="a" junk',
        'Hawk unknown="1"',
        'Hawk id="a\\"b"',
        'Hawk id="a\n"',
        "Hawk " + "x" * 5000,
    ],
)
def test_malformed_headers_raise_hawk_error(header: str) -> None:
    with pytest.raises(HawkError):
        parse_header(header)


@given(st.text(max_size=200))
def test_parsing_any_header_raises_nothing_but_hawk_error(header: str) -> None:
    with contextlib.suppress(HawkError):
        parse_header(header)


_HEADER_VALUES = st.text(
    # Printable ASCII but the quote and backslash, as Hawk header values allow.
    alphabet=st.characters(min_codepoint=32, max_codepoint=126, exclude_characters='"\\'),
    max_size=30,
)


@given(
    st.dictionaries(
        st.sampled_from(["id", "ts", "nonce", "hash", "ext", "mac", "app", "dlg"]), _HEADER_VALUES
    )
)
def test_parse_header_reads_back_what_was_written(attributes: dict[str, str]) -> None:
    header = "Hawk " + ", ".join(f'{key}="{value}"' for key, value in attributes.items())
    assert parse_header(header) == attributes
