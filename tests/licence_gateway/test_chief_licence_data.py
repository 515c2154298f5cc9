"""licenceData: golden files byte for byte, the encoding rules, the self-check and the reader."""

from __future__ import annotations

import copy
import json
import warnings
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from unidecode import unidecode_expect_ascii

from licence_gateway.domain.chief import (
    ChiefFormatError,
    LicenceDataInvalid,
    LicenceNotBuildable,
    build_licence_data,
    check_licence_data,
    licence_data,
    licence_data_file_name,
    read_licence_data,
    to_ascii,
    validate_licence_data_file,
)
from licence_gateway.domain.licence_validation import validate_licence
from tests.licence_gateway.strategies import REFERENCES, post_bodies

FIXTURES = Path(__file__).parent / "fixtures" / "icms-hmrc"
GOLDEN = sorted(
    [
        *(FIXTURES / "icms" / "licence_data_files").glob("*.json"),
        FIXTURES / "derived" / "licence_data" / "recreate_run_124.json",
    ]
)
WHEN = datetime(2022, 1, 1, 10, 11)


def load_vector(path: Path) -> tuple[dict[str, Any], str]:
    """The vector and its expected file, CRLF turned into LF as the upstream tests read it."""
    vector = json.loads(path.read_text())
    expected = (path.parent / vector["expected_output_file"]).read_bytes().decode()
    return vector, expected.replace("\r\n", "\n")


def golden_licence(name: str) -> dict[str, Any]:
    vector, _ = load_vector(FIXTURES / "icms" / "licence_data_files" / f"{name}.json")
    return copy.deepcopy(vector["requests"][0]["licence"])


def records(text: str) -> list[str]:
    return text.splitlines()


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.stem)
def test_golden_file_is_byte_identical(path: Path) -> None:
    vector, expected = load_vector(path)
    built = build_licence_data(
        [body["licence"] for body in vector["requests"]],
        run_number=vector["run_number"],
        created_at=datetime.fromisoformat(vector["created_at_utc"]),
        source_system=vector["chief_source_system"],
    )
    assert built.text.encode() == expected.encode()
    assert built.name == vector["expected_filename_and_subject"]
    assert built.attachment == built.text  # all ASCII already
    assert built.references == tuple(body["licence"]["reference"] for body in vector["requests"])


def test_file_name_pads_and_uses_utc() -> None:
    assert licence_data_file_name("ILBDOTI", 29236, datetime(2022, 9, 23, 11, 40)) == (
        "CHIEF_LIVE_ILBDOTI_licenceData_29236_202209231140"
    )
    assert licence_data_file_name("FOO", 7, datetime(1999, 12, 31, 0, 0, 59)) == (
        "CHIEF_LIVE_FOO_licenceData_7_199912310000"
    )
    # 10:11 in London summer time is 09:11 UTC
    bst = datetime(2024, 7, 1, 10, 11, tzinfo=timezone(timedelta(hours=1)))
    assert licence_data_file_name("ILBDOTI", 1, bst).endswith("_202407010911")


def test_empty_batch_is_header_and_trailer() -> None:
    built = build_licence_data([], run_number=3, created_at=WHEN)
    assert (
        built.text
        == "1\\fileHeader\\ILBDOTI\\CHIEF\\licenceData\\202201011011\\3\\N\n2\\fileTrailer\\0\n"
    )


@pytest.mark.parametrize(
    ("quantity", "printed"),
    [
        (26710, "26710"),
        (26710.0, "26710.0"),
        (1.50, "1.5"),
        ("0012.50", "0012.50"),
        (12345678901.123, "12345678901.123"),
        ("12.500", "12.500"),
    ],
)
def test_quantity_prints_as_the_original(quantity: object, printed: str) -> None:
    licence = golden_licence("sanction_insert")
    licence["goods"][0]["quantity"] = quantity
    assert validate_licence(licence) == {}
    line = records(build_licence_data([licence], run_number=1, created_at=WHEN).text)[5]
    assert line.split("\\")[12] == printed


def test_restrictions_line_breaks_become_bars_and_only_empty_text_drops_the_record() -> None:
    licence = golden_licence("fa_oil_insert") | {"restrictions": " line a\r\nline b\n\nline c \n"}
    assert "5\\restrictions\\line a|line b||line c" in records(
        build_licence_data([licence], run_number=1, created_at=WHEN).text
    )
    blank = build_licence_data([licence | {"restrictions": "  "}], run_number=1, created_at=WHEN)
    assert "5\\restrictions\\" in records(blank.text)
    empty = build_licence_data([licence | {"restrictions": ""}], run_number=1, created_at=WHEN)
    assert not any("restrictions" in r for r in records(empty.text))
    assert "6\\end\\licence\\5" in records(empty.text)


def test_country_group_wins_over_code() -> None:
    licence = golden_licence("fa_oil_insert") | {"country_code": "US"}
    assert "4\\country\\\\G001\\O" in records(
        build_licence_data([licence], run_number=1, created_at=WHEN).text
    )


def test_sanctions_lines_are_emitted_once() -> None:
    """The original's shared-iterator chain must not add OIL-style lines after SAN ones."""
    text = build_licence_data(
        [golden_licence("sanction_insert")], run_number=1, created_at=WHEN
    ).text
    assert [r.split("\\")[1] for r in records(text)].count("line") == 3


def test_firearms_lines_are_open_whatever_the_payload_says() -> None:
    licence = golden_licence("fa_oil_insert")
    licence["goods"][0] |= {"controlled_by": "Q", "quantity": 5, "unit": 30}
    line = records(build_licence_data([licence], run_number=1, created_at=WHEN).text)[5]
    assert line.endswith("\\O\\\\\\\\\\\\\\\\\\\\")


def test_organisation_dates_are_printed_without_hyphens() -> None:
    licence = golden_licence("fa_oil_insert")
    licence["organisation"] |= {"start_date": "2022-01-02", "end_date": None}
    trader = records(build_licence_data([licence], run_number=1, created_at=WHEN).text)[2]
    assert trader.split("\\")[4:6] == ["20220102", ""]


def test_ascii_attachment_is_transliterated_as_the_original() -> None:
    licence = golden_licence("fa_oil_insert")
    licence["organisation"]["name"] = "Société “Générale” 北亰"
    built = build_licence_data([licence], run_number=1, created_at=WHEN)
    assert "Société “Générale” 北亰" in built.text
    assert '\\Societe "Generale" Bei Jing \\' in built.attachment
    assert built.attachment.isascii()
    assert to_ascii("30 𝗄𝗆/𝗁 北亰") == "30 km/h Bei Jing "
    assert to_ascii("smile \U0001f600") == "smile ?"  # no transliteration known


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(st.characters(codec="utf-8"), max_size=60) | st.text(max_size=60))
def test_ascii_fast_path_gives_what_unidecode_gives(text: str) -> None:
    """Only non-ASCII runs go through unidecode's table: the whole string must come out the same
    as unidecode over all of it, for any character, surrogates and unmapped planes included."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # unidecode warns about surrogates
        expected = unidecode_expect_ascii(text, errors="replace")
        assert to_ascii(text) == expected
        assert to_ascii(f"ascii {text} and {text}\n{text}") == (
            f"ascii {expected} and {expected}\n{expected}"
        )


def test_attachment_is_checked_only_where_transliteration_changed_a_line() -> None:
    """A problem of the text is reported once, not again for its unchanged ASCII line."""
    text = (
        "1\\fileHeader\\SRC\\CHIEF\\licenceData\\202201011011\\1\\N\n"
        "2\\licence\\R\\update\\L\\SIL\\I\\20220101\\\n"
        "3\\restrictions\\a＼b\n"
    )
    problems = check_licence_data(text)
    assert [(p.line, p.message) for p in problems] == [
        (2, "Invalid action update for the data identifier licenceData"),
        (3, "restrictions doesn't contain all necessary values (in the ASCII attachment)"),
    ]


def test_source_system_equal_to_destination_is_refused() -> None:
    with pytest.raises(LicenceDataInvalid) as refused:
        build_licence_data([], run_number=1, created_at=WHEN, source_system="CHIEF")
    assert [p.message for p in refused.value.problems] == ["Source and destination are the same"]


def test_a_payload_that_bypassed_validation_is_named_not_crashed_on() -> None:
    nuclear = golden_licence("nuclear_material_insert")
    del nuclear["goods"][0]["description"]
    with pytest.raises(LicenceNotBuildable) as refused:
        build_licence_data(
            [golden_licence("fa_oil_insert"), nuclear], run_number=1, created_at=WHEN
        )
    assert (refused.value.index, refused.value.reference) == (1, "IMA/2025/00001")


def test_a_repeated_record_is_cut_and_checked_at_every_line() -> None:
    """Records the file repeats are checked once when they pass; a cut or a problem is
    reported for each licence and line all the same."""
    licences = [golden_licence("fa_oil_insert") for _ in range(3)]
    for licence in licences:
        licence["organisation"]["name"] = "£" * 79  # each £ becomes PS: past CHIEF's 80
    built = build_licence_data(licences, run_number=1, created_at=WHEN)
    assert [(cut.licence, cut.field) for cut in built.cut_fields] == [
        (index, "organisation.name") for index in range(3)
    ]
    for licence in licences:
        licence["goods"][0]["description"] = ""  # an open line with nothing to say
    with pytest.raises(LicenceDataInvalid) as refused:
        build_licence_data(licences, run_number=1, created_at=WHEN)
    problems = refused.value.problems
    assert {p.message for p in problems} == {"Product description or commodity code must be set"}
    assert len(problems) == 3 and len({p.line for p in problems}) == 3


def test_a_file_broken_by_a_stored_backslash_never_leaves() -> None:
    licence = golden_licence("fa_oil_insert")
    licence["organisation"]["name"] = "A\\B"
    with pytest.raises(LicenceDataInvalid) as refused:
        build_licence_data([licence], run_number=1, created_at=WHEN)
    assert refused.value.problems[0].record_type == "trader"
    assert refused.value.problems[0].line == 3


def test_a_file_broken_by_a_stored_line_break_never_leaves() -> None:
    """The record checked is not the attachment's line: the file is checked line by line."""
    licence = golden_licence("fa_oil_insert")
    licence["organisation"]["name"] = "A\nB"
    with pytest.raises(LicenceDataInvalid) as refused:
        build_licence_data([licence], run_number=1, created_at=WHEN)
    assert [(p.line, p.record_type) for p in refused.value.problems] == [
        (3, "trader"),
        (4, "line_1"),
    ]


# --- the self-check (spec 3.6) -----------------------------------------------------------------


def test_validator_counts_errors_per_record() -> None:
    header = "1\\fileHeader\\ILBDOTI\\ILBDOTI\\licenceData\\202201011011\\1\\N"
    trader = "3\\trader\\\\GB123\\\\\\" + "n" * 81 + "\\" + "a" * 36 + "\\\\\\\\\\BFPO 123"
    line = "4\\line\\1\\\\\\\\\\desc\\T" + "\\" * 10
    problems = validate_licence_data_file("\n".join([header, trader, line, "5\\nonsense\\x"]))
    assert [(p.line, p.record_type) for p in problems] == [
        (1, "fileHeader"),
        (2, "trader"),
        (2, "trader"),
        (2, "trader"),
        (3, "line"),
        (4, "nonsense"),
    ]
    assert problems[-1].message == "Invalid record type nonsense"


def test_validator_checks_field_counts_and_trader_dates() -> None:
    problems = validate_licence_data_file(
        "1\\fileHeader\\A\\B\\licenceData\\1\\1\\N\n"
        "2\\licence\\R\\update\\L\\FOO\\I\\20220101\n"
        "3\\licence\\R\\update\\L\\FOO\\I\\20220101\\\n"
        "4\\trader\\\\GB1\\20220102\\20220101\\n\\\\\\\\\\\\\n"
    )
    assert [p.message for p in problems] == [
        "licence doesn't contain all necessary values",
        "Invalid action update for the data identifier licenceData",
        "Invalid licence type FOO in the record",
        "Invalid start and end dates for the licence",
    ]


def test_check_reports_problems_only_in_the_ascii_attachment() -> None:
    text = "1\\fileHeader\\SRC\\CHIEF\\licenceData\\202201011011\\1\\N\n2\\restrictions\\a＼b\n"
    assert validate_licence_data_file(text) == []
    [problem] = check_licence_data(text)
    assert problem.line == 2 and "ASCII attachment" in problem.message


# --- the reader (used by the HMRC simulator) ---------------------------------------------------


def test_reader_returns_run_number_and_transactions() -> None:
    _, expected = load_vector(FIXTURES / "icms" / "licence_data_files" / "fa_dfl_insert.json")
    summary = read_licence_data(expected.replace("\n", "\r\n"))
    assert summary.run_number == "1"
    assert summary.source_system == "ILBDOTI"
    assert summary.created_at == "202201011011"
    assert [(t.reference, t.action, t.licence_type) for t in summary.transactions] == [
        ("IMA/2022/00002", "insert", "SIL"),
        ("IMA/2022/00003", "insert", "SIL"),
    ]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("2\\licence\\R\\insert\\L\\SIL\\I\\1\\2\n", None),
        ("1\\fileHeader\\A\\B\\licenceData\\1\\1\\N\n2\\licence\\R\n", 2),
        ("1\\fileHeader\\A\\B\\licenceData\\1\\1\\N\n\n3\\bogus\n", 3),
        ("1\\fileHeader\\A\\B\\licenceReply\\1\\1\\N\n", 1),
    ],
)
def test_reader_refuses_malformed_files(text: str, line: int | None) -> None:
    with pytest.raises(ChiefFormatError) as refused:
        read_licence_data(text)
    assert refused.value.line == line


# --- property: what validation accepts always builds a file the self-check passes ---------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(post_bodies())
def test_any_accepted_batch_builds_a_valid_file(bodies: list[dict[str, Any]]) -> None:
    licences = [body["licence"] for body in bodies]
    # The strategy aims at valid licences but can overshoot a limit once text is transliterated
    # (one CJK character becomes several ASCII ones): the property is about what validation accepts.
    assume(all(validate_licence(licence) == {} for licence in licences))
    built = build_licence_data(
        licences, run_number=42, created_at=datetime(2030, 5, 6, 7, 8, tzinfo=UTC)
    )
    assert validate_licence_data_file(built.text) == []
    assert validate_licence_data_file(built.attachment) == []
    assert built.attachment.isascii()
    summary = read_licence_data(built.attachment)
    assert summary.run_number == "42"
    assert [(t.reference, t.action) for t in summary.transactions] == [
        (licence["reference"], licence["action"]) for licence in licences
    ]
    lines = built.text.splitlines()
    assert lines[-1] == f"{len(lines)}\\fileTrailer\\{len(licences)}"
    assert [int(r.split("\\")[0]) for r in lines] == list(range(1, len(lines) + 1))


@settings(max_examples=300)
@given(st.lists(st.text(max_size=30), max_size=10).map("\n".join) | st.text())
def test_self_check_and_reader_never_crash(text: str) -> None:
    assert all(p.message for p in validate_licence_data_file(text))
    try:
        read_licence_data(text)
    except ChiefFormatError as exc:
        assert exc.message


# --- fast paths against the general path -------------------------------------------------------

_FIELD_TEXT = st.text(
    st.one_of(
        st.characters(min_codepoint=32, max_codepoint=126),
        st.sampled_from(list("\\\n\r\u2028éü’北")),
    ),
    max_size=40,
)


def _mostly(values: list[str]) -> st.SearchStrategy[str]:
    """One of `values` four times in five, else any text: the edges come up often."""
    return st.integers(0, 4).flatmap(lambda n: _FIELD_TEXT if n == 0 else st.sampled_from(values))


_TRICKY = ["A\\B", "A\nB", "é", ""]  # a separator, a line break, not ASCII, empty


@settings(max_examples=500)
@given(
    reference=_mostly(["IMA/2022/00001", "R" * 17, "R" * 18, *_TRICKY]),
    action=_mostly(["insert", "replace", "cancel", "update", *_TRICKY]),
    licence_reference=_mostly(["GBSIL1111111C", "L" * 35, "L" * 36, *_TRICKY]),
    licence_type=_mostly(["SIL", "OIL", "SAN", "DFL", *_TRICKY]),
    dates=st.tuples(_mostly(["20220101", *_TRICKY]), _mostly(["20230101", *_TRICKY])),
)
def test_a_licence_record_passed_as_stored_is_what_the_check_finds(
    reference: str, action: str, licence_reference: str, licence_type: str, dates: tuple[str, str]
) -> None:
    """The writer skips its general check for a licence record only where that check would
    send it as stored: uncut, on one line, without a problem."""
    fields = ["", "licence", reference, action, licence_reference, licence_type, "I", *dates]
    record = "\\".join(fields)
    writer = licence_data._FileWriter()
    writer.write("\\fileHeader\\ILBDOTI\\CHIEF\\licenceData\\202201011011\\1\\N")
    sent = writer._check(record, 2, 0)
    if licence_data._passes_as_stored(record, fields):
        assert sent == record
        assert (writer.problems, writer.cuts, writer.line_broken) == ([], [], False)


def test_the_licence_records_of_the_golden_files_pass_as_stored() -> None:
    for path in GOLDEN:
        _, expected = load_vector(path)
        stored = ["\\" + line.partition("\\")[2] for line in records(expected)]
        licence_records = [record for record in stored if record.startswith("\\licence\\")]
        assert licence_records
        assert all(licence_data._passes_as_stored(r, r.split("\\")) for r in licence_records)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(post_bodies(), st.lists(_FIELD_TEXT | REFERENCES, max_size=5))
def test_licence_records_passed_as_stored_build_what_the_general_check_builds(
    bodies: list[dict[str, Any]], references: list[str]
) -> None:
    """The same file, or the same refusal, with every licence record checked in general; some
    references made invalid."""
    licences = [body["licence"] for body in bodies]
    for licence, reference in zip(licences, references, strict=False):
        licence["reference"] = reference

    def outcome() -> object:
        try:
            return build_licence_data(licences, run_number=7, created_at=WHEN)
        except LicenceDataInvalid as refused:
            return refused.problems

    fast = outcome()
    with patch.object(licence_data, "_passes_as_stored", lambda record, fields: False):
        assert outcome() == fast


_VALUES = st.none() | st.integers() | st.floats() | st.booleans() | _FIELD_TEXT
# eight to one: all eight values of a trader text in about a third of the cases
_MOSTLY_TEXT = st.integers(0, 8).flatmap(lambda n: _VALUES if n == 0 else _FIELD_TEXT)


@given(
    st.fixed_dictionaries(
        {"eori_number": _MOSTLY_TEXT, "name": _MOSTLY_TEXT},
        optional={"start_date": _FIELD_TEXT, "end_date": _FIELD_TEXT},
    ),
    st.fixed_dictionaries(
        dict.fromkeys(("line_1", "line_2", "line_3", "line_4", "line_5"), _MOSTLY_TEXT),
        optional={"postcode": _MOSTLY_TEXT},
    ),
)
def test_trader_values_joined_as_they_are_follow_the_field_rule(
    organisation: dict[str, Any], address: dict[str, Any]
) -> None:
    """Text values are joined as they are; any value missing or not text, by the field rule."""
    organisation = {**organisation, "address": address}
    trader = licence_data._trader(organisation)
    dates = licence_data._dates(organisation.get("start_date"), organisation.get("end_date"))
    assert trader == licence_data._trader_by_field_rule(organisation, *dates)
