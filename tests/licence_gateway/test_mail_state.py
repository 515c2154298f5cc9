"""The Mail state machine: every legal move allowed, every other move refused."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from licence_gateway.domain.mail_state import (
    ExtractType,
    IllegalTransition,
    MailStatus,
    transition,
)
from licence_gateway.store.mail import MailEvent, create_mail, move_mail

S = MailStatus
LICENCE_MOVES = {
    (None, S.PENDING),
    (S.PENDING, S.REPLY_PENDING),
    (S.REPLY_PENDING, S.REPLY_PENDING),
    (S.PENDING, S.REPLY_RECEIVED),
    (S.REPLY_PENDING, S.REPLY_RECEIVED),
    (S.REPLY_RECEIVED, S.REPLY_PROCESSED),
    (S.REPLY_RECEIVED, S.REPLY_PARTIALLY_PROCESSED),
    (S.REPLY_PARTIALLY_PROCESSED, S.REPLY_PROCESSED),
}
USAGE_MOVES = {(None, S.REPLY_RECEIVED), (S.REPLY_RECEIVED, S.REPLY_PROCESSED)}
EXPECTED = {ExtractType.LICENCE_DATA: LICENCE_MOVES, ExtractType.USAGE_DATA: USAGE_MOVES}

ALL_MOVES = [
    (kind, current, target)
    for kind in ExtractType
    for current, target in itertools.product([None, *MailStatus], MailStatus)
]


@pytest.mark.parametrize(("kind", "current", "target"), ALL_MOVES)
def test_every_move_is_legal_exactly_when_the_table_says(
    kind: ExtractType, current: MailStatus | None, target: MailStatus
) -> None:
    if (current, target) in EXPECTED[kind]:
        assert transition(kind, current, target) is target
    else:
        with pytest.raises(IllegalTransition) as refused:
            transition(kind, current, target)
        assert refused.value.target is target
        assert target.value in str(refused.value)


async def test_each_move_appends_one_event_in_the_same_transaction(
    db_session: AsyncSession,
) -> None:
    mail = await create_mail(db_session, ExtractType.LICENCE_DATA, S.PENDING, "batch built")
    await move_mail(db_session, mail, S.REPLY_PENDING, "sent", send_attempts=1)

    with pytest.raises(IllegalTransition):
        await move_mail(db_session, mail, S.REPLY_PROCESSED, "skipping the reply")

    events = (
        await db_session.scalars(
            select(MailEvent).where(MailEvent.mail_id == mail.id).order_by(MailEvent.id)
        )
    ).all()
    assert [(e.from_status, e.to_status, e.reason) for e in events] == [
        (None, "pending", "batch built"),
        ("pending", "reply_pending", "sent"),
    ]
    assert mail.status == "reply_pending"
    assert mail.send_attempts == 1
