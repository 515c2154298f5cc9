"""`licence-gateway simulate ...`: one command per simulator, each a long-running server."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import click


@click.group()
def simulate() -> None:
    """Run a local stand-in for one of the gateway's outside parties."""


RATIO = click.FloatRange(0, 1)


@simulate.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--smtp-port", default=2525, show_default=True, help="licenceData comes in here")
@click.option("--pop3-port", default=1110, show_default=True, help="replies are read here")
@click.option(
    "--reply-delay", default=1.0, type=click.FloatRange(0), show_default=True, help="seconds"
)
@click.option("--seed", default=0, show_default=True, help="same seed, same outcomes")
@click.option(
    "--reply-line-width", default=185, show_default=True, help="pad reply lines as CHIEF; 0: no"
)
@click.option("--accept-ratio", default=0.8, type=RATIO, show_default=True, help="per licence")
@click.option("--file-error-ratio", default=0.0, type=RATIO, show_default=True, help="per file")
@click.option("--smtp-username", default="licence-gateway", show_default=True, help="'' = no login")
@click.option("--smtp-password", default="simulator", show_default=True)
@click.option("--mailbox-user", default="icms-mailbox@licence-gateway.local", show_default=True)
@click.option("--mailbox-password", default="simulator", show_default=True)
@click.option("--reply-sender", default="chief@hmrc.simulator.local", show_default=True)
@click.option(
    "--authserv-id", default="", help="stamp Authentication-Results (dkim, dmarc pass) as this id"
)
@click.option("--xoauth2-token", help="accept this static bearer token (XOAUTH2)")
@click.option("--introspection-url", help="validate XOAUTH2 tokens at this endpoint")
@click.option("--introspection-ca", help="CA file (PEM) for an https introspection endpoint")
@click.option("--mailbox-dir", type=click.Path(path_type=Path), help="persist mail (else memory)")
@click.option("--tls-cert", type=click.Path(exists=True, path_type=Path), help="enables TLS")
@click.option("--tls-key", type=click.Path(exists=True, path_type=Path))
@click.option("--implicit-tls", is_flag=True, help="TLS from the start (SMTPS, POP3S)")
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
        authserv_id=options["authserv_id"],
        reply_delay=options["reply_delay"],
        reply_line_width=options["reply_line_width"],
        mix=simulator.OutcomeMix(
            seed=options["seed"],
            accept_ratio=options["accept_ratio"],
            file_error_ratio=options["file_error_ratio"],
        ),
        mailbox_folder=options["mailbox_dir"],
        tls_context=simulator.tls_context(options["tls_cert"], options["tls_key"]),
        implicit_tls=options["implicit_tls"],
        status_file=options["status_file"],
    )
    asyncio.run(simulator.serve(config, token_check, options["usage_every"]))


@simulate.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8008, show_default=True, help="callbacks come in here")
@click.option("--gateway-url", default="http://127.0.0.1:8000/", show_default=True)
@click.option("--count", default=50, show_default=True, help="licences to send at start")
@click.option("--seed", default=0, show_default=True, help="same seed, same licences")
@click.option("--hawk-id", default="icms-api", show_default=True, help="id ICMS signs with")
@click.option("--hawk-key", envvar="ICMS_SIMULATOR_HAWK_KEY", required=True, help="shared key")
@click.option("--callback-hawk-id", help="id the gateway signs callbacks with (default: same)")
@click.option("--callback-hawk-key", help="key for callbacks (default: the same key)")
@click.option("--patience", default=60.0, show_default=True, help="seconds to wait for gateway")
@click.option(
    "--refuse-id",
    multiple=True,
    help="answer 422 {} to any licence callback naming this ICMS id (repeatable)",
)
def icms(**options: Any) -> None:
    """ICMS: send licences to the gateway, receive and show their outcomes."""
    from licence_gateway.simulators.icms import IcmsSimulator, create_app
    from licence_gateway.simulators.serving import serve
    from service_kit.logging import configure_logging

    configure_logging("INFO")
    simulator = IcmsSimulator(
        gateway_url=options["gateway_url"].rstrip("/") + "/",
        hawk_id=options["hawk_id"],
        hawk_key=options["hawk_key"],
        seed=options["seed"],
        callback_hawk_id=options["callback_hawk_id"],
        callback_hawk_key=options["callback_hawk_key"],
        refuse_ids=set(options["refuse_id"]),
    )
    app = create_app(simulator, send_on_start=options["count"], patience=options["patience"])
    click.echo(f"ICMS simulator: status at http://{options['host']}:{options['port']}/")
    serve(app, options["host"], options["port"])


@simulate.command("microsoft-identity")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8443, show_default=True)
@click.option("--tenant-id", default="simulated-tenant", show_default=True)
@click.option(
    "--app",
    "apps",
    multiple=True,
    default=["licence-gateway:simulator:icms-mailbox@licence-gateway.local"],
    show_default=True,
    help="CLIENT_ID:CLIENT_SECRET:MAILBOX allowed to get tokens (repeatable)",
)
@click.option(
    "--cert-dir",
    type=click.Path(path_type=Path),
    default=Path(".local/microsoft-identity"),
    show_default=True,
    help="a self-signed certificate is written here; clients trust cert.pem",
)
def microsoft_identity(
    host: str, port: int, tenant_id: str, apps: tuple[str, ...], cert_dir: Path
) -> None:
    """Microsoft identity: client-credentials tokens (https), introspection for mail servers."""
    from licence_gateway.simulators.microsoft_identity import IdentityDirectory, create_app
    from licence_gateway.simulators.serving import serve
    from licence_gateway.simulators.tls import write_self_signed_certificate

    directory = IdentityDirectory(tenant_id=tenant_id)
    for app in apps:
        client_id, secret, mailbox = [*app.split(":", 2), "", ""][:3]
        if not (client_id and secret and mailbox):
            raise click.BadParameter(f"{app!r} is not CLIENT_ID:SECRET:MAILBOX", param_hint="--app")
        directory.register(client_id, secret, mailbox)
    certificate = write_self_signed_certificate(cert_dir, hosts=(host, "localhost"))
    click.echo(
        f"Microsoft identity simulator: authority https://{host}:{port}/{tenant_id},"
        f" introspection https://{host}:{port}/introspect, CA file {certificate.cert}"
    )
    serve(create_app(directory), host, port, certificate)
