"""Hypothesis strategies for ICMS licence objects that `validate_licence` accepts.

`valid_licences()` covers every type (OIL, DFL, SIL, SAN, NUCLEAR) and action (insert, replace,
cancel), with non-ASCII text whose transliteration still fits, multi-line restrictions, JSON
integers, floats and numeric strings as quantities, and optional fields present and absent.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from hypothesis import strategies as st

from licence_gateway.domain.chief import to_ascii
from licence_gateway.domain.licence_validation import QUANTITY_UNITS, LicenceAction, LicenceType

# Mostly printable ASCII (never the CHIEF separator), sometimes letters that transliterate.
_ASCII = st.characters(min_codepoint=32, max_codepoint=126, exclude_characters="\\")
_NON_ASCII = st.sampled_from(list("éüßøłŽ€“”‘’–—北京"))
_CHARS = st.one_of(_ASCII, _ASCII, _ASCII, _NON_ASCII)


def chief_text(
    max_length: int, *, blank: bool = True, line_breaks: bool = False
) -> st.SearchStrategy[str]:
    """Text whose printed ASCII form fits a CHIEF field of `max_length`."""
    chars = (
        st.one_of(_CHARS, st.sampled_from(["\n", "\r", "\u2028", "\x0b"]))
        if line_breaks
        else _CHARS
    )
    text = st.text(chars, max_size=max_length).filter(
        lambda s: (
            len(to_ascii("|".join(s.splitlines()).strip())) <= max_length and len(s) <= max_length
        )
    )
    return text if blank else text.filter(lambda s: s.strip() != "")


_DATES = st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31))


@st.composite
def date_range(draw: st.DrawFn) -> tuple[str, str]:
    start = draw(_DATES)
    end = start + timedelta(days=draw(st.integers(0, 3650)))
    return start.isoformat(), end.isoformat()


REFERENCES = st.from_regex(
    r"[A-Za-z]{1,4}/[0-9]{1,4}/[0-9]{1,5}(/[0-9]{1,2})?", fullmatch=True
).filter(lambda s: len(s) <= 17)
POSTCODES = st.one_of(
    st.from_regex(r"[A-PR-UWYZ][0-9]{1,2} ?[0-9][ABD-HJLNP-UW-Z]{2}", fullmatch=True),
    st.sampled_from(["S881ZZ", "S118ZZ", "S227ZZ", "SW1A 1AA", "EC1A1BB", "GIR 0AA", "m1 1ae"]),
)
QUANTITIES = st.one_of(
    st.integers(1, 10**11 - 1),
    st.integers(1, 10**14 - 1).map(lambda n: n / 1000),
    st.from_regex(r"[0-9]{1,11}(\.[0-9]{1,3})?", fullmatch=True).filter(lambda s: float(s) > 0),
)
UNITS = st.one_of(
    st.sampled_from(sorted(QUANTITY_UNITS)), st.sampled_from(sorted(QUANTITY_UNITS)).map(str)
)


def _draw_optional(
    draw: st.DrawFn, target: dict[str, Any], key: str, values: st.SearchStrategy[Any]
) -> None:
    if draw(st.booleans()):
        target[key] = draw(values)


@st.composite
def organisations(draw: st.DrawFn) -> dict[str, Any]:
    eori_tail = draw(st.sampled_from([12, 15]))
    address: dict[str, Any] = {"line_1": draw(chief_text(35, blank=False))}
    for name in ("line_2", "line_3", "line_4", "line_5"):
        _draw_optional(draw, address, name, chief_text(35))
    _draw_optional(draw, address, "postcode", st.one_of(st.just(""), POSTCODES))
    organisation: dict[str, Any] = {
        "eori_number": draw(st.sampled_from(["GB", "gb", "Gb"]))
        + draw(st.text("0123456789ABCDEFXYZ", min_size=eori_tail, max_size=eori_tail)),
        "name": draw(chief_text(80)),
        "address": address,
    }
    if draw(st.booleans()):
        start, end = draw(date_range())
        organisation["start_date"] = start
        organisation["end_date"] = draw(st.sampled_from([end, None]))
    return organisation


@st.composite
def controlled_goods(draw: st.DrawFn, licence_type: LicenceType) -> dict[str, Any]:
    good: dict[str, Any] = {}
    if licence_type in (LicenceType.SAN, LicenceType.NUCLEAR):
        good["commodity"] = draw(st.from_regex(r"[0-9]{1,11}", fullmatch=True))
    if licence_type in (LicenceType.SIL, LicenceType.NUCLEAR):
        good["description"] = draw(chief_text(2000, blank=False))
    controlled_by = draw(st.sampled_from(["B", "O", "Q", "V"]))
    good["controlled_by"] = controlled_by
    if controlled_by == "Q":
        good["quantity"] = draw(QUANTITIES)
        good["unit"] = draw(UNITS)
    else:
        _draw_optional(draw, good, "quantity", st.one_of(st.none(), QUANTITIES))
        _draw_optional(draw, good, "unit", st.one_of(st.none(), UNITS))
    return good


@st.composite
def firearms_goods(draw: st.DrawFn) -> dict[str, Any]:
    good: dict[str, Any] = {"description": draw(chief_text(2000, blank=False))}
    # Firearms lines are always open: these keys are ignored, whatever they hold.
    _draw_optional(draw, good, "controlled_by", st.just("Q"))
    _draw_optional(draw, good, "quantity", st.integers())
    return good


@st.composite
def valid_licences(
    draw: st.DrawFn,
    licence_type: LicenceType | None = None,
    action: LicenceAction | None = None,
) -> dict[str, Any]:
    licence_type = licence_type or draw(st.sampled_from(list(LicenceType)))
    action = action or draw(st.sampled_from(list(LicenceAction)))
    start, end = draw(date_range())
    licence: dict[str, Any] = {
        "type": licence_type.value,
        "action": action.value,
        "id": str(draw(st.uuids())),
        "reference": draw(REFERENCES),
        "licence_reference": draw(chief_text(35, blank=False)),
        "start_date": start,
        "end_date": end,
    }
    if action is LicenceAction.CANCEL:
        return licence
    licence["organisation"] = draw(organisations())
    licence["restrictions"] = draw(chief_text(2000, line_breaks=True))
    country = draw(st.sampled_from(["group", "code", "both"]))
    if country in ("group", "both"):
        licence["country_group"] = draw(st.from_regex(r"G[0-9]{3}", fullmatch=True))
    if country in ("code", "both"):
        licence["country_code"] = draw(st.from_regex(r"[A-Z]{2}", fullmatch=True))
    if licence_type in (LicenceType.OIL, LicenceType.DFL):
        goods = st.one_of(st.none(), st.lists(firearms_goods(), max_size=3))
        _draw_optional(draw, licence, "goods", goods)
    else:
        licence["goods"] = draw(st.lists(controlled_goods(licence_type), max_size=4))
    return licence


def post_bodies(max_size: int = 5) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Batches of POST bodies with distinct (id, action) keys, as the API would store them."""
    return st.lists(
        valid_licences().map(lambda licence: {"licence": licence}),
        min_size=0,
        max_size=max_size,
        unique_by=lambda body: (body["licence"]["id"], body["licence"]["action"]),
    )
