"""How the mailbox job reads an e-mail's envelope and routes it: properties over any input."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from licence_gateway.jobs.inbox import Envelope, kind_of, run_number_from_subject

HEADER_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\n"), max_size=80
)


@given(st.binary(max_size=2000))
def test_any_bytes_give_an_envelope_with_a_key(raw: bytes) -> None:
    envelope = Envelope.of(raw)
    assert envelope.message_id
    assert envelope.sender == envelope.sender.lower()


@given(st.binary(max_size=500))
def test_a_message_without_message_id_is_known_by_its_bytes(body: bytes) -> None:
    raw = b"From: chief@hmrc.test\r\nSubject: x\r\n\r\n" + body
    assert Envelope.of(raw).message_id == Envelope.of(raw).message_id
    assert Envelope.of(raw).message_id != Envelope.of(raw + b"!").message_id


@given(HEADER_TEXT, HEADER_TEXT)
def test_headers_are_read_leniently(sender_name: str, subject: str) -> None:
    raw = (
        f'From: "{sender_name}" <CHIEF@HMRC.test>\r\nSubject: {subject}\r\n'
        "Message-ID: <abc@hmrc.test>\r\n\r\nbody"
    ).encode("utf-8", "surrogateescape")
    envelope = Envelope.of(raw)
    assert envelope.message_id == "<abc@hmrc.test>"
    assert envelope.subject == " ".join(envelope.subject.split())


@given(st.integers(min_value=0, max_value=10**9), st.from_regex(r"\A[0-9]{12}\Z"))
def test_run_numbers_come_from_the_subject(run: int, stamp: str) -> None:
    reply = f"CHIEF_licenceReply_{run}_{stamp}"
    usage = f"ILBDOTI_live_CHIEF_usageData_{run}_{stamp}"
    assert (kind_of(reply), run_number_from_subject(reply, "licence_reply")) == (
        "licence_reply",
        run,
    )
    assert (kind_of(usage), run_number_from_subject(usage, "usage_data")) == ("usage_data", run)


@given(HEADER_TEXT, st.sampled_from(["licence_reply", "usage_data"]))
def test_any_subject_gives_a_run_number_or_none(subject: str, kind: str) -> None:
    number = run_number_from_subject(subject, kind)
    assert number is None or isinstance(number, int)


def test_the_original_fixture_subjects() -> None:
    assert (
        run_number_from_subject("CHIEF_licenceReply_INVALID_29236_202209231140", "licence_reply")
        is None
    )
    assert kind_of("All about cakes") is None
