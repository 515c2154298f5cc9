"""The licenceData self-check (spec 3.6): every file is validated before it leaves.

Rules and field counts are the original's. Problems carry the physical line they were found on.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from licence_gateway.domain.chief.syntax import FIELD_SEP, LINE_SEP

NAME_MAX = 80
ADDRESS_LINE_MAX = 35
FOREIGN_POSTCODE_MAX = 8
FOREIGN_COUNTRY_MAX = 2

DATA_IDS = frozenset({"licenceData", "licenceReply", "usageData", "usageReply"})
LICENCE_DATA_ACTIONS = frozenset({"insert", "cancel", "replace"})
CHIEF_LICENCE_TYPES = frozenset({"SIL", "OIL", "SAN"})
COUNTRY_USES = frozenset({"D", "E", "O", "P", "R", "S"})
CONTROLLED_BY = frozenset({"B", "O", "Q", "V"})

_OUTWARD = "[A-PR-UWYZ]([0-9]{1,2}|([A-HIK-Y][0-9](|[0-9]|[ABEHMNPRVWXY]))|[0-9][A-HJKSTUW])"
_INWARD = "[0-9][ABD-HJLNP-UW-Z]{2}"
_POSTCODE = re.compile(rf"GIR 0AA|{_OUTWARD} {_INWARD}")
_SPACE_BEFORE_INWARD = re.compile(rf" *({_INWARD})$")
_DIGITS = re.compile("[0-9]+")


@lru_cache(maxsize=4096)  # a batch repeats the same few traders' postcodes
def is_uk_postcode(value: str) -> bool:
    """The original's UK check: upper-cased, trimmed, one space put before the inward code."""
    normalised = _SPACE_BEFORE_INWARD.sub(r" \1", value.upper().strip())
    return _POSTCODE.fullmatch(normalised) is not None


@dataclass(frozen=True, slots=True)
class FileProblem:
    line: int
    record_type: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line} ({self.record_type}): {self.message}"


class LicenceDataInvalid(ValueError):
    """A built licenceData file failed the self-check; it must not be sent."""

    def __init__(self, problems: list[FileProblem]) -> None:
        super().__init__("; ".join(map(str, problems)))
        self.problems = problems


@dataclass
class CheckState:
    """What the check carries from record to record: the fileHeader's data identifier (licence
    actions are checked only in licenceData)."""

    data_id: str = ""


_Check = Callable[[list[str], CheckState], Sequence[str]]
_FINE: Sequence[str] = ()  # what a record without problems returns: no allocation on the fast path


def _file_header(tokens: list[str], state: CheckState) -> Sequence[str]:
    state.data_id = tokens[4]
    errors = []
    if tokens[0] != "1":
        errors.append("fileHeader is not in the first line")
    if tokens[2] == tokens[3]:
        errors.append("Source and destination are the same")
    if tokens[4] not in DATA_IDS:
        errors.append("fileHeader contains invalid data identifier")
    if tokens[7] not in ("Y", "N"):
        errors.append("fileHeader contains invalid reset run number indicator")
    return errors


def _licence(tokens: list[str], state: CheckState) -> Sequence[str]:
    if tokens[5] in CHIEF_LICENCE_TYPES and (
        tokens[3] in LICENCE_DATA_ACTIONS or state.data_id != "licenceData"
    ):
        return _FINE
    errors = []
    if state.data_id == "licenceData" and tokens[3] not in LICENCE_DATA_ACTIONS:
        errors.append(f"Invalid action {tokens[3]} for the data identifier {state.data_id}")
    if tokens[5] not in CHIEF_LICENCE_TYPES:
        errors.append(f"Invalid licence type {tokens[5]} in the record")
    return errors


def _trader(tokens: list[str], state: CheckState) -> Sequence[str]:
    _, _, turn, trader_id, start, end, name, *address, postcode = tokens
    if (
        (turn or trader_id)
        and not (start and end)
        and len(name) <= NAME_MAX
        and max(map(len, address)) <= ADDRESS_LINE_MAX
        and (not postcode or is_uk_postcode(postcode))
    ):
        return _FINE
    errors = []
    if not turn and not trader_id:
        errors.append("RPA Trader Id must not be empty when TURN is empty")
    if start and end:
        if not (_DIGITS.fullmatch(start) and _DIGITS.fullmatch(end)):
            errors.append("Trader dates must be yyyymmdd")
        elif int(end) < int(start):
            errors.append("Invalid start and end dates for the licence")
    if len(name) > NAME_MAX:
        errors.append(f"Organisation name cannot exceed {NAME_MAX} chars")
    errors.extend(
        f"Address line cannot exceed {ADDRESS_LINE_MAX} chars"
        for line in address
        if len(line) > ADDRESS_LINE_MAX
    )
    if postcode and not is_uk_postcode(postcode):
        errors.append(f"Invalid postcode found {postcode}")
    return errors


def _country(tokens: list[str], state: CheckState) -> Sequence[str]:
    errors = []
    if tokens[2] and tokens[3]:
        errors.append("Both country code and group cannot be valid in the same record")
    if tokens[4] not in COUNTRY_USES:
        errors.append(f"Invalid country use value {tokens[4]}")
    return errors


def _foreign_trader(tokens: list[str], state: CheckState) -> Sequence[str]:
    errors = []
    if len(tokens[2]) > NAME_MAX:
        errors.append(f"Foreign trader name cannot exceed {NAME_MAX} chars")
    errors.extend(
        f"Address line_{index} trader exceeds {ADDRESS_LINE_MAX} chars"
        for index, line in enumerate(tokens[3:8], start=1)
        if len(line) > ADDRESS_LINE_MAX
    )
    if len(tokens[8]) > FOREIGN_POSTCODE_MAX:
        errors.append(f"Foreign trader postcode exceeds {FOREIGN_POSTCODE_MAX} chars")
    if len(tokens[9]) > FOREIGN_COUNTRY_MAX:
        errors.append(f"Foreign trader country code exceeds {FOREIGN_COUNTRY_MAX} chars")
    return errors


def _line(tokens: list[str], state: CheckState) -> Sequence[str]:
    if (tokens[7] or tokens[3]) and tokens[8] in CONTROLLED_BY:
        return _FINE
    errors = []
    if not tokens[7] and not tokens[3]:
        errors.append("Product description or commodity code must be set")
    if tokens[8] not in CONTROLLED_BY:
        errors.append("Invalid controlled by value")
    return errors


# record type -> (exact field count, content rules if any)
_RECORDS: dict[str, tuple[int, _Check | None]] = {
    "fileHeader": (8, _file_header),
    "licence": (9, _licence),
    "trader": (13, _trader),
    "country": (5, _country),
    "foreignTrader": (10, _foreign_trader),
    "restrictions": (3, None),
    "line": (19, _line),
    "end": (4, None),
    "fileTrailer": (3, None),
}


def record_problems(tokens: list[str], state: CheckState) -> Sequence[str]:
    """The problems of one record, split into its fields (the line number first)."""
    record_type = tokens[1] if len(tokens) > 1 else ""
    rule = _RECORDS.get(record_type)
    if rule is None:
        return (f"Invalid record type {record_type}",)
    field_count, check = rule
    if len(tokens) != field_count:
        return (f"{record_type} doesn't contain all necessary values",)
    return _FINE if check is None else check(tokens, state)


def validate_licence_data_file(text: str, *, derived_from: str | None = None) -> list[FileProblem]:
    """Every problem in the file; an empty list means it may be sent.

    `derived_from` is the file this one was made from line for line (the stored text of an ASCII
    attachment): the lines they share were checked there, so only the lines that differ are.
    """
    problems: list[FileProblem] = []
    state = CheckState()
    lines = text.split(LINE_SEP)
    checked = derived_from.split(LINE_SEP) if derived_from is not None else []
    if len(checked) != len(lines):
        checked = []
    elif lines[0] == checked[0]:  # checked already, but its data identifier governs the rest
        header = lines[0].split(FIELD_SEP)
        if len(header) == _RECORDS["fileHeader"][0] and header[1] == "fileHeader":
            state.data_id = header[4]
    for number, line in enumerate(lines, start=1):
        if not line or (checked and line == checked[number - 1]):
            continue
        tokens = line.split(FIELD_SEP)
        if messages := record_problems(tokens, state):
            record_type = tokens[1] if len(tokens) > 1 else ""
            problems.extend(FileProblem(number, record_type, m) for m in messages)
    return problems
