"""licenceData: build the file CHIEF receives from stored licence objects, and read one back.

The builder reproduces the original byte for byte (spec 3.1-3.8); it trusts its input to have passed
`validate_licence` and reports anything else as `LicenceNotBuildable` naming the licence.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from licence_gateway.domain.chief.syntax import (
    FIELD_SEP,
    LINE_SEP,
    ChiefFormatError,
    to_ascii,
)
from licence_gateway.domain.chief.validator import (
    FileProblem,
    LicenceDataInvalid,
    validate_licence_data_file,
)

DEFAULT_SOURCE_SYSTEM = "ILBDOTI"
DESTINATION_SYSTEM = "CHIEF"
# ICMS licence type -> CHIEF licenceType
CHIEF_LICENCE_TYPE = {"DFL": "SIL", "OIL": "OIL", "SIL": "SIL", "SAN": "SAN", "NUCLEAR": "SIL"}


@dataclass(frozen=True, slots=True)
class LicenceDataFile:
    name: str  # also the e-mail subject and the attachment's file name
    text: str  # what is stored (edi_data): the original characters
    attachment: str  # what is e-mailed: `text` in ASCII, each field cut to its CHIEF maximum
    run_number: int
    references: tuple[str, ...]  # transaction references in file order
    cut_fields: tuple[CutField, ...] = ()  # what the attachment had to cut, per licence


@dataclass(frozen=True, slots=True)
class CutField:
    """A field the attachment carries shortened: transliteration (`£` -> `PS`) or whitespace
    the original's serializers did not count took it past CHIEF's maximum."""

    licence: int  # the licence's index in the file (arrival order)
    field: str  # the payload field, e.g. organisation.address.line_1
    length: int  # its length in the ASCII attachment before the cut
    maximum: int


class LicenceNotBuildable(ValueError):
    """One stored licence object cannot be turned into records (it bypassed validation)."""

    def __init__(self, index: int, reference: object, reason: str) -> None:
        super().__init__(f"licence {index} ({reference!r}) cannot be built: {reason}")
        self.index = index
        self.reference = reference
        self.reason = reason


def file_timestamp(when: datetime) -> str:
    """`yyyymmddhhmm` in UTC; a naive datetime is taken to be UTC already."""
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    return f"{when:%Y%m%d%H%M}"


def licence_data_file_name(source_system: str, run_number: int, when: datetime) -> str:
    return f"CHIEF_LIVE_{source_system}_licenceData_{run_number}_{file_timestamp(when)}"


def build_licence_data(
    licences: Iterable[Mapping[str, Any]],
    *,
    run_number: int,
    created_at: datetime,
    source_system: str = DEFAULT_SOURCE_SYSTEM,
) -> LicenceDataFile:
    """One licenceData file from stored licence objects in arrival order, checked before return.

    Raises `LicenceNotBuildable` for a licence that cannot be rendered and `LicenceDataInvalid`
    when the file or its ASCII attachment fails the self-check.
    """
    timestamp = file_timestamp(created_at)
    records = [
        f"fileHeader\\{source_system}\\{DESTINATION_SYSTEM}\\licenceData"
        f"\\{timestamp}\\{run_number}\\N"
    ]
    references: list[str] = []
    for index, licence in enumerate(licences):
        try:
            _licence_records(licence, records)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            reference = licence.get("reference") if isinstance(licence, Mapping) else None
            raise LicenceNotBuildable(index, reference, f"{type(exc).__name__}: {exc}") from exc
        references.append(licence["reference"])
    records.append(f"fileTrailer\\{len(references)}")
    text = "".join([f"{number}\\{record}\n" for number, record in enumerate(records, start=1)])
    # The stored text stays what the original builds; what CHIEF receives must pass the check.
    attachment, cut_fields = cut_to_chief_maxima(to_ascii(text))
    problems = validate_licence_data_file(attachment)
    if problems:
        raise LicenceDataInvalid(problems)
    return LicenceDataFile(
        name=licence_data_file_name(source_system, run_number, created_at),
        text=text,
        attachment=attachment,
        run_number=run_number,
        references=tuple(references),
        cut_fields=cut_fields,
    )


_ADDRESS_LINES = {7 + n: (f"organisation.address.line_{n + 1}", 35) for n in range(5)}
# record type -> {field index: (payload field, CHIEF maximum)}
CHIEF_MAXIMA: dict[str, dict[int, tuple[str, int]]] = {
    "licence": {2: ("reference", 17), 4: ("licence_reference", 35)},
    "trader": {
        3: ("organisation.eori_number", 17),
        6: ("organisation.name", 80),
        **_ADDRESS_LINES,
        12: ("organisation.address.postcode", 8),
    },
    "country": {2: ("country_code", 2), 3: ("country_group", 4)},
    "restrictions": {2: ("restrictions", 2000)},
    "line": {3: ("goods[{}].commodity", 11), 7: ("goods[{}].description", 2000)},
}


def cut_to_chief_maxima(attachment: str) -> tuple[str, tuple[CutField, ...]]:
    """Cut every field of the ASCII attachment that is longer than CHIEF allows.

    Surrounding whitespace goes first (the original's serializers never counted it), then the
    end. The API measures fields as the original did, so only what transliteration grew, or
    that whitespace, is ever cut.
    """
    lines = attachment.split(LINE_SEP)
    cuts: list[CutField] = []
    licence = -1
    for number, line in enumerate(lines):
        tokens = line.split(FIELD_SEP)
        if len(tokens) < 3:
            continue
        record_type = tokens[1]
        if record_type == "licence":
            licence += 1
        maxima = CHIEF_MAXIMA.get(record_type)
        if maxima is None:
            continue
        size = len(tokens)
        long_fields = [i for i in maxima if i < size and len(tokens[i]) > maxima[i][1]]
        for index in long_fields:
            name, maximum = maxima[index]
            goods_line = int(tokens[2]) - 1 if tokens[2].isdigit() else 0
            cuts.append(CutField(licence, name.format(goods_line), len(tokens[index]), maximum))
            tokens[index] = tokens[index].strip()[:maximum]
        if long_fields:
            lines[number] = FIELD_SEP.join(tokens)
    return (LINE_SEP.join(lines), tuple(cuts)) if cuts else (attachment, ())


def check_licence_data(text: str, attachment: str | None = None) -> list[FileProblem]:
    """The self-check on the stored text and, where it differs, on the ASCII attachment too."""
    problems = validate_licence_data_file(text)
    if attachment is None:
        attachment = to_ascii(text)
    if attachment != text:
        problems += [
            FileProblem(p.line, p.record_type, f"{p.message} (in the ASCII attachment)")
            for p in validate_licence_data_file(attachment, derived_from=text)
        ]
    return problems


def _text(value: object) -> str:
    """The original's field rule: None is empty, anything else is its str()."""
    return "" if value is None else str(value)


def _date(container: Mapping[str, Any], key: str) -> str:
    value = container.get(key)
    return value.replace("-", "") if value else ""


def _licence_records(licence: Mapping[str, Any], records: list[str]) -> None:
    """Append one licence's records, `licence` to `end` inclusive, to `records`."""
    first = len(records)
    licence_type = licence["type"]
    action = licence["action"]
    records.append(
        f"licence\\{licence['reference']}\\{action}\\{_text(licence['licence_reference'])}"
        f"\\{CHIEF_LICENCE_TYPE[licence_type]}\\I"
        f"\\{_date(licence, 'start_date')}\\{_date(licence, 'end_date')}"
    )
    if action != "cancel":
        _trader(licence["organisation"], records)
        if group := licence.get("country_group"):
            records.append(f"country\\\\{group}\\O")
        elif code := licence.get("country_code"):
            records.append(f"country\\{code}\\\\O")
        restrictions: str = licence.get("restrictions", "")
        if restrictions != "":  # only the empty string suppresses the record, as upstream
            records.append(f"restrictions\\{'|'.join(restrictions.splitlines()).strip()}")
        _goods(licence_type, licence.get("goods"), records)
    records.append(f"end\\licence\\{len(records) - first + 1}")


_ADDRESS_KEYS = ("line_1", "line_2", "line_3", "line_4", "line_5", "postcode")


def _trader(organisation: Mapping[str, Any], records: list[str]) -> None:
    address = organisation["address"]
    # TURN stays empty: ICMS traders are identified by EORI only
    fields = ["trader", "", _text(organisation.get("eori_number"))]
    fields += (_date(organisation, "start_date"), _date(organisation, "end_date"))
    fields.append(_text(organisation.get("name")))
    fields += ["" if value is None else str(value) for value in map(address.get, _ADDRESS_KEYS)]
    records.append(FIELD_SEP.join(fields))


def _goods(
    licence_type: str, goods: Sequence[Mapping[str, Any]] | None, records: list[str]
) -> None:
    if not goods:
        return
    if licence_type in ("OIL", "DFL"):  # firearms: open lines, quantities ignored
        for number, good in enumerate(goods, start=1):
            records.append(_line_record(number, "", good["description"], "O", "", ""))
        return
    with_commodity = licence_type in ("SAN", "NUCLEAR")
    with_description = licence_type in ("SIL", "NUCLEAR")
    for number, good in enumerate(goods, start=1):
        controlled_by = good["controlled_by"]
        unit = quantity = ""
        if controlled_by == "Q":  # only quantity control carries a unit and an amount
            unit = f"{int(good['unit']):03}"
            quantity = _text(good["quantity"])
        records.append(
            _line_record(
                number,
                good["commodity"] if with_commodity else "",
                good["description"] if with_description else "",
                controlled_by,
                unit,
                quantity,
            )
        )


def _line_record(
    number: int, commodity: str, description: str, controlled_by: str, unit: str, quantity: str
) -> str:
    """A 19-field goods line; supplements, group, currency, value and sub-period stay empty."""
    return (
        f"line\\{number}\\{commodity}\\\\\\\\{description}\\{controlled_by}"
        f"\\\\{unit}\\\\{quantity}\\\\\\\\\\\\"
    )


@dataclass(frozen=True, slots=True)
class LicenceTransaction:
    reference: str  # transactionRef: the ICMS case reference
    action: str
    licence_reference: str
    licence_type: str  # the CHIEF type: SIL, OIL or SAN


@dataclass(frozen=True, slots=True)
class LicenceDataSummary:
    source_system: str
    created_at: str  # yyyymmddhhmm as written in the header
    run_number: str
    transactions: tuple[LicenceTransaction, ...]


def read_licence_data(text: str) -> LicenceDataSummary:
    """The header and the licence transactions of a licenceData file (CRLF tolerated)."""
    header: list[str] | None = None
    transactions: list[LicenceTransaction] = []
    for number, raw in enumerate(text.split(LINE_SEP), start=1):
        line = raw.removesuffix("\r")
        if not line:
            continue
        tokens = line.split(FIELD_SEP)
        record_type = tokens[1] if len(tokens) > 1 else ""
        if record_type == "fileHeader":
            _expect_fields(tokens, 8, number)
            if tokens[4] != "licenceData":
                raise ChiefFormatError(f"not a licenceData file: dataId {tokens[4]!r}", number)
            header = tokens
        elif record_type == "licence":
            _expect_fields(tokens, 9, number)
            transactions.append(LicenceTransaction(*tokens[2:6]))
        elif record_type not in _KNOWN_RECORDS:
            raise ChiefFormatError(f"Unknown record type {record_type!r} on line {number}", number)
    if header is None:
        raise ChiefFormatError("licenceData file has no fileHeader record")
    return LicenceDataSummary(header[2], header[5], header[6], tuple(transactions))


_KNOWN_RECORDS = frozenset(
    {"trader", "country", "foreignTrader", "restrictions", "line", "end", "fileTrailer"}
)


def _expect_fields(tokens: list[str], count: int, number: int) -> None:
    if len(tokens) != count:
        raise ChiefFormatError(
            f"{tokens[1]} record has {len(tokens)} fields, expected {count} on line {number}",
            number,
        )
