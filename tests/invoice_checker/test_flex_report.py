"""Everyone's saldo (`invoice-checker flex report`): lowest first, problems last, inactive out."""

from __future__ import annotations

import uuid
from datetime import date

from click.testing import CliRunner
from sqlalchemy.ext.asyncio import AsyncSession

from invoice_checker.cli import main
from invoice_checker.jobs.flex import SaldoLine, current_saldos
from invoice_checker.store.flex import FlexTimeCorrection, WorkContract
from tests.invoice_checker.directory_factories import make_user


def contract(user_guid: uuid.UUID, start: date, end: date) -> WorkContract:
    return WorkContract(user_guid=user_guid, start_date=start, end_date=end)


async def test_saldos_lowest_first(db_session: AsyncSession) -> None:
    year = (date(2018, 1, 1), date(2018, 12, 31))
    high = await make_user(db_session, "High", "Saldo", email="high@example.com")
    low = await make_user(db_session, "Low", "Saldo", email="low@example.com")
    gap = await make_user(db_session, "Gap", "Person", email="gap@example.com")
    gone = await make_user(db_session, "Gone", "Person", email="gone@example.com", archived=True)
    await make_user(db_session, "No", "Contract", email="none@example.com")
    for person in (high, low, gone):
        db_session.add(contract(person.guid, *year))
    db_session.add(contract(gap.guid, date(2018, 1, 1), date(2018, 1, 31)))
    db_session.add(contract(gap.guid, date(2018, 2, 5), date(2018, 12, 31)))
    db_session.add(FlexTimeCorrection(user_guid=high.guid, date=date(2018, 3, 1), set_to=130))
    db_session.add(FlexTimeCorrection(user_guid=low.guid, date=date(2018, 3, 1), set_to=-50))
    await db_session.flush()

    lines = await current_saldos(db_session, date(2018, 3, 2))

    assert lines == [
        # The set_to day itself is processed (1 March unmarked: -7.5 h), and March's KIKY 2 h.
        SaldoLine("low@example.com", -59.5),
        SaldoLine("high@example.com", 120.5),
        SaldoLine(
            "gap@example.com", None, "Hour markings for 2018-02-01 for Gap Person, but no contract."
        ),
    ]
    ignoring = await current_saldos(db_session, date(2018, 3, 2), ignore_events=True)
    assert [line.email for line in ignoring][:2] == ["high@example.com", "low@example.com"]


def test_report_command_runs(database_url: str, redis_url: str) -> None:
    env = {"INVOICE_CHECKER_DATABASE_URL": database_url, "INVOICE_CHECKER_REDIS_URL": redis_url}
    result = CliRunner().invoke(main, ["flex", "report", "--flex-end-date", "2018-02-28"], env=env)
    assert result.exit_code == 0, result.stderr
