"""Operator commands (reference section 10): the click front of `jobs/operations.py`.

Each prints what it did (or, with --dry-run, what it would do) and exits 0; a refusal or a
failure prints one `error:` line on stderr and exits 1 (2 when a setting is missing).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import click
from sqlalchemy.exc import DBAPIError

from licence_gateway.adapters.icms import IcmsError
from licence_gateway.adapters.pop3 import Pop3Error
from licence_gateway.adapters.smtp import SmtpError
from licence_gateway.domain.chief import FakeReply
from licence_gateway.jobs.batching import BatcherBusy, SendFailed
from licence_gateway.jobs.context import MailFlow, open_mail_flow
from licence_gateway.jobs.operations import (
    Refused,
    Say,
    check_email_sending,
    check_icms_connection,
    check_mailbox,
    fake_reply,
    recreate_and_send,
    redeliver,
    resend_email,
    set_skip_flag,
)
from licence_gateway.settings import LicenceGatewaySettings, get_settings
from service_kit.cli import fail, settings_or_exit
from service_kit.settings import NotConfiguredError


def run(work: Callable[[MailFlow], Awaitable[None]]) -> None:
    """Run one command's work with a MailFlow; turn every expected failure into one clear line."""
    settings = settings_or_exit(get_settings)

    async def main(settings: LicenceGatewaySettings) -> None:
        async with open_mail_flow(settings, application_name="licence_gateway_ops") as flow:
            await work(flow)

    try:
        asyncio.run(main(settings))
    except NotConfiguredError as exc:
        fail(str(exc), 2)
    except (Refused, BatcherBusy, SendFailed, SmtpError, Pop3Error, IcmsError) as exc:
        fail(str(exc), 1)
    # asyncpg's own errors as well: the batching job runs some statements on the driver directly.
    except (OSError, DBAPIError, asyncpg.PostgresError) as exc:
        fail(f"cannot use the database: {exc}".splitlines()[0], 1)


def dry_run_option(function: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--dry-run", is_flag=True, help="Say what would be done; change and send nothing."
    )(function)


# --- click -----------------------------------------------------------------------------------


def add_ops_commands(group: click.Group) -> None:
    say: Say = click.echo

    @group.command("resend-email")
    @click.argument("mail_id", type=int)
    @dry_run_option
    def resend_email_command(mail_id: int, dry_run: bool) -> None:
        """Send a licenceData mail again: same bytes, same Message-ID (HMRC never got it)."""
        run(lambda flow: resend_email(flow, mail_id, dry_run, say))

    @group.command("recreate-and-send")
    @click.option("--mail-id", type=int, help="The mail to recreate (default: the one in flight).")
    @dry_run_option
    def recreate_and_send_command(mail_id: int | None, dry_run: bool) -> None:
        """Send the licences CHIEF did not process again, under the next run number."""
        run(lambda flow: recreate_and_send(flow, mail_id, dry_run, say))

    @group.command("set-skip-flag")
    @click.argument("payload_id", type=int)
    @click.option("--unset", is_flag=True, help="Clear the flag: the payload is sent again.")
    @dry_run_option
    def set_skip_flag_command(payload_id: int, unset: bool, dry_run: bool) -> None:
        """Keep an unsent payload out of every batch (or, with --unset, let it go)."""
        run(lambda flow: set_skip_flag(flow, payload_id, not unset, dry_run, say))

    @group.command("redeliver")
    @click.argument("payload_id", type=int)
    @dry_run_option
    def redeliver_command(payload_id: int, dry_run: bool) -> None:
        """Send the outcome of a licence ICMS refused (parked) to ICMS again."""
        run(lambda flow: redeliver(flow, payload_id, dry_run, say))

    @group.command("fake-reply")
    @click.option("--outcome", type=click.Choice([o.value for o in FakeReply]), default="accept")
    @dry_run_option
    def fake_reply_command(outcome: str, dry_run: bool) -> None:
        """Development only: answer the mail in flight as CHIEF would."""
        run(lambda flow: fake_reply(flow, FakeReply(outcome), dry_run, say))

    @group.command("check-email-sending")
    @click.option("--send-to", help="Recipient (default: the CHIEF address).")
    @dry_run_option
    def check_email_sending_command(send_to: str | None, dry_run: bool) -> None:
        """Send a test e-mail with a non-ASCII attachment through the configured SMTP server."""
        run(lambda flow: check_email_sending(flow, send_to, dry_run, say))

    @group.command("check-mailbox")
    @click.option("--fetch-email", is_flag=True, help="Also show the last three messages.")
    @dry_run_option
    def check_mailbox_command(fetch_email: bool, dry_run: bool) -> None:
        """Log in to the HMRC mailbox and count its messages (deletes nothing)."""
        run(lambda flow: check_mailbox(flow, fetch_email, dry_run, say))

    @group.command("check-icms-connection")
    @dry_run_option
    def check_icms_connection_command(dry_run: bool) -> None:
        """POST a Hawk-signed {"foo": "bar"} to ICMS and check its signed answer."""
        run(lambda flow: check_icms_connection(flow, dry_run, say))
