"""Optional error reporting to Sentry: on when SENTRY_DSN is set, otherwise nothing is sent.

Unhandled exceptions in routes and jobs, and ERROR log records, become Sentry events, tagged with
the service. sentry_sdk's defaults send no cookies, user data or request bodies; no performance
traces are sent either.
"""

from __future__ import annotations

import sentry_sdk

from service_kit.settings import ServiceSettings


def start_error_reporting(settings: ServiceSettings, service: str) -> bool:
    """Start the Sentry client of this process if a DSN is set; say whether it did.

    Without a DSN sentry_sdk is not initialised at all (so not even its own SENTRY_DSN variable
    is read).
    """
    dsn = settings.sentry_dsn.get_secret_value()
    if not dsn:
        return False
    sentry_sdk.init(
        dsn=dsn,
        environment=settings.environment,
        traces_sample_rate=0.0,
    )
    sentry_sdk.set_tag("service", service)
    return True
