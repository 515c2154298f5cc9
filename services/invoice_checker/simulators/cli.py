"""`invoice-checker simulate ...`: one command per stand-in, each a long-running server."""

from __future__ import annotations

import click


@click.group()
def simulate() -> None:
    """Run a local stand-in for one of the invoice checker's outside parties."""


@simulate.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8090, show_default=True, type=int)
@click.option("--client-id", default="invoice-checker", show_default=True)
@click.option("--client-secret", default="stand-in-secret", show_default=True)
@click.option(
    "--default-email",
    default="finance@example.com",
    show_default=True,
    help="who signs in when the request names no login_hint",
)
def oidc(host: str, port: int, client_id: str, client_secret: str, default_email: str) -> None:
    """Google sign-in: OpenID Connect discovery, JWKS, authorize and token endpoints."""
    from invoice_checker.simulators import oidc as simulator

    click.echo(f"issuer http://{host}:{port}", err=True)
    simulator.run(
        host=host,
        port=port,
        client_id=client_id,
        client_secret=client_secret,
        default_email=default_email,
    )
