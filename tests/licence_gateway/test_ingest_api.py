"""POST /mail/update-licence/ through Hawk, as ICMS sends it: storage, 400, 409 and repeats."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from arq.connections import ArqRedis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from licence_gateway.api.icms_schemas import LICENCE_EXAMPLES
from licence_gateway.domain.licence_validation import validate_licence
from licence_gateway.main import create_app
from licence_gateway.settings import LicenceGatewaySettings
from licence_gateway.store.payloads import LicencePayload
from tests.licence_gateway.icms_client import IcmsClient, icms_client, with_hawk_key
from tests.support.infra import free_port

UPDATE = "/mail/update-licence/"
# The golden request vectors, shared with the CHIEF codec tests.
FIXTURES = Path(__file__).parent / "fixtures" / "icms-hmrc"
GOLDEN_DIR = FIXTURES / "icms" / "licence_data_files"
GOLDEN = [
    *sorted(GOLDEN_DIR.glob("*.json")),
    FIXTURES / "derived/licence_data/recreate_run_124.json",
]


def golden_bodies(path: Path) -> list[dict[str, Any]]:
    bodies: list[dict[str, Any]] = json.loads(path.read_text())["requests"]
    return bodies


def sil_body(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(golden_bodies(GOLDEN_DIR / "fa_sil_insert.json")[0])
    body["licence"].update(changes)
    return body


@pytest.fixture
def hawk_settings(lg_settings: LicenceGatewaySettings) -> LicenceGatewaySettings:
    return with_hawk_key(lg_settings)


@pytest_asyncio.fixture
async def icms(
    hawk_settings: LicenceGatewaySettings, db_session: AsyncSession, redis: ArqRedis
) -> AsyncIterator[IcmsClient]:
    async with icms_client(hawk_settings, db_session) as client:
        yield client


async def stored(session: AsyncSession) -> list[LicencePayload]:
    rows = await session.scalars(select(LicencePayload).order_by(LicencePayload.id))
    return list(rows)


@pytest.mark.parametrize("path", GOLDEN, ids=[p.stem for p in GOLDEN])
async def test_golden_requests_are_stored_as_received(
    path: Path, icms: IcmsClient, db_session: AsyncSession
) -> None:
    bodies = golden_bodies(path)
    for body in bodies:
        signed = await icms.post(UPDATE, body)
        assert signed.response.status_code == 201, signed.response.text
        # The original's rendering: Python json.dumps with its default separators.
        assert signed.response.text == json.dumps({"licence": body["licence"]})
        signed.accept()
    rows = await stored(db_session)
    assert [row.data for row in rows] == [body["licence"] for body in bodies]
    for row, body in zip(rows, bodies, strict=True):
        licence = body["licence"]
        assert (row.icms_id, row.action, row.reference, row.licence_type) == (
            uuid.UUID(licence["id"]),
            licence["action"],
            licence["reference"],
            licence["type"],
        )
        assert row.is_processed is False and row.skip_process is False
        # Quantities print as str() of what ICMS sent, so the stored form must keep it.
        sent = [str(good.get("quantity")) for good in licence.get("goods") or []]
        assert [str(good.get("quantity")) for good in row.data.get("goods") or []] == sent


async def test_number_forms_survive_storage(icms: IcmsClient, db_session: AsyncSession) -> None:
    raw = json.dumps(sil_body()).replace('"quantity": 1,', '"quantity": 26710.0,')
    raw = raw.replace('"quantity": 2,', '"quantity": 1.50,').replace(
        '"quantity": 3,', '"quantity": 26710,'
    )
    raw = raw.replace('"quantity": 4,', '"quantity": "0012.50",')
    signed = await icms.post(UPDATE, raw)
    assert signed.response.status_code == 201, signed.response.text
    db_session.expire_all()
    (row,) = await stored(db_session)
    quantities = [str(good.get("quantity")) for good in row.data["goods"]]
    assert quantities == ["26710.0", "1.5", "26710", "0012.50", "5", "None"]


async def test_same_id_and_action_with_identical_licence_answers_201_and_stores_once(
    icms: IcmsClient, db_session: AsyncSession
) -> None:
    body = sil_body()
    first = await icms.post(UPDATE, body)
    # Same licence, keys in another order: still the same object.
    reordered = {"licence": dict(reversed(list(body["licence"].items())))}
    again = await icms.post(UPDATE, reordered)
    assert first.response.status_code == again.response.status_code == 201
    assert again.response.json() == first.response.json()
    again.accept()
    assert len(await stored(db_session)) == 1


async def test_same_id_and_action_with_another_licence_is_a_409(
    icms: IcmsClient, db_session: AsyncSession
) -> None:
    await icms.post(UPDATE, sil_body())
    other = await icms.post(UPDATE, sil_body(restrictions="Other restrictions"))
    assert other.response.status_code == 409
    errors = other.response.json()["errors"]
    assert "already received with different content" in errors[0]["licence"]["id"][0]
    other.accept()
    # A number in another form is another licence too: it would print differently.
    goods = sil_body()["licence"]["goods"]
    goods[0]["quantity"] = 1.0
    assert (await icms.post(UPDATE, sil_body(goods=goods))).response.status_code == 409
    (row,) = await stored(db_session)
    assert row.data == sil_body()["licence"]


async def test_same_id_with_another_action_is_stored_too(
    icms: IcmsClient, db_session: AsyncSession
) -> None:
    cancel = golden_bodies(GOLDEN_DIR / "fa_sil_cancel.json")[0]
    insert = sil_body(id=cancel["licence"]["id"])
    assert (await icms.post(UPDATE, insert)).response.status_code == 201
    assert (await icms.post(UPDATE, cancel)).response.status_code == 201
    assert [row.action for row in await stored(db_session)] == ["insert", "cancel"]


async def test_invalid_licence_is_a_400_in_the_original_shape_and_nothing_is_stored(
    icms: IcmsClient, db_session: AsyncSession
) -> None:
    signed = await icms.post(UPDATE, sil_body(reference="not a reference", end_date="2020-01-01"))
    assert signed.response.status_code == 400
    errors = signed.response.json()["errors"]
    assert list(errors[0]) == ["licence"]
    assert "reference" in errors[0]["licence"]
    assert all(isinstance(m, list) for m in errors[0]["licence"].values())
    signed.accept()
    assert await stored(db_session) == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"", {"detail"}),
        (b"not json", {"detail"}),
        (b'{"licence": ', {"detail"}),
        (b"\xff\xfe", {"detail"}),
        (b"[1, 2]", {"errors"}),
        (b'"licence"', {"errors"}),
        (b"{}", {"errors"}),
        (b'{"licence": null}', {"errors"}),
        (b'{"licence": [1]}', {"errors"}),
        (b'{"licence": {}}', {"errors"}),
        (b'{"licence": {"type": "XYZ", "action": "insert"}}', {"errors"}),
        (b'{"licence": {"type": "SIL", "action": "delete"}}', {"errors"}),
        (b'{"licence": {"type": "SIL"}}', {"errors"}),
        (b'{"licence": {"action": "cancel"}}', {"errors"}),
        (b'{"licence": {"type": ["SIL"], "action": {"a": 1}}}', {"errors"}),
        (b'{"licence": {"type": "SIL", "note": "\\u0000"}}', {"errors"}),
        (b'{"licence": {"type": "SIL", "note": NaN}}', {"detail"}),
        (b'{"licence": {"note": "\\ud800"}}', {"detail"}),
    ],
)
async def test_bodies_the_original_answered_500_get_a_400(
    body: bytes, expected: set[str], icms: IcmsClient, db_session: AsyncSession
) -> None:
    signed = await icms.post(UPDATE, body)
    assert signed.response.status_code == 400, signed.response.text
    assert set(signed.response.json()) == expected
    signed.accept()
    assert await stored(db_session) == []


async def test_a_nul_character_hidden_in_an_unknown_key_is_refused(
    icms: IcmsClient, db_session: AsyncSession
) -> None:
    signed = await icms.post(UPDATE, json.dumps(sil_body(extra="a\u0000b")))
    assert signed.response.status_code == 400
    assert await stored(db_session) == []


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(), children, max_size=3)
    ),
    max_leaves=8,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    changes=st.dictionaries(
        st.sampled_from(
            ["type", "action", "id", "reference", "goods", "organisation", "start_date"]
        ),
        json_values,
        max_size=3,
    )
)
async def test_any_licence_gets_201_or_400_never_500(
    changes: dict[str, Any], icms: IcmsClient, db_session: AsyncSession
) -> None:
    body = sil_body(**({"id": str(uuid.uuid4())} | changes))
    signed = await icms.post(UPDATE, body)
    assert signed.response.status_code in (201, 400), signed.response.text
    assert (signed.response.status_code == 201) == (validate_licence(body["licence"]) == {})
    signed.accept()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
async def test_any_body_bytes_get_an_answer_never_500(body: bytes, icms: IcmsClient) -> None:
    signed = await icms.post(UPDATE, body)
    assert signed.response.status_code == 400, signed.response.text
    signed.accept()


async def test_check_connection_answers_like_the_original(icms: IcmsClient) -> None:
    ok = await icms.post("/mail/check-icms-hmrc-connection/", {"foo": "bar"})
    assert (ok.response.status_code, ok.response.text) == (200, '{"bar": "foo"}')
    bad = await icms.post("/mail/check-icms-hmrc-connection/", b"{{")
    assert bad.response.status_code == 400 and "JSON parse error" in bad.response.json()["detail"]


async def test_a_201_means_committed(
    hawk_settings: LicenceGatewaySettings, engine: AsyncEngine, redis: ArqRedis
) -> None:
    """No session override here: the app's own engine and transaction, seen from outside."""
    body = sil_body(id=str(uuid.uuid4()))
    try:
        async with icms_client(hawk_settings, None) as client:
            assert (await client.post(UPDATE, body)).response.status_code == 201
        async with AsyncSession(engine) as outside:
            count = await outside.scalar(
                select(func.count()).where(
                    LicencePayload.icms_id == uuid.UUID(body["licence"]["id"])
                )
            )
        assert count == 1
    finally:
        async with AsyncSession(engine) as cleanup:
            await cleanup.execute(
                delete(LicencePayload).where(
                    LicencePayload.icms_id == uuid.UUID(body["licence"]["id"])
                )
            )
            await cleanup.commit()


async def test_database_down_answers_503_signed_not_500(
    hawk_settings: LicenceGatewaySettings, redis: ArqRedis
) -> None:
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nowhere"
    async with icms_client(hawk_settings.model_copy(update={"database_url": url}), None) as client:
        signed = await client.post(UPDATE, sil_body())
    assert signed.response.status_code == 503
    assert "unavailable" in signed.response.json()["detail"]
    signed.accept()


@pytest.mark.parametrize("name", list(LICENCE_EXAMPLES))
def test_openapi_examples_are_valid_licences(name: str) -> None:
    assert validate_licence(LICENCE_EXAMPLES[name]["value"]["licence"]) == {}


def test_openapi_documents_the_body_and_every_reference_resolves(
    hawk_settings: LicenceGatewaySettings,
) -> None:
    document = create_app(hawk_settings).openapi()
    operation = document["paths"][UPDATE]["post"]
    content = operation["requestBody"]["content"]["application/json"]
    assert set(content["examples"]) == {"oil", "dfl", "sil", "san", "nuclear", "cancel"}
    assert {"201", "400", "401", "409"} <= set(operation["responses"])
    refs = {
        part.split('"')[0]
        for part in json.dumps(document).split('"$ref": "#/components/schemas/')[1:]
    }
    assert refs <= set(document["components"]["schemas"])
    assert "LicenceEnvelope" in refs
