"""Flex jobs: the monthly flex-saldo notices and the daily contract checks."""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from invoice_checker.domain.flex import (
    CONTRACT_CHECKS_FROM,
    Correction,
    FlexError,
    calculate_flex_saldo,
    contract_problems,
    is_active,
)
from invoice_checker.domain.slack_messages import flex_notice_attachment, flex_notice_text
from invoice_checker.jobs.runtime import local_today, stepwise_session
from invoice_checker.jobs.slack import NoticeBatch, Plan, forced, send_batch_once
from invoice_checker.settings import InvoiceCheckerSettings
from invoice_checker.store.directory import TenkfeetUser
from invoice_checker.store.events import record_event
from invoice_checker.store.flex import (
    FlexTimeCorrection,
    WorkContract,
    everyones_saldo,
    load_flex_inputs,
    to_contract,
)
from invoice_checker.store.hours import HourEntry
from invoice_checker.store.slack import CONTRACT_CHECK, FLEX_SALDO
from service_kit.settings import NotConfiguredError

logger = logging.getLogger(__name__)


def month_key(day: date) -> str:
    return day.strftime("%Y-%m")


def flex_period(today: date) -> str:
    """The month a flex batch reports: last month."""
    return month_key(today.replace(day=1) - timedelta(days=1))


def flex_plan(
    session: AsyncSession, settings: InvoiceCheckerSettings, today: date, skipped: list[str]
) -> Plan:
    """The flex batch for last month; people whose saldo cannot be computed go to `skipped`."""
    end_date = today.replace(day=1) - timedelta(days=1)
    compared_month = month_key(end_date.replace(day=1) - timedelta(days=1))
    period = month_key(end_date)

    async def plan(batch: NoticeBatch) -> str:
        users = (await session.execute(select(TenkfeetUser).order_by(TenkfeetUser.email))).scalars()
        for user in list(users):
            inputs = await load_flex_inputs(session, user, today=today, flex_last_day=end_date)
            if not is_active(inputs):
                continue
            try:
                result = calculate_flex_saldo(inputs)
            except FlexError as exc:
                skipped.append(f"{user.email}: {exc}")
                continue
            months = {m.month: m for m in result.months}
            saldo = result.cumulative_saldo
            compared = months.get(compared_month)
            change = None if compared is None else saldo - compared.cumulative_saldo
            text = flex_notice_text(saldo, result.kiky.saldo, change)
            if not text:
                continue
            attachment = flex_notice_attachment(
                text, saldo, result.kiky.saldo, change, settings.public_url
            )
            if not user.slack_id:
                logger.info("flex notice not sent: no Slack id", extra={"user": user.email})
                continue
            batch.post(user.slack_id, "Your monthly flex saldo report", [attachment])
            batch.to_admins(f"Following message was sent to {user.full_name}:", [attachment])
        return f"flex saldo ({period})"

    return plan


async def send_flex_notices(
    session: AsyncSession, settings: InvoiceCheckerSettings, today: date, *, force: bool = False
) -> str:
    """Each person's saldo at the end of last month, to those outside the band or whose saldo
    moved more than 10 h, copied to the admins. Once per month unless forced."""
    period = flex_period(today)
    skipped: list[str] = []
    plan = flex_plan(session, settings, today, skipped)
    sent = await send_batch_once(session, settings, FLEX_SALDO, period, plan, force=force)
    if sent is None:
        return f"Flex saldo notices for {period} were already sent"
    message = sent.summary()
    if skipped:
        message += f"; {len(skipped)} people skipped: " + "; ".join(skipped)
    await record_event(session, "send_flex_saldo_notifications", message)
    await session.commit()
    return message


async def find_contract_problems(session: AsyncSession, today: date) -> list[str]:
    """Every person's contract problems, plus any saldo the calculation cannot compute."""
    contracts: dict[uuid.UUID, list[WorkContract]] = defaultdict(list)
    for contract in (await session.execute(select(WorkContract))).scalars():
        contracts[contract.user_guid].append(contract)
    corrections: dict[uuid.UUID, list[Correction]] = defaultdict(list)
    for row in (await session.execute(select(FlexTimeCorrection))).scalars():
        corrections[row.user_guid].append(
            Correction(
                date=row.date,
                adjust_by=None if row.adjust_by is None else float(row.adjust_by),
                set_to=None if row.set_to is None else float(row.set_to),
            )
        )
    entry_dates: dict[uuid.UUID, list[date]] = defaultdict(list)
    rows = await session.execute(
        select(HourEntry.user_guid, HourEntry.date)
        .where(HourEntry.date >= CONTRACT_CHECKS_FROM, HourEntry.user_guid.is_not(None))
        .distinct()
    )
    for guid, day in rows:
        if guid is not None:
            entry_dates[guid].append(day)
    problems: list[str] = []
    users = await session.execute(select(TenkfeetUser).order_by(TenkfeetUser.email))
    for user in users.scalars():
        found = contract_problems(
            user.email,
            [to_contract(c) for c in sorted(contracts[user.guid], key=lambda c: c.start_date)],
            corrections[user.guid],
            entry_dates[user.guid],
        )
        if not found and contracts[user.guid]:
            try:
                calculate_flex_saldo(await load_flex_inputs(session, user, today=today))
            except FlexError as exc:
                found = [f"Flex saldo of {user.email} cannot be computed: {exc}"]
        problems.extend(found)
    return problems


async def check_contracts(
    session: AsyncSession, settings: InvoiceCheckerSettings, today: date
) -> str:
    """Find contract problems; tell the admins on Slack when there are any; always log."""
    problems = await find_contract_problems(session, today)
    message = f"Found {len(problems)} contract problems"
    if problems:
        text = "\n".join(
            [
                "Flex saldos cannot be trusted until these are fixed:",
                *(f"- {p}" for p in problems),
                f"Edit in {settings.public_url}/docs#/flex",
            ]
        )

        async def plan(batch: NoticeBatch) -> str:
            batch.to_admins(text)
            return "contract check"

        try:
            # Every run tells the admins again (forced): a batch of its own, sent once.
            sent = await send_batch_once(
                session, settings, CONTRACT_CHECK, today.isoformat(), plan, force=True
            )
        except NotConfiguredError as exc:
            message += f"; not posted: {exc}"
        else:
            message += "; " + forced(sent).summary()
    await record_event(session, "check_contracts", message, details={"problems": problems})
    await session.commit()
    return message


async def flex_notice_job(ctx: dict[str, Any], force: bool = False) -> str:
    async with stepwise_session(ctx) as (session, settings):
        return await send_flex_notices(session, settings, local_today(ctx), force=force)


async def contract_checks_job(ctx: dict[str, Any]) -> str:
    async with stepwise_session(ctx) as (session, settings):
        return await check_contracts(session, settings, local_today(ctx))


@dataclass(frozen=True)
class SaldoLine:
    email: str
    saldo: float | None  # None: not computable, see `problem`
    problem: str = ""


async def current_saldos(
    session: AsyncSession,
    today: date,
    *,
    flex_last_day: date | None = None,
    ignore_events: bool = False,
) -> list[SaldoLine]:
    """Every active, non-archived person's saldo (with KIKY), lowest first; problems last."""
    people = await everyones_saldo(
        session, today, flex_last_day=flex_last_day, ignore_events=ignore_events
    )
    return [SaldoLine(p.email, p.saldo, p.problem) for p in people]
