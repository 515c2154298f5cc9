"""Parsing a licenceReply of 10,000 accepted and 1,000 rejected transactions (two errors each).

The file is rendered by the codec's writer, padded as real CHIEF replies are, then parsed and
classified; the best of several rounds counts (parsing is pure CPU; the best round is the one
least disturbed by other processes).

Prints `bench reply_parse_10k: N transactions/s` (accepted plus rejected records per second).
"""

from __future__ import annotations

import sys
import time
from datetime import datetime

from licence_gateway.domain.chief import (
    ReplyError,
    ReplyOutcome,
    parse_licence_reply,
    render_licence_reply,
)

ACCEPTED = 10_000
REJECTED = 1_000
ROUNDS = 30


def reply_file() -> str:
    text = render_licence_reply(
        run_number=29236,
        created_at=datetime(2024, 9, 25, 15, 47),
        accepted=[f"IMA/2024/{n:05}" for n in range(ACCEPTED)],
        rejected=[
            (
                f"IMA/2025/{n:05}",
                [
                    ReplyError("1234", "Invalid thingy"),
                    ReplyError("76543", f"Invalid commodity in line {n}"),
                ],
            )
            for n in range(REJECTED)
        ],
    )
    return "\n".join(line.ljust(80) for line in text.split("\n"))  # CHIEF pads its lines


def main() -> None:
    text = reply_file()
    timings, cpu_times = [], []
    for _ in range(ROUNDS):
        started, cpu_started = time.perf_counter(), time.process_time()
        reply = parse_licence_reply(text)
        outcome = reply.outcome
        timings.append(time.perf_counter() - started)
        cpu_times.append(time.process_time() - cpu_started)
    if (len(reply.accepted), len(reply.rejected), outcome) != (
        ACCEPTED,
        REJECTED,
        ReplyOutcome.VALID,
    ):
        raise RuntimeError("the reply was not parsed completely")
    best = min(timings)
    print(
        f"# reply_parse: best {best * 1000:.1f} ms of {ROUNDS}"
        f" ({min(cpu_times) * 1000:.1f} ms CPU), {len(text) / 1e6:.1f} MB",
        file=sys.stderr,
    )
    print(f"bench reply_parse_10k: {(ACCEPTED + REJECTED) / best:.0f} transactions/s", flush=True)


if __name__ == "__main__":
    main()
