"""Inputs that reached a server error (issue 12): non-ASCII digits as ids, and dates near year 1
or 9999 on any route that takes a date or a month. Each answers a 4xx problem now."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests.invoice_checker.invoice_factories import bearer, make_project, make_token

REPORTED = [
    "/api/v1/hour-entries?user=%C2%B2",
    "/api/v1/hour-entries?project=%C2%B3",
    "/api/v1/reports/front-page?today=0001-01-01",
    "/api/v1/reports/company?today=0001-01-15",
    "/api/v1/reports/clients?today=0001-02-01",
    "/api/v1/reports/sick-leaves?today=0001-01-01",
]
EDGE_DAYS = ["0001-01-01", "0001-01-15", "0001-02-01", "9999-12-31", "9999-12-01"]
EDGE_MONTHS = ["0001-01", "0001-12", "9999-12", "9999-01"]


async def test_the_reported_urls_answer_4xx_problems(
    ic_client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    admin = bearer(await make_token(db_session, "admin"))
    for url in REPORTED:
        response = await ic_client.get(url, headers=admin)
        assert 400 <= response.status_code < 500, (url, response.status_code, response.text)
        assert response.headers["content-type"] == "application/problem+json", url
    # Plain ASCII ids and e-mails still filter; an id beyond 10000ft's range is refused.
    for url in ("/api/v1/hour-entries?user=101", "/api/v1/hour-entries?user=a@example.com"):
        assert (await ic_client.get(url, headers=admin)).status_code == 200
    for name in ("user", "project"):
        url = f"/api/v1/hour-entries?{name}={'9' * 24}"
        assert (await ic_client.get(url, headers=admin)).status_code == 422


def _date_parameters(schema: dict) -> list[tuple[str, str, str]]:
    """(path, query name, 'day' or 'month') for every GET query parameter holding a date."""
    found = []
    for path, operations in schema["paths"].items():
        for parameter in operations.get("get", {}).get("parameters", []):
            options = parameter["schema"].get("anyOf", [parameter["schema"]])
            for option in options:
                if option.get("format") == "date":
                    found.append((path, parameter["name"], "day"))
                elif "(0[1-9]|1[0-2])" in option.get("pattern", ""):
                    found.append((path, parameter["name"], "month"))
    return found


async def test_every_date_and_month_query_refuses_the_edges_of_the_calendar(
    ic_client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    admin = bearer(await make_token(db_session, "admin"))
    project = await make_project(db_session)
    schema = (await ic_client.get("/openapi.json")).json()
    parameters = _date_parameters(schema)
    assert len(parameters) >= 9, parameters  # reports, hour entries, flex, invoices, directory
    ids = {"{project_guid}": str(project.guid), "{client_id}": str(project.client_id)}
    failures = []
    for path, name, kind in parameters:
        url = path
        for placeholder, value in ids.items():
            url = url.replace(placeholder, value)
        if "{" in url:  # a person's flex: any guid reaches the validation first
            url = url.replace("{user_guid}", "00000000-0000-0000-0000-000000000001")
        for value in EDGE_DAYS if kind == "day" else EDGE_MONTHS:
            response = await ic_client.get(url, params={name: value}, headers=admin)
            if not (400 <= response.status_code < 500):
                failures.append(f"{path}?{name}={value}: {response.status_code}")
    assert failures == []


async def test_bodies_with_edge_dates_are_refused(
    ic_client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    admin = bearer(await make_token(db_session, "admin"))
    person = "00000000-0000-0000-0000-000000000001"
    calls = [
        ("/api/v1/syncs", {"kind": "hours", "start": "9999-12-30", "end": "9999-12-31"}),
        (
            f"/api/v1/users/{person}/contracts",
            {"start_date": "0001-01-01", "end_date": "0001-12-31"},
        ),
        (f"/api/v1/users/{person}/flex-corrections", {"date": "9999-12-31", "adjust_by": 1}),
        ("/api/v1/aws-imports", {"month": "0001-01"}),
    ]
    for path, body in calls:
        response = await ic_client.post(path, json=body, headers=admin)
        assert response.status_code == 422, (path, response.status_code, response.text)
