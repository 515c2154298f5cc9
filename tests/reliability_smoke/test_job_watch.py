"""The crash harness's job watch: which abandoned arq job a "max retries exceeded" line is about."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.reliability.crash_injection import JobWatch
from tests.support.processes import Respawning

QUEUED = datetime(2026, 12, 6, 1, 3, 41, tzinfo=UTC)


def job_id(queued: datetime) -> str:
    return f"cron:process_mailbox:{int(queued.timestamp() * 1000)}"


def log(path: Path, at: datetime, message: str, **fields: object) -> None:
    record = {"ts": at.isoformat(timespec="milliseconds"), "msg": message, **fields}
    with path.open("a") as file:
        file.write(json.dumps(record) + "\n")


async def test_a_job_given_up_past_max_tries_is_the_one_queued_then(tmp_path: Path) -> None:
    worker = Respawning("worker-1", [], {}, tmp_path / "worker-1.log")
    watch = JobWatch([worker])
    older, newer = QUEUED, QUEUED + timedelta(seconds=50)
    for queued in (older, newer):  # both started, then the worker is killed
        log(worker.log_path, queued, "mail-flow job started", job_id=job_id(queued), job_try=4)
    await watch.died(worker)

    # arq names only the function, and how long ago the job was queued: the newer one.
    given_up = newer + timedelta(seconds=186.66)
    log(worker.log_path, given_up, "186.66s ! cron:process_mailbox max retries 4 exceeded")
    watch.read()

    assert list(watch.recovered) == [job_id(newer)]
    assert watch.unrecovered() == [job_id(older)]
