"""Small runs of the reliability harnesses (tests/reliability) inside `make test`.

`make reliability` runs them in full: 100 kills, every fault scenario. Here: a few kills of the
real gateway workers and APIs (two replicas each, arq's cron), two mail faults, two sync faults
and two Slack faults, each asserting nothing is lost or sent twice.
"""

from __future__ import annotations

import os

from tests.reliability.crash_injection import crash_injection
from tests.reliability.mail_faults import mail_faults
from tests.reliability.slack_faults import slack_faults
from tests.reliability.sync_faults import sync_faults
from tests.support.infra import database_name_for_tests


def redis_db_for_tests() -> int:
    return int(os.environ.get("TEST_REDIS_DB", "15"))


async def test_killing_replicas_loses_no_licence_and_arq_takes_killed_jobs_again() -> None:
    result = await crash_injection(
        kills=5,
        seed=7,
        settle_timeout=150,
        rate=5,
        database=f"{database_name_for_tests()}_crash",
        redis_db=redis_db_for_tests(),
    )

    assert result.runs >= 5
    assert result.details["licences"] > 0
    assert (result.lost, result.conflicting) == (0, 0), result.details
    assert result.details["unknown_outcomes"] == 0
    assert result.details["unexpected_exits"] == []
    assert result.details["unrecovered_jobs"] == []
    assert result.max_recovery_s <= 60


async def test_pop3_cut_mid_retr_and_a_malformed_reply_lose_nothing() -> None:
    outcomes = await mail_faults(
        f"{database_name_for_tests()}_mail",
        redis_db_for_tests(),
        ["pop3-drop-mid-retr", "malformed-email"],
    )

    assert [o.name for o in outcomes] == ["pop3-drop-mid-retr", "malformed-email"]
    for outcome in outcomes:
        assert outcome.licences > 0
        assert (outcome.lost_licences, outcome.lost_emails) == (0, 0), outcome
        assert outcome.final_statuses == ["reply_processed"]


async def test_a_missing_page_and_a_killed_sync_leave_whole_days_and_converge() -> None:
    outcomes = await sync_faults(
        seed=3,
        database=f"{database_name_for_tests()}_sync",
        only=["page-missing-mid-range", "killed-mid-sync"],
    )

    assert [o.name for o in outcomes] == ["page-missing-mid-range", "killed-mid-sync"]
    for outcome in outcomes:
        assert outcome.sync_error is not None  # the fault did stop the sync part-way
        assert (outcome.mixed_days, outcome.unconverged_days) == ([], []), outcome


async def test_unconfirmed_slack_posts_and_a_killed_sender_send_each_notice_once() -> None:
    outcomes = await slack_faults(
        f"{database_name_for_tests()}_slack", seed=5, only=["mixed", "killed-at-random"]
    )

    assert [o.name for o in outcomes] == ["mixed", "killed-at-random"]
    for outcome in outcomes:
        assert outcome.expected > 0
        assert (outcome.double_sent, outcome.lost) == (0, 0), outcome
