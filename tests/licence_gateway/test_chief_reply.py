"""licenceReply: the reply vectors, classification, leniency, ICMS callback bodies, fake replies."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from licence_gateway.domain.chief import (
    ChiefFormatError,
    FakeReply,
    FileError,
    ReplyError,
    ReplyOutcome,
    UnknownReference,
    callback_json,
    fake_licence_reply,
    licence_reply_file_name,
    parse_licence_reply,
    render_licence_reply,
    reply_callback_body,
    reply_summary,
)
from licence_gateway.domain.chief.reply_grid import blocks_in_grid, references_in_grid

FIXTURES = Path(__file__).parent / "fixtures" / "icms-hmrc"
TO_ICMS = sorted((FIXTURES / "derived" / "licence_reply_to_icms").glob("*.json"))
DERIVED = FIXTURES / "derived" / "licence_reply"
FAKE = FIXTURES / "derived" / "fake_licence_reply"


def fixture_text(relative: str) -> str:
    return (FIXTURES / relative).read_bytes().decode()


@pytest.mark.parametrize("path", TO_ICMS, ids=lambda p: p.stem)
def test_callback_body_matches_the_original_exactly(path: Path) -> None:
    vector = json.loads(path.read_text())
    reply = parse_licence_reply(fixture_text(vector["reply_file"]))
    assert reply.run_number == str(vector["licence_data_run_number"])
    body = reply_callback_body(reply, vector["payload_reference_to_icms_id"])
    assert body == vector["expected_post_json"]
    assert callback_json(body) == vector["expected_post_body_text"]
    processed = {
        "reply_processed": ReplyOutcome.VALID,
        "reply_partially_processed": ReplyOutcome.PARTIALLY_VALID,
    }
    assert reply.outcome is processed[vector["expected_mail_status_after"]]


def test_accepted_and_rejected_example_in_detail() -> None:
    reply = parse_licence_reply(fixture_text("icms/licence_reply/accepted_and_rejected_example"))
    assert reply.accepted == ("ABC12345", "ABC12346", "ABC12348")
    [rejected] = reply.rejected
    assert rejected.reference == "ABC12347"
    assert rejected.errors == (
        ReplyError("1234", "Invalid thingy"),
        ReplyError("76543", "Invalid commodity “1234A6” in line 23"),
    )
    assert reply.header is not None and reply.header.created_at == "202209231140"


def test_trailing_padding_and_crlf_are_stripped() -> None:
    padded = fixture_text("icms/licence_reply/accepted_with_trailing_spaces_example")
    assert len(padded.splitlines()[0]) > 180
    reply = parse_licence_reply(padded.replace("\n", "\r\n"))
    assert reply.accepted == ("IMA/2024/00558",)
    assert reply.run_number == "30383"
    assert reply.outcome is ReplyOutcome.VALID


def test_derived_file_errors_are_invalid() -> None:
    readme = json.loads((DERIVED / "README.json").read_text())
    only = parse_licence_reply((DERIVED / "file_error_only").read_text())
    assert only.outcome is ReplyOutcome.INVALID
    [expected] = readme["file_error_only"]["parsed_file_errors"]
    assert only.file_errors == (
        FileError(expected["code"], expected["text"], expected["position"]),
    )
    mismatch = parse_licence_reply((DERIVED / "file_error_and_trailer_mismatch").read_text())
    assert mismatch.outcome is ReplyOutcome.INVALID


@pytest.mark.parametrize(
    "name", ["error_out_of_sequence", "end_out_of_sequence", "unknown_record_type"]
)
def test_derived_malformed_replies_name_the_line(name: str) -> None:
    expected = json.loads((DERIVED / "README.json").read_text())[name]["parse_error"]
    with pytest.raises(ChiefFormatError) as refused:
        parse_licence_reply((DERIVED / name).read_text())
    assert refused.value.message == expected
    assert refused.value.line == 2


def test_empty_reply_contains_no_data() -> None:
    for text in ("", "\n\n", "   \r\n  \n"):
        reply = parse_licence_reply(text)
        assert reply.outcome is ReplyOutcome.NO_DATA
        assert reply.run_number == ""


HEADER = "1\\fileHeader\\CHIEF\\ILBDOTI\\licenceReply\\202209231140\\29236"


def reply(*records: str) -> str:
    return "\n".join([HEADER, *records])


@pytest.mark.parametrize(
    ("text", "outcome"),
    [
        (reply("2\\accepted\\A", "3\\fileTrailer\\1\\0\\0"), ReplyOutcome.VALID),
        (reply("2\\accepted\\A", "3\\fileTrailer\\2\\0\\0"), ReplyOutcome.UNKNOWN),
        (reply("2\\accepted\\A"), ReplyOutcome.UNKNOWN),  # no trailer, no file error
        (reply("2\\accepted\\A", "3\\fileTrailer\\1\\0\\1"), ReplyOutcome.UNKNOWN),
        (reply("2\\fileError\\9\\crash"), ReplyOutcome.INVALID),
        (reply("2\\accepted\\A", "3\\fileError\\9\\crash"), ReplyOutcome.PARTIALLY_VALID),
        (reply("2\\fileTrailer\\0\\0\\0"), ReplyOutcome.VALID),  # valid is decided first
        (reply("2\\accepted\\A", "3\\fileTrailer\\x\\0\\0"), ReplyOutcome.UNKNOWN),  # was a crash
        (reply("2\\accepted\\A", "3\\fileTrailer\\01\\0\\0"), ReplyOutcome.VALID),
    ],
)
def test_outcome_is_decided_in_the_original_order(text: str, outcome: ReplyOutcome) -> None:
    assert parse_licence_reply(text).outcome is outcome


def test_leniency_rules() -> None:
    parsed = parse_licence_reply(
        reply(
            "2\\rejected\\NEVER-CLOSED",
            "3\\error\\1\\lost",
            "",
            "   ",
            "4\\accepted\\TWICE",
            "5\\accepted\\TWICE",
            "6\\rejected\\B",
            "7\\error\\2\\bad",
            "8\\end\\rejected\\99",  # the count is not checked
            "9\\rejected\\DANGLING",
            "10\\fileTrailer\\2\\1\\0",
        )
    )
    assert parsed.accepted == ("TWICE", "TWICE")
    assert [r.reference for r in parsed.rejected] == ["B"]  # unclosed blocks are dropped
    assert parsed.outcome is ReplyOutcome.VALID


@pytest.mark.parametrize(
    ("records", "line"),
    [
        (["2\\accepted\\A\\extra"], 2),
        (["2\\accepted\\"], None),  # an empty reference is still one field: allowed
        (["2\\fileHeader\\CHIEF\\ILBDOTI\\licenceReply\\1\\2\\"], 2),
        (["2\\fileTrailer\\1\\0"], 2),
        (["2\\fileError\\1"], 2),
        (["garbage"], 2),
        (["", "3\\end\\rejected\\2"], 3),
    ],
)
def test_wrong_field_counts_are_malformed(records: list[str], line: int | None) -> None:
    text = reply(*records)
    if line is None:
        assert parse_licence_reply(text).accepted == ("",)
        return
    with pytest.raises(ChiefFormatError) as refused:
        parse_licence_reply(text)
    assert refused.value.line == line
    assert f"on line {line}" in refused.value.message


def test_summary_is_the_cli_document() -> None:
    parsed = parse_licence_reply(fixture_text("icms/licence_reply/partially_valid_example"))
    assert reply_summary(parsed) == {
        "run_number": "29236",
        "outcome": "partially_valid",
        "accepted": ["ABC12345", "ABC12346"],
        "rejected": [],
        "file_errors": [{"error_code": "9", "error_msg": "CHIEF server application error"}],
    }


def test_callback_refuses_a_reference_outside_the_run() -> None:
    parsed = parse_licence_reply(reply("2\\accepted\\STRANGER", "3\\fileTrailer\\1\\0\\0"))
    with pytest.raises(UnknownReference):
        reply_callback_body(parsed, {"OTHER": "id"})


# --- writers: the fake reply and the HMRC simulator ---------------------------------------------

FAKE_REFERENCES = ["ABC12345", "ABC12346", "ABC12348", "ABC12347"]
FAKE_TIME = datetime(2022, 11, 10, 14, 10)


@pytest.mark.parametrize("outcome", list(FakeReply), ids=str)
def test_fake_reply_matches_the_original(outcome: FakeReply) -> None:
    readme = json.loads((FAKE / "README.json").read_text())
    expected = (FAKE / readme["outputs"][outcome.value]).read_bytes().decode()
    text = fake_licence_reply(
        outcome, run_number=29236, references=FAKE_REFERENCES, created_at=FAKE_TIME
    )
    assert text == expected
    assert licence_reply_file_name(29236, FAKE_TIME) == readme["expected_response_filename"]
    expected_outcome = {"accept": "valid", "reject": "valid", "file_error": "invalid"}[
        outcome.value
    ]
    assert parse_licence_reply(text).outcome.value == expected_outcome


_FIELD = st.text(
    st.characters(exclude_characters="\\\n", exclude_categories=["Zs", "Cc"]),
    min_size=1,
    max_size=12,
)


@settings(max_examples=200)
@given(
    accepted=st.lists(_FIELD, max_size=5),
    rejected=st.lists(
        st.tuples(_FIELD, st.lists(st.tuples(_FIELD, _FIELD), min_size=1, max_size=3)), max_size=4
    ),
    file_errors=st.lists(st.tuples(_FIELD, _FIELD, st.none() | _FIELD), max_size=2),
)
def test_rendered_replies_parse_back(
    accepted: list[str],
    rejected: list[tuple[str, list[tuple[str, str]]]],
    file_errors: list[tuple[str, str, str | None]],
) -> None:
    text = render_licence_reply(
        run_number=7,
        created_at=FAKE_TIME,
        accepted=accepted,
        rejected=[(ref, [ReplyError(*e) for e in errors]) for ref, errors in rejected],
        file_errors=[FileError(*e) for e in file_errors],
    )
    parsed = parse_licence_reply(text)
    assert parsed.accepted == tuple(accepted)
    assert [
        (r.reference, [(e.code, e.text) for e in r.errors]) for r in parsed.rejected
    ] == rejected
    assert [(e.code, e.text, e.position) for e in parsed.file_errors] == file_errors
    if not file_errors:
        assert parsed.outcome is (ReplyOutcome.VALID)


# --- robustness: arbitrary text gives a result or the typed error, nothing else -----------------

_RECORD_TYPES = [
    "fileHeader",
    "accepted",
    "rejected",
    "error",
    "end",
    "fileError",
    "fileTrailer",
    "x",
]
_LINES = st.builds(
    lambda number, kind, fields: "\\".join([number, kind, *fields]),
    st.sampled_from(["1", "2", "x", ""]),
    st.sampled_from(_RECORD_TYPES),
    st.lists(st.text(max_size=4), max_size=6),
)


@settings(max_examples=400)
@given(st.one_of(st.text(), st.lists(st.one_of(_LINES, st.text()), max_size=12).map("\n".join)))
def test_parser_raises_only_the_typed_error(text: str) -> None:
    try:
        parsed = parse_licence_reply(text)
    except ChiefFormatError as exc:
        assert exc.line is not None and f"on line {exc.line}" in exc.message
        return
    json.dumps(reply_summary(parsed))  # the outcome is always decidable


# --- the whole-run reading of accepted records agrees with reading line by line ------------------


def _line_by_line(text: str) -> object:
    """The reply as a plain line-by-line reading gives it (the parser's rules, one line at a
    time): the parser's result in plain values, or the error message and line it raises."""
    counts = {"fileHeader": 5, "accepted": 1, "rejected": 1, "error": 2, "end": 2, "fileTrailer": 3}
    header = trailer = None
    accepted: list[str] = []
    rejected: list[tuple[str, list[tuple[str, str]]]] = []
    file_errors: list[tuple[str, ...]] = []
    open_block: tuple[str, list[tuple[str, str]]] | None = None
    for number, raw in enumerate(text.split("\n"), start=1):
        fields = raw.rstrip().split("\\")
        if fields == [""]:
            continue
        problem = None
        if len(fields) < 2:
            problem = "no record type"
        elif fields[1] not in counts and fields[1] != "fileError":
            problem = "Unknown field_type"
        elif not (
            len(fields) - 2 in (2, 3)
            if fields[1] == "fileError"
            else len(fields) - 2 == counts[fields[1]]
        ):
            problem = f"{fields[1]} record has {len(fields) - 2} fields"
        elif fields[1] in ("error", "end") and open_block is None:
            problem = "rejected record is out of sequence"
        if problem:
            return (f"Unable to process file: {problem} on line {number}", number)
        kind, data = fields[1], fields[2:]
        if kind == "accepted":
            accepted.append(data[0])
        elif kind == "rejected":
            open_block = (data[0], [])
        elif kind == "error" and open_block is not None:
            open_block[1].append((data[0], data[1]))
        elif kind == "end" and open_block is not None:
            rejected.append(open_block)
            open_block = None
        elif kind == "fileError":
            file_errors.append(tuple(data))
        elif kind == "fileHeader":
            header = tuple(data)
        else:
            trailer = tuple(data)
    return (header, accepted, rejected, file_errors, trailer)


def _as_values(text: str) -> object:
    try:
        reply = parse_licence_reply(text)
    except ChiefFormatError as exc:
        return (exc.message, exc.line)
    return (
        None if reply.header is None else tuple(vars_of(reply.header)),
        list(reply.accepted),
        [(r.reference, [(e.code, e.text) for e in r.errors]) for r in reply.rejected],
        [
            (e.code, e.text) + (() if e.position is None else (e.position,))
            for e in reply.file_errors
        ],
        None if reply.trailer is None else tuple(vars_of(reply.trailer)),
    )


def vars_of(record: object) -> list[str]:
    return [getattr(record, name) for name in record.__slots__]  # type: ignore[attr-defined]


_REFERENCE = st.text(st.characters(blacklist_characters="\\\n"), max_size=6)
_ACCEPTED_LINES = st.builds(
    lambda number, reference, padding: f"{number}\\accepted\\{reference}{padding}",
    st.sampled_from(["1", "22", " 3", ""]),
    _REFERENCE,
    st.sampled_from(["", "   ", "\r", " \t", "\\", "\\x"]),
)
_OTHER_LINES = st.one_of(
    _LINES,
    st.sampled_from(
        ["", "   ", "4\\rejected\\R", "5\\error\\accepted\\why", "6\\end\\rejected\\3"]
    ),
    st.sampled_from(["7\\accepted\\A\\accepted\\B", "8", "9\\fileTrailer\\1\\0\\0", "x\\accepted"]),
)


@settings(max_examples=500)
@given(
    st.lists(_OTHER_LINES, max_size=4),
    st.lists(st.one_of(_ACCEPTED_LINES, _ACCEPTED_LINES, _OTHER_LINES), max_size=10),
    st.lists(_OTHER_LINES, max_size=4),
)
def test_parser_agrees_with_reading_line_by_line(
    head: list[str], middle: list[str], tail: list[str]
) -> None:
    text = "\n".join(head + middle + tail)
    assert _as_values(text) == _line_by_line(text)


def test_a_malformed_line_after_the_accepted_run_is_named() -> None:
    lines = ["1\\fileHeader\\CHIEF\\SPIRE\\licenceReply\\202409251547\\7"]
    lines += [f"{n}\\accepted\\IMA/{n}   " for n in range(2, 6)] + ["", "7\\bogus\\x"]
    with pytest.raises(ChiefFormatError) as raised:
        parse_licence_reply("\n".join(lines))
    assert raised.value.line == 7


def test_field_counts_that_add_up_across_accepted_lines_are_still_malformed() -> None:
    # five fields, one, three: as many as three accepted records, `accepted` where it would be
    text = "1\\accepted\\A\\B\\accepted\n2\n3\\accepted\\C"
    with pytest.raises(ChiefFormatError) as raised:
        parse_licence_reply(text)
    assert (raised.value.line, raised.value.message) == (
        1,
        "Unable to process file: accepted record has 3 fields on line 1",
    )


# CHIEF pads its lines to one width; a padded line may also hide a line break (a blank line).
_PADDED_SLOTS = st.lists(
    st.lists(st.one_of(_ACCEPTED_LINES, _ACCEPTED_LINES, _OTHER_LINES), min_size=1, max_size=2).map(
        "\n".join
    ),
    max_size=10,
)


@settings(max_examples=500)
@given(
    st.lists(_OTHER_LINES, max_size=3),
    _PADDED_SLOTS,
    st.lists(_OTHER_LINES, max_size=3),
    st.integers(min_value=0, max_value=3),
)
def test_padded_replies_agree_with_reading_line_by_line(
    head: list[str], middle: list[str], tail: list[str], extra: int
) -> None:
    lines = head + middle + tail
    width = max(map(len, lines), default=0) + extra
    text = "\n".join(line.ljust(width) for line in lines)
    assert _as_values(text) == _line_by_line(text)


def test_two_accepted_records_on_a_line_are_malformed_even_beside_a_blank_line() -> None:
    # as many words as lines, but not one a line
    for padding in ("", "   "):
        text = "\n".join(
            line + padding
            for line in ["1\\accepted\\A 2\\accepted\\B", "", "3\\accepted\\C", "4\\accepted\\D"]
        )
        with pytest.raises(ChiefFormatError) as raised:
            parse_licence_reply(text)
        assert (raised.value.line, raised.value.message) == (
            1,
            "Unable to process file: accepted record has 3 fields on line 1",
        )


def test_a_long_padded_run_is_read_as_line_by_line() -> None:
    records = ["fileHeader\\CHIEF\\SPIRE\\licenceReply\\202409251547\\7"]
    records += [f"accepted\\IMA/{n}" for n in range(40)]
    records += ["rejected\\R", "error\\1\\why not", "end\\rejected\\3", "fileTrailer\\40\\1\\0"]
    lines = [f"{n}\\{record}" for n, record in enumerate(records, start=1)]
    for text in (
        "\n".join(line.ljust(80) for line in lines),
        "\n".join(line.ljust(80) for line in lines).replace("IMA/7 ", "IMA/7\x1c"),
        "\n".join(line.ljust(80) for line in lines).replace("IMA/7 ", "IMA/7\u00a0"),
        "\n".join(lines),
    ):
        assert _as_values(text) == _line_by_line(text)
    assert parse_licence_reply("\n".join(line.ljust(80) for line in lines)).outcome is (
        ReplyOutcome.VALID
    )


# --- the bulk reading of rejected blocks after the accepted run agrees with reading line by line --

_BLOCK_FIELD = st.text(st.characters(blacklist_characters="\\\n"), max_size=4)


def _block(reference: str, errors: list[tuple[str, str]]) -> list[str]:
    lines = [f"4\\rejected\\{reference}"]
    lines += [f"5\\error\\{code}\\{text}" for code, text in errors]
    return [*lines, "6\\end\\rejected\\3"]


@st.composite
def _blocks_alike(draw: st.DrawFn) -> list[str]:
    """Rejected blocks with one number of errors each, now and then another line among them."""
    errors = draw(st.integers(min_value=0, max_value=2))
    pairs = st.lists(st.tuples(_BLOCK_FIELD, _BLOCK_FIELD), min_size=errors, max_size=errors)
    blocks = draw(st.lists(st.builds(_block, _BLOCK_FIELD, pairs), min_size=1, max_size=4))
    lines = [line for block in blocks for line in block]
    for _ in range(draw(st.integers(min_value=0, max_value=2))):
        lines.insert(draw(st.integers(min_value=0, max_value=len(lines))), draw(_OTHER_LINES))
    return lines


@settings(max_examples=500)
@given(
    st.lists(_OTHER_LINES, max_size=2),
    st.integers(min_value=1, max_value=3),
    _blocks_alike(),
    st.lists(_OTHER_LINES, max_size=2),
    st.none() | st.integers(min_value=0, max_value=2),
)
def test_rejected_blocks_agree_with_reading_line_by_line(
    head: list[str],
    accepted: int,
    blocks: list[str],
    tail: list[str],
    padding: int | None,
) -> None:
    lines = head + [f"{n}\\accepted\\A{n}" for n in range(accepted)] + blocks + tail
    if padding is not None:
        width = max(map(len, lines)) + padding
        lines = [line.ljust(width) for line in lines]
    text = "\n".join(lines)
    assert _as_values(text) == _line_by_line(text)


def test_a_block_left_open_before_the_run_does_not_take_errors_after_the_blocks() -> None:
    text = "\n".join(
        [
            "1\\rejected\\OPEN",
            "2\\accepted\\A",
            "3\\rejected\\R",
            "4\\error\\1\\why",
            "5\\end\\rejected\\3",
            "6\\error\\2\\stray",
        ]
    )
    with pytest.raises(ChiefFormatError) as raised:
        parse_licence_reply(text)
    assert (raised.value.line, raised.value.message) == (
        6,
        "Unable to process file: rejected record is out of sequence on line 6",
    )


@pytest.mark.parametrize(
    "block",
    [
        ["3\\rejected\\R", "4\\error", "5", "6\\end\\rejected\\3"],  # breaks where 4 fields end
        ["3\\rejected\\R", "4\\error\\1\\why", "5\\end", "6", "7\\rejected\\S"],
        ["3\\rejected", "4", "5\\error\\1\\why", "6\\end\\rejected\\3"],
    ],
)
def test_short_records_in_rejected_blocks_are_malformed(block: list[str]) -> None:
    text = "\n".join(["1\\accepted\\A", "2\\accepted\\B", *block, *block])
    assert _as_values(text) == _line_by_line(text)
    with pytest.raises(ChiefFormatError):
        parse_licence_reply(text)


_ODDITIES = [
    lambda line: "0" + line,  # a number one digit longer
    lambda line: " " + line,
    lambda line: "\\" + line,
    lambda line: "\\" + line[1:],  # a separator in the number's place
    lambda line: line.replace("accepted", "acceptex"),
    lambda line: line + "\\B",
]


@settings(max_examples=400)
@given(
    st.sampled_from([1, 2, 7, 96, 995]),
    st.lists(
        st.one_of(_REFERENCE, st.sampled_from(["IMA/2024/00001", "GBSIEL/2024/0000001/P"])),
        min_size=1,
        max_size=14,
    ),
    st.integers(min_value=0, max_value=3),
    st.none() | st.sampled_from(_ODDITIES),
    st.integers(min_value=0, max_value=13),
)
def test_padded_numbered_runs_agree_with_reading_line_by_line(
    first: int,
    references: list[str],
    padding: int,
    oddity: Callable[[str], str] | None,
    odd_line: int,
) -> None:
    """Numbered in order, the numbers growing a digit on the way: the run is cut by column."""
    lines = [f"{first + n}\\accepted\\{reference}" for n, reference in enumerate(references)]
    if oddity and odd_line < len(lines):
        lines[odd_line] = oddity(lines[odd_line])
    lines.append(f"{first + len(lines)}\\fileTrailer\\{len(references)}\\0\\0")
    width = max(map(len, lines)) + padding
    text = "\n".join(line.ljust(width) for line in lines)
    assert _as_values(text) == _line_by_line(text)


# --- padded ASCII runs numbered in order are read as a grid of columns ---------------------------

_ASCII_REFERENCE = st.text(st.sampled_from("AZ/09 \t\r\x1c\\\n"), max_size=7)


def _grid_reads(field: str) -> bool:
    """Whether the grid reads a field (it leaves separators, breaks and other than ASCII to
    the other readers)."""
    return field.isascii() and not {"\\", "\n"} & set(field)


def _renumber(lines: list[str], at: int) -> None:
    """Give the line at `at` the number of the next one (lines no longer numbered in order)."""
    if at + 1 < len(lines):
        lines[at] = lines[at + 1].split("\\", 1)[0] + "\\" + lines[at].split("\\", 1)[1]


@settings(max_examples=500)
@given(
    st.sampled_from([1, 2, 8, 98, 999, 9995]),
    st.lists(_ASCII_REFERENCE, min_size=1, max_size=14),
    st.integers(min_value=0, max_value=3),
    st.sampled_from([" ", " ", " ", "\t"]),
    st.sampled_from(["none", "oddity", "renumber", "hidden break", "blank line", "unpadded"]),
    st.sampled_from(_ODDITIES),
    st.integers(min_value=0, max_value=13),
)
def test_padded_ascii_runs_agree_with_reading_line_by_line(
    first: int,
    references: list[str],
    padding: int,
    pad: str,
    change: str,
    oddity: Callable[[str], str],
    odd_line: int,
) -> None:
    """Numbered in order, the numbers crossing a digit on the way, references of any length
    with inner and trailing white space: the grid reading agrees with line by line."""
    lines = [f"{first + n}\\accepted\\{reference}" for n, reference in enumerate(references)]
    at = min(odd_line, len(lines) - 1)
    if change == "oddity":
        lines[at] = oddity(lines[at])
    elif change == "renumber":
        _renumber(lines, at)
    elif change == "blank line":
        lines.insert(at, "")
    lines.append(f"{first + len(lines)}\\fileTrailer\\{len(references)}\\0\\0")
    width = max(map(len, lines)) + padding
    padded = lines if change == "unpadded" else [line.ljust(width, pad) for line in lines]
    if change == "hidden break" and padded[at].endswith(pad):
        padded[at] = padded[at][:-1] + "\n"
    text = "\n".join(padded)
    assert _as_values(text) == _line_by_line(text)
    if change == "none" and pad == " " and all(map(_grid_reads, references)) and lines[2:]:
        assert references_in_grid("\n".join(padded[:-1])) is not None  # a run of two or more


def test_a_padded_run_is_read_as_a_grid() -> None:
    # numbers from 5 to 1,204: three digit boundaries, and more lines than one slice of the grid
    references = ["IMA/2024/1", "GB SIEL/2", "X", "", "R\t", "IMA/3  \x1c"] * 200
    lines = [f"{n}\\accepted\\{reference}" for n, reference in enumerate(references, start=5)]
    text = "\n".join(line.ljust(40) for line in lines)
    expected = [reference.rstrip() for reference in references]
    assert references_in_grid(text) == expected
    assert parse_licence_reply(text).accepted == tuple(expected)


def test_a_longer_reference_behind_a_column_of_spaces_is_read_as_a_grid() -> None:
    # the first reference ends where every longer one has a space: the grid reads the rest too
    references = ["GB", "GB SIEL/2", "GB  X", "GB 7"] * 3
    lines = [f"{n}\\accepted\\{reference}" for n, reference in enumerate(references, start=2)]
    text = "\n".join(line.ljust(30) for line in lines)
    assert references_in_grid(text) == references
    assert _as_values(text) == _line_by_line(text)


@pytest.mark.parametrize(
    "change",
    [
        lambda text: text.replace("\\accepted\\X", "\\acceptex\\X", 1),
        lambda text: text.replace("X ", "X\\", 1),  # a fourth field
        lambda text: text.replace("X ", "X\n", 1),  # a line break in the padding
        lambda text: text.replace("7\\", "07\\", 1).replace("  \n8", " \n8", 1),
        lambda text: text.replace("é", "e").replace("X", "É", 1),  # not ASCII
    ],
)
def test_the_grid_leaves_other_runs_to_the_other_readers(change: Callable[[str], str]) -> None:
    lines = [f"{n}\\accepted\\X" for n in range(3, 14)]
    text = change("\n".join(line.ljust(20) for line in lines))
    assert references_in_grid(text) is None
    assert _as_values(text) == _line_by_line(text)


def test_a_separator_in_a_later_slice_of_the_grid_is_read_line_by_line() -> None:
    lines = [f"{n}\\accepted\\IMA/{n}" for n in range(1, 1500)]
    lines[1300] += "\\B"
    text = "\n".join(line.ljust(30) for line in lines)
    assert references_in_grid(text) is None
    assert _as_values(text) == _line_by_line(text)


# --- padded ASCII rejected blocks numbered in order are read as a grid ---------------------------

_BLOCK_GRID_FIELD = st.one_of(
    st.text(st.sampled_from("AZ/09 \t\r\x1c"), max_size=6),
    st.text(st.sampled_from("AZ/09 \t\r\x1c"), max_size=6),
    st.sampled_from(["\\", "a\\b", "é", " a", "a \t", "\n"]),
)
_BLOCK_ODDITIES = [
    *_ODDITIES,
    lambda line: line.replace("\\rejected\\", "\\rejectex\\", 1),  # an `end` still, not CHIEF's
    lambda line: line.replace("\\error\\", "\\errors\\", 1),
    lambda line: line.rsplit("\\", 1)[0],  # a field fewer
    lambda line: line + "é",
    lambda line: line + "\t",
]


@settings(max_examples=500)
@given(
    st.sampled_from([1, 2, 8, 97, 996, 9995]),
    st.integers(min_value=0, max_value=3),
    st.integers(min_value=0, max_value=3),
    st.lists(
        st.tuples(_BLOCK_GRID_FIELD, st.lists(st.tuples(_BLOCK_GRID_FIELD, _BLOCK_GRID_FIELD))),
        min_size=1,
        max_size=6,
    ),
    st.integers(min_value=0, max_value=3),
    st.sampled_from([" ", " ", " ", "\t"]),
    st.sampled_from(
        ["none", "none", "oddity", "renumber", "hidden break", "blank line", "unpadded", "other"]
    ),
    st.sampled_from(_BLOCK_ODDITIES),
    st.integers(min_value=0, max_value=30),
)
def test_padded_rejected_blocks_agree_with_reading_line_by_line(
    first: int,
    accepted: int,
    errors: int,
    blocks: list[tuple[str, list[tuple[str, str]]]],
    padding: int,
    pad: str,
    change: str,
    oddity: Callable[[str], str],
    odd_line: int,
) -> None:
    """Blocks with as many errors each, numbered in order across a digit boundary on the way,
    fields with inner and trailing white space, now and then a separator or a break: the grid
    reading agrees with line by line, and reads every block when they are CHIEF's layout."""
    records = [f"accepted\\A{n}" for n in range(accepted)]
    fields: list[str] = []
    for reference, pairs in blocks:
        pairs = (pairs * errors)[:errors] or [("C", "T")] * errors
        records += [f"rejected\\{reference}", *[f"error\\{c}\\{t}" for c, t in pairs]]
        records.append(f"end\\rejected\\{errors + 2}")
        fields += [reference, *[f"{c}\\{t}".replace("\\", "", 1) for c, t in pairs]]
    at = accepted + min(odd_line, len(records) - accepted - 1)  # a line of the blocks
    if change == "other":  # a block with another count of errors
        records.insert(at, "rejected\\R")
        records.insert(at + 1, "end\\rejected\\2")
    records.append(f"fileTrailer\\{accepted}\\{len(blocks)}\\0")
    lines = [f"{first + n}\\{record}" for n, record in enumerate(records)]
    if change == "oddity":
        lines[at] = oddity(lines[at])
    elif change == "renumber":
        _renumber(lines, at)
    elif change == "blank line":
        lines.insert(at, "")
    width = max(map(len, lines)) + padding
    padded = lines if change == "unpadded" else [line.ljust(width, pad) for line in lines]
    if change == "hidden break" and padded[at].endswith(pad):
        padded[at] = padded[at][:-1] + "\n"
    text = "\n".join(padded)
    assert _as_values(text) == _line_by_line(text)
    if change == "none" and pad == " " and all(map(_grid_reads, fields)):
        read = blocks_in_grid(text[accepted * (width + 1) :])
        assert read is not None and len(read.references) == len(blocks)


_REFERENCES = ["IMA/2025/1", "GB SIEL/2", "X\t", ""]
_CODES = ["1234", "7", ""]


def _padded_blocks(count: int, first: int = 5) -> list[str]:
    """An accepted record, `count` blocks of two errors and a trailer, numbered from `first`
    and padded to 60 columns; references and texts of several lengths, trailing white space."""
    records = ["accepted\\IMA/2024/1"]
    for n in range(count):
        end = " \x1c" * (n % 2)
        records += [
            f"rejected\\{_REFERENCES[n % 4]}",
            f"error\\{_CODES[n % 3]}\\Invalid thingy",
            f"error\\76543\\Invalid commodity in line {n}{end}",
            "end\\rejected\\4",
        ]
    records.append(f"fileTrailer\\1\\{count}\\0")
    return [f"{n}\\{record}".ljust(60) for n, record in enumerate(records, start=first)]


def test_padded_blocks_are_read_as_a_grid() -> None:
    # numbers from 6 to 3,605: three digit boundaries, and more lines than one slice of the grid
    lines = _padded_blocks(900)
    tail = "\n".join(lines[1:])
    read = blocks_in_grid(tail)
    assert read is not None and read.lines == 3600 and read.width == 61
    text = "\n".join(lines)
    expected = _line_by_line(text)
    assert _as_values(text) == expected
    assert isinstance(expected, tuple) and len(expected[2]) == 900
    assert expected[2][1] == (
        "GB SIEL/2",
        [("7", "Invalid thingy"), ("76543", "Invalid commodity in line 1")],
    )
    assert parse_licence_reply(text).outcome is ReplyOutcome.VALID


@pytest.mark.parametrize(
    "change",
    [
        lambda text: text.replace("\\rejected\\GB", "\\rejectex\\GB", 1),
        lambda text: text.replace("thingy ", "thingy\\", 1),  # a third data field
        lambda text: text.replace("\\7\\", "\\7 ", 1),  # one data field
        lambda text: text.replace("X\t", "X\\", 1),  # a separator in a reference
        lambda text: text.replace("line 3 ", "line 3\n", 1),  # a line break in the padding
        lambda text: text.replace("\\end\\rejected\\4 ", "\\end\\rejected\\4\\", 1),
        lambda text: text.replace("thingy", "thingé", 1),  # not ASCII
        lambda text: text.replace("Invalid commodity in line 9", "Invalid commodity in line\\9"),
    ],
)
def test_the_block_grid_leaves_other_layouts_to_the_other_readers(
    change: Callable[[str], str],
) -> None:
    lines = _padded_blocks(12)
    tail = change("\n".join(lines[1:]))
    assert blocks_in_grid(tail) is None
    text = "\n".join([lines[0], tail])
    assert _as_values(text) == _line_by_line(text)


def test_an_error_longer_behind_a_column_of_spaces_is_read_as_a_grid() -> None:
    # the first error's code and text end where the others' code has spaces: the separators of
    # the others are past the columns first cut, so the errors are cut to the end of the lines
    errors = [("9", ""), ("A  X", "why"), ("C  D E", "not so"), ("9", "")]
    records = ["accepted\\A", "accepted\\B"]
    for n, (code, text) in enumerate(errors):
        records += [f"rejected\\R{n}", f"error\\{code}\\{text}", "end\\rejected\\3"]
    lines = [f"{n}\\{record}".ljust(30) for n, record in enumerate(records, start=1)]
    read = blocks_in_grid("\n".join(lines[2:]))
    assert read is not None and read.errors == [([c for c, _ in errors], [t for _, t in errors])]
    text = "\n".join(lines)
    assert _as_values(text) == _line_by_line(text)


def test_an_odd_line_in_a_later_slice_of_the_block_grid_is_read_line_by_line() -> None:
    lines = _padded_blocks(900)
    lines[3302] = lines[3302].replace("\\error\\", "\\error\\x\\", 1)[:60]  # a third field
    text = "\n".join(lines)
    assert blocks_in_grid("\n".join(lines[1:])) is None
    assert _as_values(text) == _line_by_line(text)
    with pytest.raises(ChiefFormatError) as raised:
        parse_licence_reply(text)
    assert raised.value.line == 3303


def test_a_reply_of_rejected_blocks_only_is_read_in_bulk() -> None:
    text = render_licence_reply(
        run_number=7,
        created_at=FAKE_TIME,
        rejected=[
            (f"IMA/{n}", [ReplyError("12345", f"Fake error for IMA/{n}")]) for n in range(600)
        ],
    )
    lines = [line.ljust(70) for line in text.split("\n")]
    padded = "\n".join(lines)
    read = blocks_in_grid("\n".join(lines[1:]))
    assert read is not None and len(read.references) == 600
    for reply_text in (text, padded):
        assert _as_values(reply_text) == _line_by_line(reply_text)
    assert parse_licence_reply(padded).outcome is ReplyOutcome.VALID
