"""The `licence-gateway` command."""

from __future__ import annotations

import click

from licence_gateway.cli_chief import chief
from licence_gateway.cli_ops import add_ops_commands
from licence_gateway.jobs.worker import build_worker_settings
from licence_gateway.settings import get_settings
from service_kit.cli import ServiceSpec, add_dev_commands, add_standard_commands

SPEC = ServiceSpec(
    name="licence_gateway",
    load_settings=get_settings,
    app_factory="licence_gateway.main:create_app",
    worker_settings=build_worker_settings,
    default_port=8000,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Licence gateway: ICMS licence instructions to HMRC CHIEF and back."""


add_standard_commands(main, SPEC)
add_ops_commands(main)
main.add_command(chief)
# `simulate …`: the local stand-ins, in a development checkout only (not in the wheel).
add_dev_commands(main, "devtools.simulators.licence_gateway.cli")
