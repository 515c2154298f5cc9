"""usageData: the usage vector, the trailer rule, malformed files, the simulator's writer."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from licence_gateway.domain.chief import (
    ChiefFormatError,
    UsageToReport,
    callback_json,
    parse_usage_data,
    render_usage_data,
    usage_callback_body,
    usage_data_file_name,
)

FIXTURES = Path(__file__).parent / "fixtures" / "icms-hmrc"
VECTOR = json.loads(
    (
        FIXTURES
        / "derived"
        / "usage_to_icms"
        / "ILBDOTI_live_CHIEF_usageData_7132_202209280300.json"
    ).read_text()
)
USAGE = (FIXTURES / VECTOR["usage_file"]).read_bytes().decode()
HEADER = "1\\fileHeader\\CHIEF\\ILBDOTI\\usageData\\202209280300\\7132\\"


def test_usage_callback_body_matches_the_original_exactly() -> None:
    usage = parse_usage_data(USAGE)
    body = usage_callback_body(usage)
    assert body == VECTOR["expected_post_json"]
    assert callback_json(body) == VECTOR["expected_post_body_text"]
    assert usage.run_number == "7132"
    assert usage.usages[6].completion_date == "20220927"
    assert usage.usages[0].transaction_ref == "LU07132/00001"


def test_padding_and_crlf_are_tolerated() -> None:
    padded = "\r\n".join(line + "   " for line in USAGE.split("\n"))
    assert usage_callback_body(parse_usage_data(padded)) == VECTOR["expected_post_json"]


def test_an_empty_usage_file_is_normal() -> None:
    body = usage_callback_body(parse_usage_data(f"{HEADER}\n2\\fileTrailer\\0\n"))
    assert body == {"usage_data": []}


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (f"{HEADER}\n2\\licenceUsage\\LU1/1\\insert\\GB1\\O\\\n3\\fileTrailer\\2\n", 3),
        (f"{HEADER}\n2\\fileTrailer\\ten\n", 2),
        (f"{HEADER}\n2\\fileTrailer\\\n", 2),
    ],
)
def test_trailer_must_count_the_transactions(text: str, line: int) -> None:
    parsed = parse_usage_data(text)  # reading is lenient; sending to ICMS is not
    with pytest.raises(ChiefFormatError) as refused:
        usage_callback_body(parsed)
    assert refused.value.line == line


def test_a_missing_trailer_is_refused_not_crashed_on() -> None:
    with pytest.raises(ChiefFormatError, match="no fileTrailer"):
        usage_callback_body(parse_usage_data(f"{HEADER}\n"))


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ("2\\bogus\\1", "Unknown field_type (bogus) on line 2"),
        ("2\\end\\rejected\\3", "Unknown start record type (rejected) on line 2"),
        ("2\\end", "end record has 0 fields on line 2"),
        ("2\\licenceUsage\\LU1/1\\insert\\GB1", "licenceUsage record has 3 fields on line 2"),
        ("2\\licenceUsage\\LU1/1\\insert\\GB1\\O\\20220101\\x", "has 6 fields on line 2"),
        ("2", "Unknown field_type () on line 2"),
    ],
)
def test_malformed_records_name_the_line(record: str, message: str) -> None:
    with pytest.raises(ChiefFormatError) as refused:
        parse_usage_data(f"{HEADER}\n{record}\n3\\fileTrailer\\0\n")
    assert message in refused.value.message
    assert refused.value.line == 2


def test_rendered_usage_parses_back() -> None:
    created = datetime(2022, 9, 28, 3, 0)
    text = render_usage_data(
        run_number=7132,
        created_at=created,
        usages=[
            UsageToReport("GBOIL9089579F"),
            UsageToReport("GBSIL9089963M", "C", "20220927", "12.5"),
        ],
    )
    assert text.startswith(
        HEADER + "\n2\\licenceUsage\\LU07132/00001\\insert\\GBOIL9089579F\\O\\\n"
    )
    assert usage_callback_body(parse_usage_data(text)) == {
        "usage_data": [
            {"licence_ref": "GBOIL9089579F", "licence_status": "O"},
            {"licence_ref": "GBSIL9089963M", "licence_status": "C"},
        ]
    }
    assert usage_data_file_name(7132, created) == "ILBDOTI_live_CHIEF_usageData_7132_202209280300"


_LINES = st.builds(
    lambda kind, fields: "\\".join(["1", kind, *fields]),
    st.sampled_from(["fileHeader", "licenceUsage", "line", "usage", "end", "fileTrailer", "?"]),
    st.lists(st.sampled_from(["", "line", "licenceUsage", "1", "O", "x y"]), max_size=7),
)


@settings(max_examples=400)
@given(st.one_of(st.text(), st.lists(st.one_of(_LINES, st.text()), max_size=12).map("\n".join)))
def test_parser_raises_only_the_typed_error(text: str) -> None:
    try:
        usage_callback_body(parse_usage_data(text))
    except ChiefFormatError as exc:
        assert exc.message
