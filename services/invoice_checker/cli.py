"""The `invoice-checker` command."""

from __future__ import annotations

import click

from invoice_checker.cli_admin import create_token, user
from invoice_checker.cli_flex import flex
from invoice_checker.cli_jobs import jobs
from invoice_checker.cli_sync import sync
from invoice_checker.jobs.worker import build_worker_settings
from invoice_checker.settings import get_settings
from invoice_checker.simulators.cli import simulate
from service_kit.cli import ServiceSpec, add_standard_commands

SPEC = ServiceSpec(
    name="invoice_checker",
    load_settings=get_settings,
    app_factory="invoice_checker.main:create_app",
    worker_settings=build_worker_settings,
    default_port=8001,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Invoice checker: Monthly per-project invoices over 10000ft hour entries."""


add_standard_commands(main, SPEC)
main.add_command(flex)
main.add_command(jobs)
main.add_command(create_token)
main.add_command(user)
main.add_command(simulate)
main.add_command(sync)
