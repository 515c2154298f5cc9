"""`licence-gateway simulate ...`: one command per simulator, each a long-running server."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import click


@click.group()
def simulate() -> None:
    """Run a local stand-in for one of the gateway's outside parties."""


@simulate.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--smtp-port", default=2525, show_default=True, help="licenceData comes in here")
@click.option("--pop3-port", default=1110, show_default=True, help="replies are read here")
@click.option("--reply-delay", default=1.0, show_default=True, help="seconds before a reply shows")
@click.option("--seed", default=0, show_default=True, help="same seed, same outcomes")
@click.option("--accept-ratio", default=0.8, show_default=True, help="share of accepted licences")
@click.option("--file-error-ratio", default=0.0, show_default=True, help="share of files refused")
@click.option("--smtp-username", default="licence-gateway", show_default=True, help="'' = no login")
@click.option("--smtp-password", default="simulator", show_default=True)
@click.option("--mailbox-user", default="icms-mailbox@licence-gateway.local", show_default=True)
@click.option("--mailbox-password", default="simulator", show_default=True)
@click.option("--reply-sender", default="chief@hmrc.simulator.local", show_default=True)
@click.option("--xoauth2-token", help="accept this static bearer token (XOAUTH2)")
@click.option("--introspection-url", help="validate XOAUTH2 tokens at this endpoint")
@click.option("--introspection-ca", help="CA file (PEM) for an https introspection endpoint")
@click.option("--mailbox-dir", type=click.Path(path_type=Path), help="persist mail (else memory)")
@click.option("--tls-cert", type=click.Path(exists=True, path_type=Path), help="enables STARTTLS")
@click.option("--tls-key", type=click.Path(exists=True, path_type=Path))
@click.option("--usage-every", type=float, help="file a usageData e-mail every N seconds")
@click.option("--status-file", type=click.Path(path_type=Path), help="write totals here as JSON")
def hmrc(**options: Any) -> None:
    """HMRC CHIEF: SMTP in (licenceData), POP3 out (licenceReply, usageData)."""
    from licence_gateway.simulators import hmrc as simulator
    from licence_gateway.simulators.pop3_server import (
        introspection_token_check,
        static_token_check,
    )
    from service_kit.logging import configure_logging

    configure_logging("INFO")
    token_check = None
    if options["introspection_url"]:
        token_check = introspection_token_check(
            options["introspection_url"], options["introspection_ca"]
        )
    elif options["xoauth2_token"]:
        token_check = static_token_check(options["xoauth2_token"])
    config = simulator.HmrcConfig(
        host=options["host"],
        smtp_port=options["smtp_port"],
        pop3_port=options["pop3_port"],
        smtp_username=options["smtp_username"],
        smtp_password=options["smtp_password"],
        mailbox_user=options["mailbox_user"],
        mailbox_password=options["mailbox_password"],
        reply_sender=options["reply_sender"],
        reply_delay=options["reply_delay"],
        mix=simulator.OutcomeMix(
            seed=options["seed"],
            accept_ratio=options["accept_ratio"],
            file_error_ratio=options["file_error_ratio"],
        ),
        mailbox_folder=options["mailbox_dir"],
        tls_context=simulator.tls_context(options["tls_cert"], options["tls_key"]),
        status_file=options["status_file"],
    )
    asyncio.run(simulator.serve(config, token_check, options["usage_every"]))
