"""The invoice list's direct route (`api.invoices_direct`) answers as FastAPI's route does: any
query and any caller get the same status, headers and body from both, and the plain queries
clients send are the direct route's."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from functools import partial
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession

from invoice_checker.api.invoices_direct import plain_query
from invoice_checker.domain.invoice_state import InvoiceState
from invoice_checker.main import create_app
from invoice_checker.settings import InvoiceCheckerSettings
from invoice_checker.store.workflow import InvoiceTag
from tests.invoice_checker.invoice_factories import (
    bearer,
    lead_token,
    make_invoice,
    make_project,
    make_token,
)
from tests.support.apps import app_client

MONTH = date(2032, 5, 1)  # a month no other test uses
TAG = "po-missing"


@dataclass
class Both:
    """The same app reached through its direct route and through FastAPI's router only."""

    direct: httpx.AsyncClient
    routed: httpx.AsyncClient
    callers: dict[str, dict[str, str]]  # name: headers
    project: str  # guid of a project with invoices
    client: int  # its client's id


@pytest.fixture
async def both(
    ic_settings: InvoiceCheckerSettings, db_session: AsyncSession
) -> AsyncIterator[Both]:
    projects = [await make_project(db_session, name=f"P{n}", client=f"C{n}") for n in range(3)]
    for n, project in enumerate(projects):
        await make_invoice(db_session, project, MONTH.replace(month=6))
        invoice = await make_invoice(db_session, project, MONTH)
        invoice.invoice_state = [InvoiceState.CREATED, InvoiceState.SENT][n % 2].value
        invoice.incorrect_entries_count = n
        invoice.incurred_hours = 10.0 * n
        if n:
            db_session.add(InvoiceTag(invoice_id=invoice.id, tag=TAG))
    await db_session.flush()
    callers = {
        "finance": bearer(await make_token(db_session, "finance")),
        "lead": bearer(await lead_token(db_session, projects[1])),
        "employee": bearer(await make_token(db_session, "employee")),
        "nobody": {},
        "unknown token": bearer("not-a-token"),
        "other scheme": {"Authorization": "Basic Zm9vOmJhcg=="},
    }
    app = create_app(ic_settings)
    async with app_client(app, db_session) as direct:
        routed = httpx.ASGITransport(app=partial(FastAPI.__call__, app))
        async with httpx.AsyncClient(transport=routed, base_url=str(direct.base_url)) as client:
            yield Both(direct, client, callers, str(projects[1].guid), projects[1].client_id)


def values(project: str, client: int) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Per parameter: plain values (the direct route's), and other forms the route accepts or
    refuses (left to the route)."""
    plain = {
        "month": ["2032-05", "2032-06", "1999-01"],
        "project": [project, str(uuid.uuid4())],
        "client": [str(client), "7"],
        "state": ["C", "A", "P", "S"],
        "tag": [TAG, "", "x" * 50, "é" * 50, "a b&c+d"],
        "has_problems": ["true", "false"],
        "sort": ["-month", "month", "hours", "-problems", "client"],
        "page": ["1", "2"],
        "page_size": ["1", "2", "1000"],
    }
    other = {
        "month": ["2032-13", "2032-5", " 2032-05", "2032-05\n", "1899-05", "٢٠٣٢-05", ""],
        "project": [project.upper(), project.replace("-", ""), f"{{{project}}}", "x", ""],
        "client": [f"0{client}", "0", "-1", "2147483648", "5.0", ""],
        "state": ["c", "X", ""],
        "tag": ["x" * 51, "é" * 51],
        "has_problems": ["True", "1", "0", "off", ""],
        "sort": ["", "Hours", "-month "],
        "page": ["0", "01", "-1", "1.0", ""],
        "page_size": ["1001", "0", "07", ""],
    }
    return plain, other


@st.composite
def queries(draw: st.DrawFn, project: str, client: int) -> bytes:
    plain, other = values(project, client)
    keys = draw(st.lists(st.sampled_from(sorted(plain)), max_size=5, unique=True))
    pairs = [(key, draw(st.sampled_from(plain[key]) | st.sampled_from(other[key]))) for key in keys]
    tail = ["", "&", "&&", "&state=S", "&page=2", "&page_size=%32", "&%zz=1", "&month", "&x=1"]
    return (urlencode(pairs) + draw(st.sampled_from(tail))).encode()


async def _same_answer(both: Both, query: bytes, caller: str) -> None:
    headers = {**both.callers[caller], "X-Request-Id": "same"}
    url = httpx.URL("/api/v1/invoices", query=query)
    direct = await both.direct.get(url, headers=headers)
    routed = await both.routed.get(url, headers=headers)
    assert (direct.status_code, direct.headers, direct.content) == (
        routed.status_code,
        routed.headers,
        routed.content,
    ), query


@settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
async def test_any_query_and_caller_get_the_routes_answer(both: Both, data: st.DataObject) -> None:
    query = data.draw(queries(both.project, both.client))
    await _same_answer(both, query, data.draw(st.sampled_from(sorted(both.callers))))


async def test_each_value_alone_gets_the_routes_answer(both: Both) -> None:
    plain, other = values(both.project, both.client)
    for key in plain:
        for value in plain[key] + other[key]:
            for caller in ("finance", "lead"):
                await _same_answer(both, urlencode({key: value}).encode(), caller)


@pytest.mark.parametrize(
    "query",
    [
        b"",
        b"month=2026-10&page=1&page_size=50",  # the bench's
        b"month=2032-05&state=C&state=S&tag=po-missing&has_problems=true&sort=hours&page=2",
        b"client=12&project=0b8d6c57-21a7-4f7c-8a9a-3a4f7f6a1e2b&sort=-problems",
    ],
)
def test_plain_queries_are_the_direct_routes(query: bytes) -> None:
    assert plain_query(query) is not None


@pytest.mark.parametrize(
    "query",
    [b"month=2032-05&month=2032-06", b"page=01", b"foo=1", b"page_size=1001", b"state=c"],
)
def test_other_queries_are_left_to_the_route(query: bytes) -> None:
    assert plain_query(query) is None
