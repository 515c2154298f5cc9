"""Parsing a licenceReply of 10,000 accepted and 1,000 rejected transactions (two errors each):
`parse_licence_reply` and the outcome the inbox job classifies it by.

The file is rendered by the codec's writer and padded as real CHIEF replies are; every run must
find all 11,000 transactions and a valid outcome.
"""

from __future__ import annotations

from datetime import datetime

from licence_gateway.domain.chief import (
    LicenceReply,
    ReplyError,
    ReplyOutcome,
    parse_licence_reply,
    render_licence_reply,
)
from tests.bench.kit import BenchRefused, Figure, measure

ACCEPTED = 10_000
REJECTED = 1_000
FIGURE = Figure(
    "reply_parse_11k",
    "ms",
    "<=",
    3,
    "licenceReply parse + outcome: 10,000 accepted, 1,000 rejected with two errors each",
)


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


def parsed(text: str) -> tuple[LicenceReply, ReplyOutcome]:
    reply = parse_licence_reply(text)
    return reply, reply.outcome


def check(result: tuple[LicenceReply, ReplyOutcome]) -> None:
    reply, outcome = result
    if (len(reply.accepted), len(reply.rejected), outcome) != (
        ACCEPTED,
        REJECTED,
        ReplyOutcome.VALID,
    ):
        raise BenchRefused("the reply was not parsed completely")


def main() -> None:
    text = reply_file()
    measure(FIGURE, lambda: parsed(text), runs=31, check=check, detail={"bytes": len(text)})


if __name__ == "__main__":
    main()
