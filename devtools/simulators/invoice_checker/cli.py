"""`invoice-checker simulate ...`: one command per stand-in, each a long-running server."""

from __future__ import annotations

from datetime import datetime

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
    from devtools.simulators.invoice_checker import oidc as simulator

    click.echo(f"issuer http://{host}:{port}", err=True)
    simulator.run(
        host=host,
        port=port,
        client_id=client_id,
        client_secret=client_secret,
        default_email=default_email,
    )


@simulate.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8092, show_default=True, type=int)
@click.option("--token", default="", help="required `auth` header value (empty: no check)")
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--users", "user_count", default=50, show_default=True, type=int)
@click.option("--projects", "project_count", default=20, show_default=True, type=int)
@click.option("--days", default=60, show_default=True, type=int, help="days with entries")
@click.option("--entries-per-day", default=100, show_default=True, type=int)
@click.option(
    "--start",
    default="2018-01-01",
    show_default=True,
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="first day with entries",
)
def tenkfeet(
    host: str,
    port: int,
    token: str,
    seed: int,
    user_count: int,
    project_count: int,
    days: int,
    entries_per_day: int,
    start: datetime,
) -> None:
    """10000ft API: users, projects and phases, leave types, holidays, time entries."""
    import uvicorn

    from devtools.simulators.invoice_checker.tenkfeet import TenkfeetWorld, create_app

    world = TenkfeetWorld(
        seed=seed,
        user_count=user_count,
        project_count=project_count,
        days=days,
        entries_per_day=entries_per_day,
        start=start.date(),
        token=token,
    )
    click.echo(
        f"10000ft stand-in on http://{host}:{port} ({world.entry_count()} entries)", err=True
    )
    uvicorn.run(create_app(world), host=host, port=port, log_level="warning", access_log=False)


@simulate.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8093, show_default=True, type=int)
@click.option(
    "--member", "members", multiple=True, help="e-mail of a workspace member (repeatable)"
)
@click.option("--channel", "channels", multiple=True, help="channel name (repeatable)")
@click.option("--token", "tokens", multiple=True, help="accepted token (repeatable; none: any)")
def slack(
    host: str,
    port: int,
    members: tuple[str, ...],
    channels: tuple[str, ...],
    tokens: tuple[str, ...],
) -> None:
    """Slack Web API: users.list, conversations.*, chat.postMessage, chat.unfurl; records calls
    (GET /_sim/calls)."""
    from devtools.simulators.invoice_checker import slack as simulator

    simulator.run(host, port, members, channels, tokens)
