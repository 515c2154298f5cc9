"""`invoice-checker jobs`: list the schedule, run a job once, clear failures."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from invoice_checker.cli import main
from invoice_checker.jobs.schedules import SCHEDULE


@pytest.fixture
def env(database_url: str, redis_url: str) -> dict[str, str]:
    return {
        "INVOICE_CHECKER_DATABASE_URL": database_url,
        "INVOICE_CHECKER_REDIS_URL": redis_url,
        "INVOICE_CHECKER_SLACK_BOT_TOKEN": "",
        "INVOICE_CHECKER_SCHEDULE_FLEX_NOTICE": "off",
    }


def test_list_shows_every_job_with_its_schedule_and_setting(env: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["jobs", "list"], env=env)
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert len(lines) == len(SCHEDULE)
    assert lines[0].split() == [
        "sync-hours",
        "0",
        "*",
        "*",
        "*",
        "*",
        "INVOICE_CHECKER_SCHEDULE_SYNC_HOURS",
    ]
    assert "flex-notice          off" in result.stdout


def test_run_once_prints_the_summary(env: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["jobs", "run", "housekeeping"], env=env)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("Removed ")


def test_failures_are_one_line_and_non_zero(env: dict[str, str]) -> None:
    slack = CliRunner().invoke(main, ["jobs", "run", "slack-sync"], env=env)
    assert slack.exit_code == 1
    assert slack.stderr.strip() == (
        "error: slack-sync failed: Slack is not configured: set INVOICE_CHECKER_SLACK_BOT_TOKEN"
    )
    aws = CliRunner().invoke(main, ["jobs", "import-aws", "2018-02"], env=env)
    assert aws.exit_code == 1 and "INVOICE_CHECKER_AWS_ACCESS_KEY_ID" in aws.stderr
    forced = CliRunner().invoke(main, ["jobs", "run", "housekeeping", "--force"], env=env)
    assert forced.exit_code == 2 and "has no --force" in forced.stderr
    unknown = CliRunner().invoke(main, ["jobs", "run", "nope"], env=env)
    assert unknown.exit_code == 2
