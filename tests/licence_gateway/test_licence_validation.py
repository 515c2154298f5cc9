"""validate_licence: the original's rules (spec 2.4) and each hole of spec 14 closed."""

from __future__ import annotations

import copy
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from licence_gateway.domain.chief import build_licence_data
from licence_gateway.domain.licence_validation import validate_licence
from tests.licence_gateway.strategies import valid_licences

_NOW = datetime(2024, 1, 2, 3, 4)
VECTORS = Path(__file__).parent / "fixtures" / "icms-hmrc" / "icms" / "licence_data_files"


def golden(name: str) -> dict[str, Any]:
    """A fresh copy of the first licence of a golden vector."""
    vector = json.loads((VECTORS / f"{name}.json").read_text())
    return copy.deepcopy(vector["requests"][0]["licence"])


def refused(licence: object) -> dict[str, list[str]]:
    errors = validate_licence(licence)
    assert errors, "expected the licence to be refused"
    return errors


@pytest.mark.parametrize("path", sorted(VECTORS.glob("*.json")), ids=lambda p: p.stem)
def test_every_golden_payload_is_valid(path: Path) -> None:
    for body in json.loads(path.read_text())["requests"]:
        assert validate_licence(body["licence"]) == {}


def test_a_licence_that_is_not_an_object_is_refused() -> None:
    assert refused(["not", "an", "object"]) == {
        "non_field_errors": ["Invalid data. Expected a dictionary, but got list."]
    }


# --- spec 14: the original answered 500 for these -------------------------------------------------


@pytest.mark.parametrize("field", ["type", "action"])
def test_missing_type_or_action_is_a_field_error(field: str) -> None:
    licence = golden("fa_oil_insert")
    del licence[field]
    assert refused(licence) == {field: ["This field is required."]}


def test_unknown_type_with_insert_is_a_field_error() -> None:
    licence = golden("fa_oil_insert") | {"type": "FOO"}
    assert refused(licence) == {"type": ['"FOO" is not a valid choice.']}


def test_unknown_action_is_a_field_error() -> None:
    licence = golden("fa_oil_insert") | {"action": "update"}
    assert refused(licence) == {"action": ['"update" is not a valid choice.']}


def test_non_string_type_is_a_field_error_not_a_crash() -> None:
    assert refused(golden("fa_oil_insert") | {"type": ["OIL"]})["type"]


def test_cancel_checks_only_the_common_fields() -> None:
    cancel = golden("fa_sil_cancel")
    assert validate_licence(cancel) == {}
    assert refused(cancel | {"type": "FOO"}) == {"type": ['"FOO" is not a valid choice.']}


# --- spec 14: accepted by the original, then broke or corrupted the file -------------------------


def test_backslash_in_any_text_is_refused() -> None:
    licence = golden("fa_sil_insert")
    licence["organisation"]["name"] = "Smith\\Jones Ltd"
    licence["goods"][0]["description"] = "a\\b"
    errors = refused(licence)
    assert "backslash" in errors["organisation.name"][0]
    assert "backslash" in errors["goods[0].description"][0]


def test_text_that_transliterates_to_a_backslash_is_refused() -> None:
    licence = golden("fa_oil_insert")
    licence["organisation"]["address"]["line_2"] = "Unit 1＼2"  # fullwidth reverse solidus
    assert "once transliterated to ASCII" in refused(licence)["organisation.address.line_2"][0]


def test_line_break_outside_restrictions_is_refused() -> None:
    licence = golden("fa_oil_insert")
    licence["organisation"]["address"]["line_1"] = "1 High St\nFlat 2"
    licence["licence_reference"] = "GBOIL2222222C\u2028"
    errors = refused(licence)
    assert "line break" in errors["organisation.address.line_1"][0]
    assert "line break" in errors["licence_reference"][0]


def test_line_breaks_in_restrictions_are_allowed() -> None:
    licence = golden("fa_oil_insert") | {"restrictions": " line a\r\nline b\n\nline c \n"}
    assert validate_licence(licence) == {}


def test_nuclear_goods_without_description_are_refused() -> None:
    licence = golden("nuclear_material_insert")
    del licence["goods"][2]["description"]
    assert refused(licence) == {"goods[2].description": ["This field is required."]}


def test_line_break_in_nuclear_description_is_refused() -> None:
    licence = golden("nuclear_material_insert")
    licence["goods"][0]["description"] = "Uranium\nore"
    assert refused(licence) == {
        "goods[0].description": ["'description' contains an invalid whitespace character"]
    }


def test_non_uk_postcode_is_refused() -> None:
    for postcode in ("BFPO 123", "75001", "D02 X285"):
        licence = golden("fa_sil_insert")
        licence["organisation"]["address"]["postcode"] = postcode
        assert list(refused(licence)) == ["organisation.address.postcode"]


def test_postcode_rule_matches_the_file_validator() -> None:
    licence = golden("fa_sil_insert")
    for postcode in ("S881ZZ", "s22 7zz", "SW1A 1AA", "GIR 0AA", ""):
        licence["organisation"]["address"]["postcode"] = postcode
        assert validate_licence(licence) == {}
        build_licence_data([licence], run_number=1, created_at=_NOW)


@pytest.mark.parametrize(
    "bad_date", ["2024-3-7", "2024-03-7", "20240307", "2024-02-30", "", 20240307]
)
def test_dates_must_be_strict_yyyy_mm_dd(bad_date: object) -> None:
    licence = golden("fa_oil_insert") | {"start_date": bad_date}
    assert list(refused(licence)) == ["start_date"]


def test_end_before_start_is_refused() -> None:
    licence = golden("fa_oil_insert") | {"start_date": "2025-01-02", "end_date": "2025-01-01"}
    assert refused(licence) == {"end_date": ["'end_date' must not be before 'start_date'."]}
    organisation = golden("fa_oil_insert")
    organisation["organisation"] |= {"start_date": "2025-01-02", "end_date": "2024-12-31"}
    assert list(refused(organisation)) == ["organisation.end_date"]


def test_length_and_blank_are_measured_without_surrounding_whitespace_as_drf_does() -> None:
    """Issue 18.1: the original's CharField trims for validation and stores the raw value."""
    licence = golden("sanction_insert")
    organisation = licence["organisation"]
    organisation["name"] = "x" * 80 + "  "
    organisation["eori_number"] = " " + organisation["eori_number"] + " "
    organisation["address"] |= {"line_1": " " + "a" * 35, "line_2": "b" * 35 + "\t"}
    organisation["address"]["postcode"] = " S11 8ZZ "  # 9 characters raw, 7 trimmed
    licence["licence_reference"] = "L" * 35 + " "
    licence["reference"] = " " + licence["reference"]
    licence["restrictions"] = "r" * 2000 + "\n"
    licence["country_code"], licence["country_group"] = " US", None
    licence["goods"][0]["commodity"] = " " + "1" * 11
    assert validate_licence(licence) == {}
    built = build_licence_data([licence], run_number=1, created_at=datetime(2022, 1, 1))
    assert "\\" + "x" * 80 + "  \\" in built.text  # stored and printed raw
    assert "\\" + "x" * 80 + "\\" in built.attachment  # cut for CHIEF
    cut = {field.field for field in built.cut_fields}
    assert cut == {
        "organisation.name",
        "organisation.eori_number",
        "organisation.address.line_1",
        "organisation.address.line_2",
        "organisation.address.postcode",
        "licence_reference",
        "country_code",
        "goods[0].commodity",
    }


def test_a_blank_or_overlong_trimmed_value_is_still_refused() -> None:
    licence = golden("fa_oil_insert")
    licence["organisation"]["name"] = "x" * 81
    licence["organisation"]["address"]["line_1"] = "   "
    licence["licence_reference"] = " \t "
    assert refused(licence) == {
        "organisation.name": ["Ensure this field has no more than 80 characters."],
        "organisation.address.line_1": ["This field may not be blank."],
        "licence_reference": ["This field may not be blank."],
    }


def test_a_field_transliteration_makes_too_long_is_accepted_and_cut_in_the_attachment() -> None:
    # 20 characters, but "Bei Jing ..." in the ASCII attachment: 90 characters.
    licence = golden("fa_oil_insert")
    licence["organisation"]["address"]["line_3"] = "北京" * 10
    licence["organisation"]["name"] = "£" * 80
    assert validate_licence(licence) == {}
    built = build_licence_data([licence], run_number=1, created_at=datetime(2022, 1, 1))
    assert "北京" * 10 in built.text and "£" * 80 in built.text
    assert [(f.licence, f.field, f.length, f.maximum) for f in built.cut_fields] == [
        (0, "organisation.name", 160, 80),
        (0, "organisation.address.line_3", 90, 35),
    ]
    assert "\\" + "PS" * 40 + "\\" in built.attachment


def test_reference_must_match_without_trailing_newline_or_unicode_digits() -> None:
    for reference in ("IMA/2022/00001\n", "IMA/２０２２/00001", "IMA/2022"):
        assert "reference" in refused(golden("fa_oil_insert") | {"reference": reference})
    assert validate_licence(golden("fa_oil_insert") | {"reference": " IMA/2022/00001 "}) == {}


def test_quantity_must_print_as_plain_digits() -> None:
    for quantity, field_errors in [
        (" 12", 1),
        ("1e5", 1),
        ("1.", 1),
        (-5, 1),
        (1.2345, 1),
        (123456789012, 1),
        (True, 1),
        ("NaN", 1),
    ]:
        licence = golden("sanction_insert")
        licence["goods"][0]["quantity"] = quantity
        assert len(refused(licence)["goods[0].quantity"]) == field_errors, quantity


def test_quantity_control_needs_a_positive_quantity_and_a_unit() -> None:
    licence = golden("fa_sil_insert")
    licence["goods"][0]["quantity"] = 0
    del licence["goods"][1]["unit"]
    licence["goods"][2]["unit"] = 29  # not an HMRC quantity code ICMS may use
    assert refused(licence) == {
        "goods[0].quantity": ["'quantity' must be set when controlled_by equals 'Q'"],
        "goods[1].unit": ["'unit' must be set when controlled_by equals 'Q'"],
        "goods[2].unit": ['"29" is not a valid choice.'],
    }


def test_units_may_be_numbers_or_numeric_strings() -> None:
    licence = golden("fa_sil_insert")
    licence["goods"][0]["unit"] = "116"
    assert validate_licence(licence) == {}
    licence["goods"][0]["unit"] = 30.0
    assert "goods[0].unit" in refused(licence)


def test_one_of_country_code_or_group_is_required() -> None:
    licence = golden("fa_oil_insert")
    del licence["country_group"]
    assert refused(licence) == {
        "non_field_errors": ["Either 'country_code' or 'country_group' should be set."]
    }


def test_restrictions_key_is_required_but_may_be_blank() -> None:
    licence = golden("fa_oil_insert")
    del licence["restrictions"]
    assert refused(licence) == {"restrictions": ["This field is required."]}
    assert validate_licence(licence | {"restrictions": ""}) == {}
    assert refused(licence | {"restrictions": None}) == {
        "restrictions": ["This field may not be null."]
    }


def test_eori_rules() -> None:
    for eori, ok in [
        ("GB123456789012", True),
        ("gb123456789012345", True),
        ("GBPR12345678", False),
        ("XI123456789012", False),
        ("GB1234567890123", False),
    ]:
        licence = golden("fa_oil_insert")
        licence["organisation"]["eori_number"] = eori
        assert (validate_licence(licence) == {}) is ok, eori


def test_goods_rules_by_type() -> None:
    oil = golden("fa_oil_insert")
    assert validate_licence(oil | {"goods": None}) == {}
    assert validate_licence({k: v for k, v in oil.items() if k != "goods"}) == {}
    sil = golden("fa_sil_insert")
    assert validate_licence(sil | {"goods": []}) == {}
    assert refused(sil | {"goods": None}) == {"goods": ["This field may not be null."]}
    san = golden("sanction_insert")
    san["goods"][0]["commodity"] = "123456789012"
    assert list(refused(san)) == ["goods[0].commodity"]


def test_every_message_names_its_field() -> None:
    errors = refused({"type": "SIL", "action": "insert", "organisation": {"address": {}}})
    assert all(
        messages and all(isinstance(m, str) for m in messages) for messages in errors.values()
    )
    assert {"id", "reference", "organisation.eori_number", "organisation.address.line_1"} <= set(
        errors
    )


# --- properties --------------------------------------------------------------------------------


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(valid_licences())
def test_generated_valid_licences_are_valid(licence: dict[str, Any]) -> None:
    assert validate_licence(licence) == {}


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(valid_licences(), st.data())
def test_a_backslash_in_any_printed_text_is_refused(
    licence: dict[str, Any], data: st.DataObject
) -> None:
    """A backslash in a printed string is refused; wherever it lands, accepted means buildable."""
    container, key = data.draw(st.sampled_from(list(_string_paths(licence))))
    container[key] += "\\"
    errors = validate_licence(licence)
    if key in _ALWAYS_PRINTED:
        assert errors
    if not errors:
        build_licence_data([licence], run_number=1, created_at=_NOW)


_ALWAYS_PRINTED = {
    "reference",
    "licence_reference",
    "start_date",
    "end_date",
    "eori_number",
    "name",
    "line_1",
    "line_2",
    "line_3",
    "line_4",
    "line_5",
    "postcode",
    "restrictions",
    "description",
    "commodity",
}


def _string_paths(node: Any) -> Any:
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, str):
                yield node, key
            else:
                yield from _string_paths(value)
    elif isinstance(node, list):
        for item in node:
            yield from _string_paths(item)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(valid_licences(), st.data())
def test_any_json_anywhere_gives_field_errors_or_a_buildable_licence(
    licence: dict[str, Any], data: st.DataObject
) -> None:
    """Bad input is answered with messages, never an exception; what passes always builds."""
    container, key = data.draw(st.sampled_from(list(_value_paths(licence))))
    container[key] = data.draw(_JSON)
    errors = validate_licence(licence)
    assert all(isinstance(m, str) for messages in errors.values() for m in messages)
    if not errors:
        build_licence_data([licence], run_number=1, created_at=_NOW)


def _value_paths(node: Any) -> Any:
    if isinstance(node, dict):
        for key, value in node.items():
            yield node, key
            yield from _value_paths(value)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield node, index
            yield from _value_paths(item)
