"""Validation of the `licence` object ICMS POSTs (spec 2.4), closed against every way the original
accepted a payload that later broke or corrupted the CHIEF file (spec 14).

Lengths and blanks are measured as the original's DRF serializers measure them: without
surrounding whitespace (`trim_whitespace`), although the raw value is stored and printed. What
would break a CHIEF record (a backslash, a line break) is refused in the raw form and again after
the ASCII transliteration the e-mail applies; a field that transliteration only makes longer is
accepted, and the attachment cuts it to CHIEF's maximum (`cut_to_chief_maxima`).
`validate_licence(licence) -> {field: [message, ...]}`; an empty dict means it is valid.
Nested fields are named by path: `organisation.address.postcode`, `goods[2].quantity`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeGuard

from licence_gateway.domain.chief.syntax import has_line_break, to_ascii
from licence_gateway.domain.chief.validator import is_uk_postcode


class LicenceType(StrEnum):
    OIL = "OIL"  # Open Individual Import Licence
    DFL = "DFL"  # Deactivated Firearms Licence
    SIL = "SIL"  # Specific Individual Import Licence
    SAN = "SAN"  # Sanctions and Adhoc Import Licence
    NUCLEAR = "NUCLEAR"  # Nuclear Material Import Licence


class LicenceAction(StrEnum):
    INSERT = "insert"
    REPLACE = "replace"
    CANCEL = "cancel"


# HMRC tariff quantity codes ICMS may use (116 = microgram, added 2025-04).
QUANTITY_UNITS = frozenset({21, 23, 26, 30, 31, 45, 74, 76, 87, 116})
CONTROLLED_BY = frozenset({"B", "O", "Q", "V"})
_TYPES = frozenset(t.value for t in LicenceType)
_ACTIONS = frozenset(a.value for a in LicenceAction)

REFERENCE_MAX = 17
LICENCE_REFERENCE_MAX = 35
EORI_MAX = 17
NAME_MAX = 80
ADDRESS_LINE_MAX = 35
POSTCODE_MAX = 8
TEXT_MAX = 2000  # restrictions and goods descriptions
COMMODITY_MAX = 11
COUNTRY_GROUP_MAX = 4
COUNTRY_CODE_MAX = 2

_REFERENCE = re.compile("[A-Za-z]+/[0-9]+/[0-9]+(/[0-9]+)?")
_DATE = re.compile("[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DECIMAL = re.compile(r"(-?)([0-9]+)(?:\.([0-9]+))?")
_UNIT_TEXTS = frozenset(map(str, QUANTITY_UNITS))
_QUANTITY_WHOLE_LIMIT = 10**11  # 9(11): at most 11 digits before the decimal point
# The original's rule for descriptions (tab, LF, CR, VT, FF), widened to every line break.
_DESCRIPTION_WHITESPACE = frozenset("\t\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")

REQUIRED = "This field is required."
NOT_NULL = "This field may not be null."

Errors = dict[str, list[str]]
_MISSING: Any = object()


def validate_licence(licence: object) -> Errors:
    """Field -> messages for everything wrong with one `licence` object; {} when it is valid."""
    errors: Errors = {}
    if not _is_mapping(licence):
        _add(errors, "non_field_errors", _not_an_object(licence))
        return errors
    licence_type = _choice_in(errors, licence, "type", _TYPES)
    action = _choice_in(errors, licence, "action", _ACTIONS)
    _check_common(errors, licence)
    if licence_type is not None and action in (LicenceAction.INSERT, LicenceAction.REPLACE):
        _check_insert_or_replace(errors, licence, LicenceType(licence_type))
    return errors


def _is_mapping(value: object) -> TypeGuard[Mapping[str, Any]]:
    # JSON objects decode to dicts: the exact type check spares the ABC's slower one.
    return type(value) is dict or isinstance(value, Mapping)


def _add(errors: Errors, field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def _not_an_object(value: object) -> str:
    return f"Invalid data. Expected a dictionary, but got {type(value).__name__}."


def _check_common(errors: Errors, licence: Mapping[str, Any]) -> None:
    """Fields every action carries: the cancel validator checks only these."""
    icms_id = licence.get("id", _MISSING)
    if icms_id is _MISSING:
        _add(errors, "id", REQUIRED)
    elif not _is_uuid(icms_id):
        _add(errors, "id", "Must be a valid UUID.")
    reference = _text(errors, licence, "reference", max_length=REFERENCE_MAX)
    if reference is not None and not _REFERENCE.fullmatch(reference):
        _add(
            errors,
            "reference",
            "This value does not match the required pattern (e.g. IMA/2022/00001 or"
            " IMA/2022/00001/1).",
        )
    _text(errors, licence, "licence_reference", max_length=LICENCE_REFERENCE_MAX)
    _date_range(errors, licence, "", required=True)


def _is_uuid(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _check_insert_or_replace(
    errors: Errors, licence: Mapping[str, Any], licence_type: LicenceType
) -> None:
    _check_organisation(errors, licence.get("organisation", _MISSING))
    _text(errors, licence, "restrictions", max_length=TEXT_MAX, blank=True, multiline=True)
    _text(errors, licence, "country_group", max_length=COUNTRY_GROUP_MAX, required=False, null=True)
    _text(errors, licence, "country_code", max_length=COUNTRY_CODE_MAX, required=False, null=True)
    if not licence.get("country_group") and not licence.get("country_code"):
        _add(errors, "non_field_errors", "Either 'country_code' or 'country_group' should be set.")
    _check_goods(errors, licence, licence_type)


def _check_organisation(errors: Errors, organisation: object) -> None:
    if not _is_mapping(organisation):
        message = REQUIRED if organisation is _MISSING else _not_an_object(organisation)
        _add(errors, "organisation", message)
        return
    eori = _text(errors, organisation, "eori_number", max_length=EORI_MAX, path="organisation.")
    if eori is not None:
        field = "organisation.eori_number"
        if len(eori) < 4:
            _add(errors, field, "Ensure this field has at least 4 characters.")
        elif eori[:2].upper() != "GB":
            _add(errors, field, "'eori_number' must start with 'GB' prefix")
        elif len(eori) - 2 not in (12, 15):
            _add(errors, field, "'eori_number' must be 'GB' followed by 12 or 15 characters")
    _text(errors, organisation, "name", max_length=NAME_MAX, blank=True, path="organisation.")
    _date_range(errors, organisation, "organisation.", required=False)
    address = organisation.get("address", _MISSING)
    if not _is_mapping(address):
        message = REQUIRED if address is _MISSING else _not_an_object(address)
        _add(errors, "organisation.address", message)
        return
    path = "organisation.address."
    _text(errors, address, "line_1", max_length=ADDRESS_LINE_MAX, path=path)
    for name in ("line_2", "line_3", "line_4", "line_5"):
        _text(
            errors,
            address,
            name,
            max_length=ADDRESS_LINE_MAX,
            blank=True,
            required=False,
            path=path,
        )
    postcode = _text(
        errors, address, "postcode", max_length=POSTCODE_MAX, blank=True, required=False, path=path
    )
    if postcode and not (is_uk_postcode(postcode) and is_uk_postcode(to_ascii(postcode))):
        _add(errors, path + "postcode", "'postcode' must be a UK postcode, e.g. S22 7ZZ")


def _check_goods(errors: Errors, licence: Mapping[str, Any], licence_type: LicenceType) -> None:
    goods = licence.get("goods", _MISSING)
    firearms = licence_type in (LicenceType.OIL, LicenceType.DFL)
    if goods is _MISSING or goods is None:
        if not firearms:  # OIL and DFL may have no goods lines at all
            _add(errors, "goods", REQUIRED if goods is _MISSING else NOT_NULL)
        return
    if not isinstance(goods, list):
        _add(errors, "goods", f'Expected a list of items but got type "{type(goods).__name__}".')
        return
    for index, good in enumerate(goods):
        path = f"goods[{index}]."
        if not _is_mapping(good):
            _add(errors, f"goods[{index}]", _not_an_object(good))
            continue
        if licence_type is not LicenceType.SAN:
            _description(errors, good, path)
        if licence_type in (LicenceType.SAN, LicenceType.NUCLEAR):
            _text(errors, good, "commodity", max_length=COMMODITY_MAX, path=path)
        if not firearms:  # firearms lines are always open: their control fields are ignored
            _check_control(errors, good, path)


def _description(errors: Errors, good: Mapping[str, Any], path: str) -> None:
    description = good.get("description")
    if isinstance(description, str) and not _DESCRIPTION_WHITESPACE.isdisjoint(description):
        _add(errors, path + "description", "'description' contains an invalid whitespace character")
        return
    _text(errors, good, "description", max_length=TEXT_MAX, path=path)


def _check_control(errors: Errors, good: Mapping[str, Any], path: str) -> None:
    controlled_by = _choice_in(errors, good, "controlled_by", CONTROLLED_BY, path)
    quantity = _quantity(errors, good.get("quantity"), path + "quantity")
    unit = good.get("unit")
    unit_ok = unit is None or _is_unit(unit)
    if not unit_ok:
        _add(errors, path + "unit", f'"{unit}" is not a valid choice.')
    if controlled_by == "Q":  # quantity control needs an amount and a unit to print
        if quantity is not None and quantity <= 0:
            _add(errors, path + "quantity", "'quantity' must be set when controlled_by equals 'Q'")
        if unit is None:
            _add(errors, path + "unit", "'unit' must be set when controlled_by equals 'Q'")


def _choice_in(
    errors: Errors,
    container: Mapping[str, Any],
    field: str,
    choices: frozenset[str],
    path: str = "",
) -> str | None:
    value = container.get(field, _MISSING)
    if value is _MISSING or value is None:
        _add(errors, path + field, REQUIRED if value is _MISSING else NOT_NULL)
        return None
    if isinstance(value, str) and value in choices:
        return value
    _add(errors, path + field, f'"{value}" is not a valid choice.')
    return None


def _is_unit(value: object) -> bool:
    """A quantity code as a JSON integer or its digits in a string, as the original accepted."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return value in QUANTITY_UNITS
    return isinstance(value, str) and value in _UNIT_TEXTS


def _quantity(errors: Errors, value: object, field: str) -> Decimal | None:
    """The amount as printed (str() of the JSON value) checked against CHIEF's 9(11).9(3).

    Returns 0 for a missing amount so a `Q` line can report it; None when already refused.
    """
    if value is None:
        return Decimal(0)
    if type(value) is int and 0 <= value < _QUANTITY_WHOLE_LIMIT:
        return Decimal(value)  # what the checks below make of it, in short
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        _add(errors, field, "A valid number is required.")
        return None
    printed = str(value)
    match = _DECIMAL.fullmatch(printed)
    if match is None:
        _add(errors, field, f"A valid number is required: {printed!r} is not plain digits.")
        return None
    sign, whole, fraction = match.groups()
    problems = []
    if sign:
        problems.append("Ensure this value is greater than or equal to 0.")
    if len(whole) > 11:
        problems.append("Ensure that there are no more than 11 digits before the decimal point.")
    if fraction and len(fraction) > 3:
        problems.append("Ensure that there are no more than 3 decimal places.")
    for problem in problems:
        _add(errors, field, problem)
    return None if problems else Decimal(printed)


def _text(
    errors: Errors,
    container: Mapping[str, Any],
    name: str,
    *,
    max_length: int,
    required: bool = True,
    blank: bool = False,
    null: bool = False,
    multiline: bool = False,
    path: str = "",
) -> str | None:
    """A text field checked in the form CHIEF will see; returns it when it is a usable string."""
    field = path + name
    value = container.get(name, _MISSING)
    if value is _MISSING:
        if required:
            _add(errors, field, REQUIRED)
        return None
    if value is None:
        if not null:
            _add(errors, field, NOT_NULL)
        return None
    if not isinstance(value, str):
        _add(errors, field, "Not a valid string.")
        return None
    # As DRF's CharField (trim_whitespace): length and blank are measured without surrounding
    # whitespace, while the raw value is what is stored and printed.
    trimmed = value.strip()
    if not blank and not trimmed:
        _add(errors, field, "This field may not be blank.")
        return None
    if len(trimmed) <= max_length and value.isascii() and not _breaks_record(value, multiline):
        return trimmed  # the usual case, in short: nothing below would find a problem
    messages = []
    if len(trimmed) > max_length:
        messages.append(_PRINTING_MESSAGES["length"].format(max=max_length))
    # What would break the record, in the raw form and in the ASCII form CHIEF receives
    # (restrictions keep their line breaks: they are printed as `|`). A field transliteration
    # makes longer is fine: the attachment cuts it to CHIEF's maximum.
    forms = [(value, "")]
    if not value.isascii():  # ASCII text is its own transliteration: no other problem there
        printed = "|".join(value.splitlines()) if multiline else value
        forms.append((to_ascii(printed), _IN_ASCII))
    for form, where in forms:
        for kind in _breaking_problems(form, breaks_allowed=multiline and not where):
            message = _PRINTING_MESSAGES[kind].format(name=name, where=where)
            if message.replace(_IN_ASCII, "") not in messages:
                messages.append(message)
    for message in messages:
        _add(errors, field, message)
    return None if messages else trimmed


_IN_ASCII = " once transliterated to ASCII for CHIEF"
_PRINTING_MESSAGES = {
    "backslash": "'{name}' must not contain a backslash{where}: CHIEF separates fields with it.",
    "break": "'{name}' must not contain a line break{where}.",
    "length": "Ensure this field has no more than {max} characters.",
}


def _breaks_record(value: str, multiline: bool) -> bool:
    """Whether `_breaking_problems` finds anything in the raw form of a text."""
    return "\\" in value or (not multiline and has_line_break(value))


def _breaking_problems(form: str, *, breaks_allowed: bool) -> list[str]:
    """What would break the CHIEF record: a field separator or a record break."""
    kinds = []
    if "\\" in form:
        kinds.append("backslash")
    if not breaks_allowed and has_line_break(form):
        kinds.append("break")
    return kinds


def _date(
    errors: Errors, container: Mapping[str, Any], name: str, path: str, required: bool
) -> date | None:
    field = path + name
    value = container.get(name, _MISSING)
    if value is _MISSING or value is None:
        if required:
            _add(errors, field, REQUIRED if value is _MISSING else NOT_NULL)
        return None
    if isinstance(value, str) and _DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    _add(errors, field, f"'{name}' must be a real date written YYYY-MM-DD, e.g. 2024-03-07.")
    return None


def _date_range(errors: Errors, container: Mapping[str, Any], path: str, *, required: bool) -> None:
    start = _date(errors, container, "start_date", path, required)
    end = _date(errors, container, "end_date", path, required)
    if start is not None and end is not None and end < start:
        _add(errors, path + "end_date", "'end_date' must not be before 'start_date'.")
