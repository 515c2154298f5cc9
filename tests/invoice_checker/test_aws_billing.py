"""AWS billing: the CSV parser (vector + properties) and the import from a real S3 stand-in
(moto in server mode), which must be idempotent and refresh the month's invoice stats."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from arq.connections import ArqRedis
from arq.worker import Worker
from hypothesis import given, settings
from hypothesis import strategies as st
from moto.server import ThreadedMotoServer
from pydantic import SecretStr
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from invoice_checker.domain.aws_billing import (
    REQUIRED_COLUMNS,
    BillingFileError,
    billing_file_key,
    months_to_import,
    parse_billing_csv,
)
from invoice_checker.jobs.aws import import_billing_month
from invoice_checker.jobs.queue import QUEUE_NAME
from invoice_checker.jobs.worker import build_worker_settings
from invoice_checker.settings import InvoiceCheckerSettings
from invoice_checker.store.aws import (
    AmazonInvoiceRow,
    AmazonLinkedAccount,
    ProjectAmazonAccount,
    UserAmazonAccount,
    invoices_of_month,
    link_users_by_name,
)
from invoice_checker.store.invoices import Invoice
from invoice_checker.store.syncs import Event
from invoice_checker.store.workflow import InvoiceCurrencyTotal
from service_kit.settings import NotConfiguredError
from tests.invoice_checker.directory_factories import make_project, make_user
from tests.support.infra import free_port

VECTOR = json.loads((Path(__file__).parent / "fixtures" / "aws" / "aws_import.json").read_text())
FEBRUARY = date(2018, 2, 1)
BUCKET = "billing-test"
PREFIX = "321914701408-aws-billing-csv-"


def test_vector_rows_parse_as_the_original_stored_them() -> None:
    rows = {row.record_id: row for row in parse_billing_csv(VECTOR["inputs"]["csv"], FEBRUARY)}
    assert len(rows) == len(VECTOR["expected_rows"])
    for expected in VECTOR["expected_rows"]:
        row = rows[expected["record_id"]]
        assert row.record_type == expected["record_type"]
        assert row.linked_account_id == expected["linked_account_id"]
        assert row.product_code == expected["product_code"]
        assert row.usage_type == expected["usage_type"]
        assert row.usage_quantity == expected["usage_quantity"]
        assert row.total_cost == expected["total_cost"]
        assert row.currency == expected["currency"]
        assert row.invoice_month.isoformat() == expected["invoice_month"]
        assert row.billing_period_start is not None and row.billing_period_end is not None
        assert row.billing_period_start.isoformat() == expected["billing_period_start"]
        assert row.billing_period_end.isoformat() == expected["billing_period_end"]
    names = {row.linked_account_id: row.linked_account_name for row in rows.values()}
    assert names == {a["linked_account_id"]: a["name"] for a in VECTOR["expected_linked_accounts"]}


def test_a_file_without_the_columns_is_refused() -> None:
    with pytest.raises(BillingFileError, match="lacks the columns LinkedAccountId"):
        parse_billing_csv("a,b\n1,2\n", FEBRUARY)


def _csv(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=REQUIRED_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _row(**cells: str) -> dict[str, str]:
    return {column: cells.get(column, "") for column in REQUIRED_COLUMNS}


def test_bad_cells_name_their_line_and_column() -> None:
    no_record = _csv([_row(LinkedAccountId="1")])
    with pytest.raises(BillingFileError, match="line 2: RecordID"):
        parse_billing_csv(no_record, FEBRUARY)
    bad_time = _csv([_row(LinkedAccountId="1", RecordID="9", UsageStartDate="2018-02-01")])
    with pytest.raises(BillingFileError, match="line 2: UsageStartDate"):
        parse_billing_csv(bad_time, FEBRUARY)
    bad_cost = _csv([_row(LinkedAccountId="1", RecordID="9", TotalCost="nan")])
    with pytest.raises(BillingFileError, match="line 2: TotalCost"):
        parse_billing_csv(bad_cost, FEBRUARY)


cell_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp")),
    max_size=30,
)


@settings(max_examples=60, deadline=None)
@given(
    records=st.lists(
        st.tuples(
            st.from_regex(r"[0-9]{1,12}", fullmatch=True),
            st.from_regex(r"[0-9A-Za-z:]{1,40}", fullmatch=True),
            cell_text,
            st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False, width=32)),
            st.datetimes(min_value=datetime(2000, 1, 1)),
        ),
        max_size=20,
    )
)
def test_parser_round_trips_any_written_file(records: list[tuple[Any, ...]]) -> None:
    rows = [
        _row(
            LinkedAccountId=account,
            RecordID=record,
            ItemDescription=description,
            TotalCost="" if cost is None else repr(cost),
            UsageStartDate=moment.strftime("%Y/%m/%d %H:%M:%S"),
        )
        for account, record, description, cost, moment in records
    ]
    parsed = {row.record_id: row for row in parse_billing_csv(_csv(rows), FEBRUARY)}
    latest = {record: values for values in records for record in [values[1]]}
    assert set(parsed) == {record + "2018-02-01" for record in latest}
    for record, (account, _, description, cost, moment) in latest.items():
        row = parsed[record + "2018-02-01"]
        assert row.linked_account_id == account
        assert row.item_description == description.strip()
        assert row.total_cost == cost
        assert row.usage_start is not None
        assert row.usage_start.replace(tzinfo=None) == moment.replace(microsecond=0)


def test_months_to_import() -> None:
    assert months_to_import(date(2018, 3, 15)) == [date(2018, 3, 1)]
    assert months_to_import(date(2018, 3, 4)) == [date(2018, 2, 1), date(2018, 3, 1)]
    assert months_to_import(date(2018, 1, 2)) == [date(2017, 12, 1), date(2018, 1, 1)]
    assert billing_file_key(PREFIX, 2018, 2) == "321914701408-aws-billing-csv-2018-02.csv"


@pytest.fixture(scope="module")
def s3_url() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    boto3.client(
        "s3",
        endpoint_url=url,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="eu-west-1",
    ).create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    yield url
    server.stop()


@pytest.fixture
def aws_settings(ic_settings: InvoiceCheckerSettings, s3_url: str) -> InvoiceCheckerSettings:
    return ic_settings.model_copy(
        update={
            "aws_access_key_id": "test",
            "aws_secret_access_key": SecretStr("test"),
            "aws_s3_endpoint_url": s3_url,
            "aws_billing_bucket": BUCKET,
            "aws_billing_key_prefix": PREFIX,
        }
    )


def _upload(url: str, month: date, content: str) -> None:
    boto3.client(
        "s3",
        endpoint_url=url,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="eu-west-1",
    ).put_object(
        Bucket=BUCKET, Key=billing_file_key(PREFIX, month.year, month.month), Body=content.encode()
    )


async def _stored_rows(session: AsyncSession) -> list[tuple[Any, ...]]:
    rows = await session.execute(
        select(
            AmazonInvoiceRow.record_id,
            AmazonInvoiceRow.linked_account_id,
            AmazonInvoiceRow.total_cost,
            AmazonInvoiceRow.billing_period_start,
        )
        .where(AmazonInvoiceRow.invoice_month == FEBRUARY)
        .order_by(AmazonInvoiceRow.record_id)
    )
    return [tuple(row) for row in rows]


async def test_import_from_s3_twice_gives_the_same_invoices_and_rows(
    db_session: AsyncSession, aws_settings: InvoiceCheckerSettings, s3_url: str
) -> None:
    project = await make_project(db_session, "Webshop")
    db_session.add(AmazonLinkedAccount(linked_account_id="111111111111", name="old name"))
    await db_session.flush()
    db_session.add(
        ProjectAmazonAccount(project_guid=project.guid, linked_account_id="111111111111")
    )
    await db_session.flush()
    _upload(s3_url, FEBRUARY, VECTOR["inputs"]["csv"])

    first = await import_billing_month(db_session, aws_settings, FEBRUARY)
    invoices_once = await invoices_of_month(db_session, FEBRUARY)
    rows_once = await _stored_rows(db_session)
    second = await import_billing_month(db_session, aws_settings, FEBRUARY)

    assert "Imported 4 AWS billing rows for 2018-02" in first
    assert "0 invoices created" in second
    assert invoices_once == [(project.guid, FEBRUARY)]  # the vector's get-or-created invoice
    assert await invoices_of_month(db_session, FEBRUARY) == invoices_once
    assert await _stored_rows(db_session) == rows_once
    assert [r[0] for r in rows_once] == sorted(r["record_id"] for r in VECTOR["expected_rows"])
    accounts = (await db_session.execute(select(AmazonLinkedAccount))).scalars().all()
    assert {a.linked_account_id: a.name for a in accounts} == {
        a["linked_account_id"]: a["name"] for a in VECTOR["expected_linked_accounts"]
    }
    totals = {r[1]: r[2] for r in rows_once if r[0].startswith("AccountTotal")}
    assert totals == VECTOR["expected_billing_for_month"]
    invoice = (await db_session.execute(select(Invoice))).scalars().one()
    assert invoice.stats_refreshed_at is not None  # the one stats recomputation ran
    totals_of_invoice = await db_session.execute(
        select(InvoiceCurrencyTotal.currency, InvoiceCurrencyTotal.amount).where(
            InvoiceCurrencyTotal.invoice_id == invoice.id
        )
    )
    # No hours yet (EUR 0); the project account's AccountTotal in its own currency.
    assert dict(totals_of_invoice.all()) == {"EUR": 0.0, "USD": 8.7087}
    events = (
        (await db_session.execute(select(Event).where(Event.event_type == "sync_aws_invoice")))
        .scalars()
        .all()
    )
    assert len(events) == 2 and all(e.succeeded for e in events)


async def test_reimport_deletes_rows_gone_from_the_file(
    db_session: AsyncSession, aws_settings: InvoiceCheckerSettings, s3_url: str
) -> None:
    _upload(s3_url, FEBRUARY, VECTOR["inputs"]["csv"])
    await import_billing_month(db_session, aws_settings, FEBRUARY)
    shorter = "\r\n".join(VECTOR["inputs"]["csv"].split("\r\n")[:2]) + "\r\n"
    _upload(s3_url, FEBRUARY, shorter)
    message = await import_billing_month(db_session, aws_settings, FEBRUARY)
    assert "3 old rows deleted" in message
    assert [r[0] for r in await _stored_rows(db_session)] == ["10012018-02-01"]


async def test_a_month_without_a_file_imports_nothing(
    db_session: AsyncSession, aws_settings: InvoiceCheckerSettings
) -> None:
    message = await import_billing_month(db_session, aws_settings, date(2019, 7, 1))
    assert message.startswith("No AWS billing file 321914701408-aws-billing-csv-2019-07.csv")
    count = await db_session.scalar(select(func.count()).select_from(AmazonInvoiceRow))
    assert count == 0


async def test_a_broken_file_stores_nothing(
    db_session: AsyncSession, aws_settings: InvoiceCheckerSettings, s3_url: str
) -> None:
    march = date(2018, 3, 1)
    _upload(s3_url, march, "not,a,billing,file\n")
    with pytest.raises(BillingFileError):
        await import_billing_month(db_session, aws_settings, march)
    assert await db_session.scalar(select(func.count()).select_from(AmazonInvoiceRow)) == 0


async def test_import_without_credentials_says_what_to_set(
    db_session: AsyncSession, ic_settings: InvoiceCheckerSettings
) -> None:
    with pytest.raises(NotConfiguredError, match="INVOICE_CHECKER_AWS_ACCESS_KEY_ID"):
        await import_billing_month(db_session, ic_settings, FEBRUARY)


async def test_people_are_linked_to_the_one_account_named_like_them(
    db_session: AsyncSession,
) -> None:
    alice = await make_user(db_session, "Alice", "Admin")
    bob = await make_user(db_session, "Bob", "Builder")
    await make_user(db_session, "Carol", "Nomatch")
    db_session.add_all(
        [
            AmazonLinkedAccount(linked_account_id="1", name="Alice Admin"),
            AmazonLinkedAccount(linked_account_id="2", name="Bob Builder"),
            AmazonLinkedAccount(linked_account_id="3", name="Bob Builder"),  # ambiguous: skipped
        ]
    )
    await db_session.flush()
    assert await link_users_by_name(db_session) == 1
    assert await link_users_by_name(db_session) == 0  # idempotent
    links = (await db_session.execute(select(UserAmazonAccount))).scalars().all()
    assert [(link.user_guid, link.linked_account_id) for link in links] == [(alice.guid, "1")]
    assert bob.guid not in {link.user_guid for link in links}


async def test_the_worker_runs_a_queued_import(
    aws_settings: InvoiceCheckerSettings, s3_url: str, redis: ArqRedis, engine: AsyncEngine
) -> None:
    """End to end through arq: the job is registered on the worker and commits its rows."""
    july = date(2017, 7, 1)
    content = VECTOR["inputs"]["csv"].replace("2018/02/", "2017/07/")
    _upload(s3_url, july, content)
    job = await redis.enqueue_job("import_aws_billing", 2017, 7, _queue_name=QUEUE_NAME)
    assert job is not None
    options = {
        **build_worker_settings(aws_settings),
        "burst": True,
        "poll_delay": 0,
        "handle_signals": False,
    }
    worker = Worker(**options, redis_pool=redis)
    try:
        await worker.main()
        assert worker.jobs_failed == 0
        assert (await job.result(timeout=1)).startswith("Imported 4 AWS billing rows for 2017-07")
        async with engine.connect() as connection:
            stored = await connection.scalar(
                select(func.count())
                .select_from(AmazonInvoiceRow)
                .where(AmazonInvoiceRow.invoice_month == july)
            )
        assert stored == 4
    finally:
        await worker.close()
        async with engine.begin() as connection:
            await connection.execute(
                delete(AmazonInvoiceRow).where(AmazonInvoiceRow.invoice_month == july)
            )
            accounts = [a["linked_account_id"] for a in VECTOR["expected_linked_accounts"]]
            await connection.execute(
                delete(AmazonLinkedAccount).where(
                    AmazonLinkedAccount.linked_account_id.in_(accounts)
                )
            )
            await connection.execute(delete(Event).where(Event.event_type == "sync_aws_invoice"))
