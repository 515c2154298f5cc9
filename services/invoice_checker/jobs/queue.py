"""The invoice checker's arq queue: its name, and jobs addressed to it."""

from __future__ import annotations

from typing import Any

from service_kit.queue import JobRequest

QUEUE_NAME = "invoice_checker:queue"


def job(function: str, *args: Any, job_id: str | None = None) -> JobRequest:
    """A job for this service's worker (arq's default queue is another one)."""
    return JobRequest(function, args, job_id=job_id, queue_name=QUEUE_NAME)
