"""licenceData: build the file CHIEF receives from stored licence objects, and read one back.

The builder reproduces the original byte for byte (spec 3.1-3.8); it trusts its input to have passed
`validate_licence` and reports anything else as `LicenceNotBuildable` naming the licence.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from licence_gateway.domain.chief.syntax import (
    FIELD_SEP,
    LINE_SEP,
    ChiefFormatError,
    ascii_record,
    to_ascii,
)
from licence_gateway.domain.chief.validator import (
    CheckState,
    FileProblem,
    LicenceDataInvalid,
    record_problems,
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
    when the ASCII attachment fails the self-check.
    """
    with collector_paused():
        return _built(licences, run_number, created_at, source_system)


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection inside the block (reference counting still frees).

    A build allocates a few lists per record and makes no cycles, yet every few hundred of
    them start a collection, and the older generations' walk every object the caller holds
    (the job's thousands of licences among them) for nothing.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _built(
    licences: Iterable[Mapping[str, Any]],
    run_number: int,
    created_at: datetime,
    source_system: str,
) -> LicenceDataFile:
    writer = _FileWriter()
    timestamp = file_timestamp(created_at)
    header = ["", "fileHeader", source_system, DESTINATION_SYSTEM, "licenceData", timestamp]
    writer.write([[*header, str(run_number), "N"]])
    references: list[str] = []
    for index, licence in enumerate(licences):
        try:
            records = _licence_records(licence)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            reference = licence.get("reference") if isinstance(licence, Mapping) else None
            raise LicenceNotBuildable(index, reference, f"{type(exc).__name__}: {exc}") from exc
        writer.write(records, index)
        references.append(licence["reference"])
    writer.write([["", "fileTrailer", str(len(references))]])
    text, attachment = writer.finish()
    return LicenceDataFile(
        name=licence_data_file_name(source_system, run_number, created_at),
        text=text,
        attachment=attachment,
        run_number=run_number,
        references=tuple(references),
        cut_fields=tuple(writer.cuts),
    )


_ADDRESS_LINES = {7 + n: (f"organisation.address.line_{n + 1}", 35) for n in range(5)}
# record type -> {field index (the line number is field 0): (payload field, CHIEF maximum)}
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


_MAXIMA = {
    record_type: tuple((index, maximum) for index, (_, maximum) in fields.items())
    for record_type, fields in CHIEF_MAXIMA.items()
}


class _FileWriter:
    """Numbers the records and writes each twice: into the stored text, and into the ASCII
    attachment with every field cut to CHIEF's maximum, self-checking the attachment's record
    from the fields as written.

    Those fields are the attachment's own exactly when no field holds a separator, which
    `finish` proves by counting separators; otherwise it checks the attachment line by line,
    which names the broken record.
    """

    def __init__(self) -> None:
        self.lines = 0
        self.text_parts: list[str] = []  # one per `write`, lines joined
        self.ascii_parts: list[str] = []
        self.attachment_differs = False
        self.field_separators = 0  # in the attachment, if no field holds one
        self.cuts: list[CutField] = []
        self.problems: list[FileProblem] = []
        self.state = CheckState()
        # record (after its line number) as sent -> its field separators, for every record that
        # passed the check uncut: a batch repeats its traders, countries, goods lines and ends
        self.passed: dict[str, int] = {}

    def write(self, records: list[list[str]], licence: int = -1) -> None:
        """Write records whose first field, left empty, becomes their line number; `licence` is
        the index of the licence they belong to. They are kept as one text per call: a tenth
        of the objects one per line would take."""
        text_lines: list[str] = []
        ascii_lines: list[str] = []
        passed, differs = self.passed, False
        lines, separators_written = self.lines, 0
        for fields in records:
            lines += 1
            number = str(lines)
            record = FIELD_SEP.join(fields)  # from the separator after the line number
            line = number + record
            text_lines.append(line)
            sent = record if record.isascii() else ascii_record(record)
            separators = passed.get(sent)
            if separators is None:
                if sent is not record:
                    fields = sent.split(FIELD_SEP)
                fields[0] = number
                sent = self._check(fields, sent, licence)
                separators = len(fields) - 1
            if sent is not record:
                differs = True
                line = number + sent
            ascii_lines.append(line)
            separators_written += separators
        self.lines = lines
        self.field_separators += separators_written
        text = LINE_SEP.join(text_lines)
        self.text_parts.append(text)
        self.ascii_parts.append(LINE_SEP.join(ascii_lines) if differs else text)
        self.attachment_differs |= differs

    def _check(self, fields: list[str], sent: str, licence: int) -> str:
        """Cut and check a record not seen before in this file; returns it as it is sent."""
        maxima = _MAXIMA.get(fields[1])
        cut = maxima is not None and any(len(fields[i]) > maximum for i, maximum in maxima)
        if cut:  # the cut is logged for each licence, so a cut record is never remembered
            self._cut(fields, licence)
            sent = FIELD_SEP + FIELD_SEP.join(fields[1:])
        if messages := record_problems(fields, self.state):
            self.problems += [FileProblem(int(fields[0]), fields[1], m) for m in messages]
        elif not cut and fields[1] != "fileHeader":  # the header's check reads its line number
            self.passed[sent] = len(fields) - 1
        return sent

    def _cut(self, fields: list[str], licence: int) -> None:
        """Surrounding whitespace goes first (the original's serializers never counted it), then
        the end. The API measures fields as the original did, so only what transliteration grew,
        or that whitespace, is ever cut."""
        for index, (name, maximum) in CHIEF_MAXIMA[fields[1]].items():
            if len(fields[index]) > maximum:
                goods_line = int(fields[2]) - 1 if fields[2].isdigit() else 0
                cut = CutField(licence, name.format(goods_line), len(fields[index]), maximum)
                self.cuts.append(cut)
                fields[index] = fields[index].strip()[:maximum]

    def finish(self) -> tuple[str, str]:
        """The stored text and the attachment; raises `LicenceDataInvalid` if the check failed."""
        text = LINE_SEP.join(self.text_parts) + LINE_SEP
        self.text_parts = []  # megabytes: let go before the attachment is joined
        attachment = text
        if self.attachment_differs:
            attachment = LINE_SEP.join(self.ascii_parts) + LINE_SEP
        self.ascii_parts = []
        problems = self.problems
        if (
            attachment.count(FIELD_SEP) != self.field_separators
            or attachment.count(LINE_SEP) != self.lines
        ):
            problems = validate_licence_data_file(attachment)
        if problems:
            raise LicenceDataInvalid(problems)
        return text, attachment


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


def _licence_records(licence: Mapping[str, Any]) -> list[list[str]]:
    """One licence's records, `licence` to `end` inclusive, each with an empty first field."""
    licence_type = licence["type"]
    action = licence["action"]
    records = [
        [
            "",
            "licence",
            f"{licence['reference']}",
            f"{action}",
            _text(licence["licence_reference"]),
            CHIEF_LICENCE_TYPE[licence_type],
            "I",
            _date(licence, "start_date"),
            _date(licence, "end_date"),
        ]
    ]
    if action != "cancel":
        records.append(_trader(licence["organisation"]))
        if group := licence.get("country_group"):
            records.append(["", "country", "", f"{group}", "O"])
        elif code := licence.get("country_code"):
            records.append(["", "country", f"{code}", "", "O"])
        restrictions: str = licence.get("restrictions", "")
        if restrictions != "":  # only the empty string suppresses the record, as upstream
            records.append(["", "restrictions", "|".join(restrictions.splitlines()).strip()])
        if goods := licence.get("goods"):
            records += _goods(licence_type, goods)
    records.append(["", "end", "licence", str(len(records) + 1)])
    return records


_ADDRESS_KEYS = ("line_1", "line_2", "line_3", "line_4", "line_5", "postcode")


def _trader(organisation: Mapping[str, Any]) -> list[str]:
    address = organisation["address"]
    # TURN stays empty: ICMS traders are identified by EORI only
    fields = ["", "trader", "", _text(organisation.get("eori_number"))]
    fields += (_date(organisation, "start_date"), _date(organisation, "end_date"))
    fields.append(_text(organisation.get("name")))
    fields += ["" if value is None else str(value) for value in map(address.get, _ADDRESS_KEYS)]
    return fields


def _goods(licence_type: str, goods: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    if licence_type in ("OIL", "DFL"):  # firearms: open lines, quantities ignored
        return [
            _line_record(number, "", good["description"], "O", "", "")
            for number, good in enumerate(goods, start=1)
        ]
    with_commodity = licence_type in ("SAN", "NUCLEAR")
    with_description = licence_type in ("SIL", "NUCLEAR")
    lines = []
    for number, good in enumerate(goods, start=1):
        controlled_by = good["controlled_by"]
        unit = quantity = ""
        if controlled_by == "Q":  # only quantity control carries a unit and an amount
            unit = f"{int(good['unit']):03}"
            quantity = _text(good["quantity"])
        lines.append(
            _line_record(
                number,
                good["commodity"] if with_commodity else "",
                good["description"] if with_description else "",
                controlled_by,
                unit,
                quantity,
            )
        )
    return lines


def _line_record(
    number: int,
    commodity: object,
    description: object,
    controlled_by: object,
    unit: str,
    quantity: str,
) -> list[str]:
    """A 19-field goods line; supplements, group, currency, value and sub-period stay empty."""
    empty = ""
    return [
        empty, "line", str(number), f"{commodity}", empty, empty, empty, f"{description}",
        f"{controlled_by}", empty, unit, empty, quantity, empty, empty, empty, empty, empty, empty,
    ]  # fmt: skip


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
