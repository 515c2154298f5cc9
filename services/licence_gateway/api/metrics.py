"""Gateway gauges read from the database at scrape time, so every process reports the same."""

from __future__ import annotations

from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Gauge

from licence_gateway.store import health
from service_kit.state import app_lifespan_state


class LicenceMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.parked = Gauge(
            "licence_gateway_icms_refused_licences",
            "Licence outcomes ICMS refused (422), parked until `licence-gateway redeliver`",
            registry=registry,
            multiprocess_mode="livemostrecent",  # read from the database: any process's is right
        )
        self.flagged = Gauge(
            "licence_gateway_hmrc_replies_flagged",
            "HMRC e-mails stored but never applied, by flag (e.g. second_reply)",
            ["flag"],
            registry=registry,
            multiprocess_mode="livemostrecent",
        )

    async def refresh(self, app: FastAPI) -> None:
        async with app_lifespan_state(app).sessionmaker() as session:
            self.parked.set(await health.parked_licences(session))
            counts = await health.flagged_replies(session)
        for flag in ("second_reply", "sender_not_verified", "reply_not_for_run", *counts):
            self.flagged.labels(flag).set(counts.get(flag, 0))
