"""`licence-gateway simulate ...`: one command per simulator, each a long-running server."""

from __future__ import annotations

import click


@click.group()
def simulate() -> None:
    """Run a local stand-in for one of the gateway's outside parties."""
