"""The Mail state machine (reference section 1.5): the one place that says which moves are legal.

A licence_data mail is committed as `pending` before it is sent, so a crash between the SMTP
accept and the next commit leaves a mail that is simply sent again (same bytes, same Message-ID).
Self-loops are legal only where something real happens without a status change: an operator
re-sending a mail that is waiting for its reply.
"""

from __future__ import annotations

from enum import StrEnum


class MailStatus(StrEnum):
    PENDING = "pending"
    REPLY_PENDING = "reply_pending"
    REPLY_RECEIVED = "reply_received"
    REPLY_PARTIALLY_PROCESSED = "reply_partially_processed"
    REPLY_PROCESSED = "reply_processed"


class ExtractType(StrEnum):
    LICENCE_DATA = "licence_data"
    USAGE_DATA = "usage_data"


class IllegalTransition(Exception):
    """A move the state machine forbids; the message names the mail kind and both states."""

    def __init__(self, extract_type: ExtractType, current: MailStatus | None, target: MailStatus):
        self.extract_type = extract_type
        self.current = current
        self.target = target
        start = current.value if current else "(new)"
        super().__init__(f"{extract_type.value} mail cannot move from {start} to {target.value}")


S = MailStatus

# (from, to); None is "the row does not exist yet".
LEGAL_MOVES: dict[ExtractType, frozenset[tuple[MailStatus | None, MailStatus]]] = {
    ExtractType.LICENCE_DATA: frozenset(
        {
            (None, S.PENDING),  # batch built and committed, not sent yet
            (S.PENDING, S.REPLY_PENDING),  # the SMTP server accepted it
            (S.REPLY_PENDING, S.REPLY_PENDING),  # re-sent by an operator
            # A reply proves CHIEF got the mail even if we died before recording the send.
            (S.PENDING, S.REPLY_RECEIVED),
            (S.REPLY_PENDING, S.REPLY_RECEIVED),  # the licenceReply was stored
            (S.REPLY_RECEIVED, S.REPLY_PROCESSED),  # ICMS told, or the batch recreated
            (S.REPLY_RECEIVED, S.REPLY_PARTIALLY_PROCESSED),  # ICMS told what CHIEF processed
            (S.REPLY_PARTIALLY_PROCESSED, S.REPLY_PROCESSED),  # the rest recreated and sent
        }
    ),
    ExtractType.USAGE_DATA: frozenset(
        {
            (None, S.REPLY_RECEIVED),  # the usageData e-mail was stored
            (S.REPLY_RECEIVED, S.REPLY_PROCESSED),  # ICMS told (or nothing to tell)
        }
    ),
}

# While a licence_data mail is in one of these states, no new batch may be sent (the gate).
IN_FLIGHT: frozenset[MailStatus] = frozenset(set(MailStatus) - {S.REPLY_PROCESSED})


def transition(
    extract_type: ExtractType, current: MailStatus | None, target: MailStatus
) -> MailStatus:
    """Return `target` if the move is legal, else raise IllegalTransition."""
    if (current, target) not in LEGAL_MOVES[extract_type]:
        raise IllegalTransition(extract_type, current, target)
    return target
