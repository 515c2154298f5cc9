import asyncio
import gc

import httpx

from invoice_checker.main import create_app as create_checker
from invoice_checker.settings import InvoiceCheckerSettings
from licence_gateway.main import create_app as create_gateway
from licence_gateway.settings import LicenceGatewaySettings
from tests.support.apps import app_client
from tests.support.infra import free_port, redis_server

# Nothing listens on port 9 (discard) on the test machine: a dependency that is down.
DEAD_REDIS = "redis://127.0.0.1:9/0"
DEAD_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:9/postgres"


async def test_both_services_ready_with_real_dependencies(
    database_url: str, redis_url: str
) -> None:
    for app in (
        create_gateway(LicenceGatewaySettings(database_url=database_url, redis_url=redis_url)),
        create_checker(InvoiceCheckerSettings(database_url=database_url, redis_url=redis_url)),
    ):
        async with app_client(app) as client:
            assert (await client.get("/healthz")).json() == {"status": "ok"}
            ready = await client.get("/readyz")
            assert ready.status_code == 200
            assert ready.json()["checks"] == {"postgres": "ok", "redis": "ok"}
            assert (await client.get("/docs")).status_code == 200
            assert (await client.get("/openapi.json")).status_code == 200
            metrics = await client.get("/metrics")
            assert 'http_requests_total{method="GET",route="/readyz",status="200"}' in metrics.text


async def test_readiness_names_redis_when_it_is_down(database_url: str) -> None:
    app = create_gateway(LicenceGatewaySettings(database_url=database_url, redis_url=DEAD_REDIS))
    async with app_client(app) as client:
        assert (await client.get("/healthz")).status_code == 200
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.headers["content-type"] == "application/problem+json"
        body = ready.json()
        assert body["checks"]["postgres"] == "ok"
        assert body["checks"]["redis"] == "unreachable"
        assert "redis" in body["detail"]
        # Anonymous callers learn which dependency, never its address or the error text.
        assert "127.0.0.1" not in ready.text and ":9" not in ready.text
        assert "Error" not in ready.text


async def test_readiness_names_postgres_when_it_is_down(redis_url: str) -> None:
    app = create_checker(InvoiceCheckerSettings(database_url=DEAD_POSTGRES, redis_url=redis_url))
    async with app_client(app) as client:
        assert (await client.get("/healthz")).status_code == 200
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"] == {"postgres": "unreachable", "redis": "ok"}
        assert "127.0.0.1" not in ready.text and "postgres@" not in ready.text


async def test_readiness_recovers_when_the_dependency_returns(database_url: str) -> None:
    port = free_port()
    settings = LicenceGatewaySettings(
        database_url=database_url, redis_url=f"redis://127.0.0.1:{port}/0"
    )
    async with app_client(create_gateway(settings)) as client:
        assert (await client.get("/readyz")).status_code == 503
        with redis_server(port):
            for _ in range(50):
                if (await client.get("/readyz")).status_code == 200:
                    break
                await asyncio.sleep(0.1)
            assert (await client.get("/readyz")).status_code == 200
        assert (await client.get("/healthz")).status_code == 200


async def test_unknown_route_and_oversized_body_are_problem_json(
    database_url: str, redis_url: str
) -> None:
    settings = LicenceGatewaySettings(
        database_url=database_url, redis_url=redis_url, max_body_bytes=2048
    )
    async with app_client(create_gateway(settings)) as client:
        missing = await client.get("/no-such-route")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
        assert missing.json()["status"] == 404
        big = await client.post("/healthz", content=b"x" * 5000)
        assert big.status_code == 413
        assert big.json()["title"] == "Content Too Large"
        assert missing.headers["x-request-id"]


async def test_request_id_is_echoed(database_url: str, redis_url: str) -> None:
    app = create_gateway(LicenceGatewaySettings(database_url=database_url, redis_url=redis_url))
    async with app_client(app) as client:
        response = await client.get("/healthz", headers={"X-Request-ID": "abc123"})
        assert response.headers["x-request-id"] == "abc123"
        assert isinstance(response, httpx.Response)


async def test_out_of_range_values_are_a_422_not_a_500(database_url: str, redis_url: str) -> None:
    """Found by fuzzing: an id beyond bigint reached PostgreSQL and came back as a 500."""
    settings = LicenceGatewaySettings(
        database_url=database_url, redis_url=redis_url, admin_token="t" * 32
    )
    async with app_client(create_gateway(settings)) as client:
        response = await client.get(
            f"/admin/mails/{2**70}", headers={"Authorization": f"Bearer {'t' * 32}"}
        )
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"] == "urn:problem:invalid-value"


async def test_a_running_app_keeps_its_start_up_objects_out_of_full_collections() -> None:
    """The lifespan freezes what start-up made (the collector's full passes skip it) and
    unfreezes on shutdown, so the next app in the same process starts clean."""
    settings = InvoiceCheckerSettings(database_url=DEAD_POSTGRES, redis_url=DEAD_REDIS)
    app = create_checker(settings)
    assert gc.get_freeze_count() == 0
    async with app_client(app) as client:
        assert gc.get_freeze_count() > 10_000  # modules, models, routes: a large heap
        assert (await client.get("/healthz")).status_code == 200
    assert gc.get_freeze_count() == 0
