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
from functools import lru_cache
from typing import Any, cast

from licence_gateway.domain.chief.syntax import (
    FIELD_SEP,
    LINE_SEP,
    ChiefFormatError,
    ascii_record,
    to_ascii,
)
from licence_gateway.domain.chief.validator import (
    CHIEF_LICENCE_TYPES,
    LICENCE_DATA_ACTIONS,
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
    header = ("fileHeader", source_system, DESTINATION_SYSTEM, "licenceData", timestamp)
    writer.write(_record(*header, str(run_number), "N"))
    references: list[str] = []
    for index, licence in enumerate(licences):
        try:
            first, first_passes, records = _licence_records(licence)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            reference = licence.get("reference") if isinstance(licence, Mapping) else None
            raise LicenceNotBuildable(index, reference, f"{type(exc).__name__}: {exc}") from exc
        writer.write(first, records, index, first_passes=first_passes)
        references.append(licence["reference"])
    writer.write(_record("fileTrailer", str(len(references))))
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


_LINE_NUMBERS: list[str] = []  # "0", "1", ...: every file numbers its lines from 1 again
_LINE_NUMBERS_KEPT = 200_000


def _line_numbers(start: int, stop: int) -> list[str]:
    """The line numbers from `start` to `stop` (excluded) as written."""
    global _LINE_NUMBERS
    numbers = _LINE_NUMBERS
    if len(numbers) < stop <= _LINE_NUMBERS_KEPT:
        # a longer list, not this one extended: a build in another thread may be reading it
        # grown a few thousand at a time, not doubled: the list stays in the worker's memory
        more = map(str, range(len(numbers), min(stop + 4096, _LINE_NUMBERS_KEPT)))
        numbers = _LINE_NUMBERS = numbers + list(more)
    if stop <= len(numbers):
        return numbers[start:stop]
    return list(map(str, range(start, stop)))


_NO_RECORDS: list[str] = []
_LICENCE_FIELDS = 9
(_REFERENCE, _REFERENCE_MAX), (_LICENCE_REFERENCE, _LICENCE_REFERENCE_MAX) = _MAXIMA["licence"]


def _passes_as_stored(record: str, fields: list[str]) -> bool:
    """Whether the writer's check would pass a licence record, joined from `fields`, uncut and
    send it as stored, found without its general steps (each licence has one such record, never
    repeated): ASCII, on one line, split into those very fields, within their maxima, a known
    action and type. False says nothing: the check decides."""
    return (
        record.isascii()
        and record.count(FIELD_SEP) == _LICENCE_FIELDS - 1  # no field holds a separator
        and LINE_SEP not in record
        and len(fields[_REFERENCE]) <= _REFERENCE_MAX
        and len(fields[_LICENCE_REFERENCE]) <= _LICENCE_REFERENCE_MAX
        and fields[3] in LICENCE_DATA_ACTIONS
        and fields[5] in CHIEF_LICENCE_TYPES
    )


class _FileWriter:
    """Collects the records in file order, each as stored and as sent: in ASCII with every field
    cut to CHIEF's maximum, self-checked. `finish` numbers the lines and joins each file once.

    A record is checked as the file validator reads its attachment line: split at the
    separators, so a value holding one is checked as the fields it breaks into. A record that
    passed uncut is remembered by its stored text: a repeat gives the same attachment line, which
    passed, and is sent without a Python step of its own.
    """

    def __init__(self) -> None:
        self.records: list[str] = []  # as stored, in file order
        self.sent: list[str] = []  # as sent, in the same order
        self.line_broken = False  # a record holds a line separator: `finish` checks line by line
        self.cuts: list[CutField] = []
        self.problems: list[FileProblem] = []
        self.state = CheckState()
        # record as stored -> as sent, for every repeatable record that passed the check uncut:
        # a batch repeats its traders, countries, goods lines and ends
        self.sent_forms: dict[str, str] = {}

    def write(
        self,
        first: str,
        records: list[str] = _NO_RECORDS,
        licence: int = -1,
        *,
        first_passes: bool = False,
    ) -> None:
        """Write `first`, a record that names its file or transaction (so never repeats: it is
        checked, never remembered), then `records`; `licence` is the index of the licence they
        belong to. `first_passes`: `first` is known to pass the check uncut, as stored."""
        stored = self.records
        line = len(stored) + 1
        self.sent.append(first if first_passes else self._check(first, line, licence))
        stored.append(first)
        if records:
            sent = list(map(self.sent_forms.get, records))
            if None in sent:
                self._check_new(records, sent, line + 1, licence)
            stored += records
            self.sent += cast("list[str]", sent)  # every None filled in by `_check_new`

    def _check_new(
        self, records: list[str], sent: list[str | None], line: int, licence: int
    ) -> None:
        """Fill in how each record not remembered (None in `sent`) is sent; `line` is the first
        record's line number."""
        for index, record in enumerate(records):
            if sent[index] is None:
                sent[index] = self._check(record, line + index, licence, repeatable=True)

    def _check(self, record: str, line: int, licence: int, *, repeatable: bool = False) -> str:
        """Cut and check a record not remembered; returns it as it is sent."""
        sent = record if record.isascii() else ascii_record(record)
        fields = sent.split(FIELD_SEP)  # the record starts at a separator: fields[0] is empty
        fields[0] = str(line)
        cut = False
        for index, maximum in _MAXIMA.get(fields[1], ()):  # a loop: any() would add a generator
            cut = cut or len(fields[index]) > maximum
        if cut:  # the cut is logged for each licence, so a cut record is never remembered
            self._cut(fields, licence)
            sent = FIELD_SEP + FIELD_SEP.join(fields[1:])
        self.line_broken |= LINE_SEP in sent
        if messages := record_problems(fields, self.state):
            self._report(fields, messages)
        elif repeatable and not cut:
            self.sent_forms[record] = sent
        return sent

    def _report(self, fields: list[str], messages: Sequence[str]) -> None:
        # apart from `_check`: its comprehension would give every call closure cells to make
        self.problems += [FileProblem(int(fields[0]), fields[1], m) for m in messages]

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
        # number, record, line separator, ...: one join writes each file, no string per line
        parts = [LINE_SEP] * (3 * len(self.records))
        parts[::3] = _line_numbers(1, len(self.records) + 1)
        parts[1::3] = self.records
        self.records = []  # megabytes: let go before the attachment is joined
        text = "".join(parts)
        attachment = text
        if self.cuts or not text.isascii():  # otherwise every record is sent as stored
            parts[1::3] = self.sent
            attachment = "".join(parts)
        self.sent = parts = []
        problems = self.problems
        if self.line_broken:  # the records checked are not the attachment's lines
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
    if type(value) is str:  # what validated text is: str() would cost a call
        return value
    return "" if value is None else str(value)


def _dates(start: str | None, end: str | None) -> tuple[str, str]:
    """`yyyy-mm-dd` dates as CHIEF writes them, `yyyymmdd`; an absent date is empty."""
    return start.replace("-", "") if start else "", end.replace("-", "") if end else ""


def _record(*fields: str) -> str:
    """A record from the separator after its line number (the writer numbers it)."""
    return FIELD_SEP + FIELD_SEP.join(fields)


# A licence's records are f-strings with their separators (`\\`, FIELD_SEP) in place, each
# from the separator after its line number: cheaper than a list of fields joined per record.
# The licence and trader records are joined from their fields all the same: join refuses a
# value that is not text, and the licence record's fields tell whether it passes the check.


def _licence_records(licence: Mapping[str, Any]) -> tuple[str, bool, list[str]]:
    """One licence's `licence` record, whether it passes the check as stored, and its records
    after it to `end` inclusive."""
    licence_type = licence["type"]
    action = licence["action"]
    reference = licence["reference"]
    licence_reference = _text(licence["licence_reference"])
    chief_type = CHIEF_LICENCE_TYPE[licence_type]
    start, end = _dates(licence.get("start_date"), licence.get("end_date"))
    fields = ["", "licence", reference, action, licence_reference, chief_type, "I", start, end]
    try:  # validated values are text
        first = FIELD_SEP.join(fields)
        first_passes = _passes_as_stored(first, fields)
    except TypeError:  # a value that is not text, written as an f-string writes it
        first, first_passes = FIELD_SEP.join(map(format, fields)), False
    records: list[str] = []
    if action != "cancel":
        records.append(_trader(licence["organisation"]))
        if group := licence.get("country_group"):
            records.append(f"\\country\\\\{group}\\O")
        elif code := licence.get("country_code"):
            records.append(f"\\country\\{code}\\\\O")
        restrictions: str = licence.get("restrictions", "")
        if restrictions != "":  # only the empty string suppresses the record, as upstream
            remembered = type(restrictions) is str  # anything else fails as it always did
            records.append((_restrictions_seen if remembered else _restrictions)(restrictions))
        if goods := licence.get("goods"):
            records += _goods(licence_type, goods)
    records.append(_end_record(len(records) + 2))
    return first, first_passes, records


@lru_cache(maxsize=64)  # the same object for every licence of as many records: hashed once
def _end_record(records: int) -> str:
    return f"\\end\\licence\\{records}"


_ADDRESS_KEYS = ("line_1", "line_2", "line_3", "line_4", "line_5", "postcode")


def _trader(organisation: Mapping[str, Any]) -> str:
    """TURN stays empty: ICMS traders are identified by EORI only."""
    address = organisation["address"]
    start, end = _dates(organisation.get("start_date"), organisation.get("end_date"))
    eori_number, name = organisation.get("eori_number"), organisation.get("name")
    fields = ["", "trader", "", eori_number, start, end, name, *map(address.get, _ADDRESS_KEYS)]
    try:  # validated names and lines are text, which join takes as it is
        return FIELD_SEP.join(cast("list[str]", fields))
    except TypeError:  # a missing or non-text value: the field rule
        return _trader_by_field_rule(organisation, start, end)


def _trader_by_field_rule(organisation: Mapping[str, Any], start: str, end: str) -> str:
    eori_number = _text(organisation.get("eori_number"))
    name = _text(organisation.get("name"))
    address = organisation["address"]
    lines = FIELD_SEP.join([_text(address.get(key)) for key in _ADDRESS_KEYS])
    return f"\\trader\\\\{eori_number}\\{start}\\{end}\\{name}\\{lines}"


def _restrictions(restrictions: str) -> str:
    return f"\\restrictions\\{'|'.join(restrictions.splitlines()).strip()}"


# a batch repeats its provisos: hashing the text costs less than splitting it again
_restrictions_seen = lru_cache(maxsize=256)(_restrictions)


def _goods(licence_type: str, goods: Sequence[Mapping[str, Any]]) -> list[str]:
    """The goods lines: 19 fields each, of which supplements, group, currency, value and
    sub-period stay empty. Fields: line, number, commodity, 3 empty, description, controlled by,
    empty, unit, empty, quantity, 6 empty (in the f-strings: `\\` is a separator)."""
    firearms = licence_type in ("OIL", "DFL")  # open lines, quantities ignored
    with_commodity = licence_type in ("SAN", "NUCLEAR")
    with_description = firearms or licence_type in ("SIL", "NUCLEAR")
    lines = []
    for number, good in enumerate(goods, start=1):
        controlled_by = "O" if firearms else good["controlled_by"]
        unit = quantity = ""
        if controlled_by == "Q":  # only quantity control carries a unit and an amount
            unit = _unit_code(int(good["unit"]))
            quantity = _text(good["quantity"])
        commodity = good["commodity"] if with_commodity else ""
        description = good["description"] if with_description else ""
        lines.append(
            f"\\line\\{number}\\{commodity}\\\\\\\\{description}\\{controlled_by}"
            f"\\\\{unit}\\\\{quantity}\\\\\\\\\\\\"
        )
    return lines


@lru_cache(maxsize=256)  # a batch uses a few quantity codes
def _unit_code(unit: int) -> str:
    return str(unit).zfill(3)


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
