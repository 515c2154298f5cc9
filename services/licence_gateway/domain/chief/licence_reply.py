"""licenceReply: CHIEF's answer to one licenceData run (spec 8.2): parse, classify, render.

Lenient as the original: lines are right-stripped (CHIEF pads them; CRLF loses its CR), blank lines
are skipped, a rejected block never closed by `end` is dropped, the `end` count is not checked and a
reference reported twice is kept twice. Malformed means an unknown record type, an `error`/`end`
outside a rejected block, or a wrong field count: `ChiefFormatError` naming the line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from itertools import repeat
from typing import NamedTuple

from licence_gateway.domain.chief.licence_data import DEFAULT_SOURCE_SYSTEM, file_timestamp
from licence_gateway.domain.chief.reply_grid import (
    ACCEPTED,
    REJECTED,
    blocks_in_grid,
    references_in_grid,
)
from licence_gateway.domain.chief.syntax import FIELD_SEP, LINE_SEP, ChiefFormatError

_COUNT = re.compile("[0-9]+")


class ReplyOutcome(StrEnum):
    VALID = "valid"
    INVALID = "invalid"
    PARTIALLY_VALID = "partially_valid"
    NO_DATA = "no_data"
    UNKNOWN = "unknown"


class ReplyError(NamedTuple):  # a tuple: thousands are made per reply, a dataclass is slower
    code: str
    text: str


@dataclass(frozen=True, slots=True)
class FileError:
    code: str
    text: str
    position: str | None = None  # the input record CHIEF stopped at, when it says


class RejectedTransaction(NamedTuple):  # a tuple for the same reason
    reference: str
    errors: tuple[ReplyError, ...]


@dataclass(frozen=True, slots=True)
class ReplyHeader:
    source_system: str
    destination_system: str
    data_id: str
    created_at: str
    run_number: str


@dataclass(frozen=True, slots=True)
class ReplyTrailer:
    accepted_count: str
    rejected_count: str
    file_error_count: str


@dataclass(frozen=True, slots=True)
class LicenceReply:
    header: ReplyHeader | None
    accepted: tuple[str, ...]
    rejected: tuple[RejectedTransaction, ...]
    file_errors: tuple[FileError, ...]
    trailer: ReplyTrailer | None  # missing after a CHIEF crash

    @property
    def run_number(self) -> str:
        return self.header.run_number if self.header else ""

    @property
    def outcome(self) -> ReplyOutcome:
        """Decided in the original's order: valid, invalid, partially valid, no data, unknown."""
        processed = bool(self.accepted or self.rejected)
        if self.trailer is not None and not self.file_errors and self._trailer_agrees(self.trailer):
            return ReplyOutcome.VALID
        if self.file_errors:
            return ReplyOutcome.PARTIALLY_VALID if processed else ReplyOutcome.INVALID
        if not processed:
            return ReplyOutcome.NO_DATA
        return ReplyOutcome.UNKNOWN

    def _trailer_agrees(self, trailer: ReplyTrailer) -> bool:
        return (
            _count(trailer.file_error_count) == 0
            and _count(trailer.accepted_count) == len(self.accepted)
            and _count(trailer.rejected_count) == len(self.rejected)
        )


def _count(value: str) -> int | None:
    """A trailer count; anything but digits can match nothing."""
    return int(value) if _COUNT.fullmatch(value) else None


# record type -> (fewest, most) data fields after the sequence number and the type
_FIELD_COUNTS = {
    "fileHeader": (5, 5),
    "accepted": (1, 1),
    "rejected": (1, 1),
    "error": (2, 2),
    "end": (2, 2),
    "fileError": (2, 3),
    "fileTrailer": (3, 3),
}


def parse_licence_reply(text: str) -> LicenceReply:
    """Every record of a reply, in file order; `ChiefFormatError` names a malformed line.

    CHIEF writes its accepted records as one run of lines and its rejected blocks after it:
    the run, and the blocks when they are alike, are read with a few whole-string operations
    (`_accepted_run`, `_leading_blocks`), the other lines one at a time. Accepted records
    open and close nothing and each block is closed before the next record, so reading them
    apart keeps the file-order result. Whatever the bulk readers are unsure of is read line by
    line, which also words every error.
    """
    try:
        reply = _read_in_bulk(text)
    except ChiefFormatError:
        reply = None  # a line past the bulk reading is malformed: reading from the start names it
    if reply is not None:
        return reply
    reader = _ReplyReader()
    reader.read(text.split(LINE_SEP), 1)
    return reader.reply()


def _read_in_bulk(text: str) -> LicenceReply | None:
    """The reply with its accepted run read in bulk (without one, its rejected blocks); None
    when there is no such run.

    The numbers of lines past the run can be off (a padded line may hide a line break): an
    error raised there is worded again by reading the file from its start.
    """
    first = text.find(ACCEPTED)
    if first < 0:
        return _read_blocks_in_bulk(text)
    start = text.rfind(LINE_SEP, 0, first) + 1
    end = text.find(LINE_SEP, text.rfind(ACCEPTED))
    end = len(text) if end < 0 else end
    # the tail opens with the line after the run's last; its blocks are made first, as fewer
    # other new containers are then alive for the garbage collector to walk
    blocks, taken, tail = _leading_blocks(text[end + 1 :] if end < len(text) else None)
    references = _accepted_run(text[start:end])
    if references is None:
        return None
    reader = _ReplyReader()
    head = text[:start].split(LINE_SEP)  # its last line is the run's first, cut empty
    reader.read(head, 1)
    reader.accepted = references
    if blocks:
        reader.rejected += blocks
        reader.open_reference = None  # closed by the last block's `end`
    reader.read(tail, len(head) + len(references) + taken)
    return reader.reply()


def _read_blocks_in_bulk(text: str) -> LicenceReply | None:
    """A reply without accepted records, with its rejected blocks read in bulk from the first;
    None when the bulk readers take none."""
    first = text.find(REJECTED)
    start = text.rfind(LINE_SEP, 0, first) + 1
    blocks, taken, tail = _leading_blocks(text[start:]) if first >= 0 else ([], 0, [])
    if not blocks:
        return None
    reader = _ReplyReader()
    head = text[:start].split(LINE_SEP)  # its last line is the first block's, cut empty
    reader.read(head, 1)
    reader.rejected += blocks
    reader.open_reference = None  # closed by the last block's `end`
    reader.read(tail, len(head) + taken)
    return reader.reply()


def _leading_blocks(tail: str | None) -> tuple[list[RejectedTransaction], int, list[str]]:
    """The rejected blocks `tail` opens with (the text after the accepted run; None when there
    is none), the lines they take and the tail's lines after them.

    Blocks in CHIEF's layout are read as a grid (`reply_grid.blocks_in_grid`), others split
    into fields (`_rejected_blocks`); both read only blocks with as many errors as the first.
    """
    if tail is None:
        return [], 0, []
    grid = blocks_in_grid(tail)
    if grid is None:
        lines = tail.split(LINE_SEP)
        blocks, taken = _rejected_blocks(lines)
        del lines[:taken]
        return blocks, taken, lines
    new = tuple.__new__  # a NamedTuple's own constructor is a Python call per record
    errors_at = [
        map(new, repeat(ReplyError), zip(codes, texts, strict=True)) for codes, texts in grid.errors
    ]
    count = len(grid.references)
    block_errors = zip(*errors_at, strict=True) if errors_at else repeat((), count)
    blocks = list(
        map(new, repeat(RejectedTransaction), zip(grid.references, block_errors, strict=True))
    )
    return blocks, grid.lines, tail[grid.lines * grid.width :].split(LINE_SEP)


def _accepted_run(lines: str) -> list[str] | None:
    """The references of lines that are each `N\\accepted\\REFERENCE`, None if any is not
    (or holds inner white space: the line-by-line reader decides those).

    Padded ASCII lines numbered in order are read as a grid (`reply_grid.references_in_grid`,
    which keeps inner white space as the line-by-line reader does). Other runs are split at white
    space: the run holds one word a line when it is those words joined by line breaks
    (unpadded) or when its lines are padded to one width and each opens with a word
    (`_one_word_a_slot`). The words are then joined by a separator and a line break: one split
    yields every line's fields in a row, three per line exactly when each line-opening field
    (the only ones holding a break) sits at a multiple of three.
    """
    references = references_in_grid(lines)
    if references is not None:
        return references
    words = lines.split()
    count = len(words)
    if not _one_word_a_slot(lines, count) and LINE_SEP.join(words) != lines:
        return None
    fields = (FIELD_SEP + LINE_SEP).join(words).split(FIELD_SEP)
    if len(fields) != 3 * count or fields[1::3].count("accepted") != count:
        return None
    if "".join(fields[3::3]).count(LINE_SEP) != count - 1:
        return None
    return fields[2::3]


def _one_word_a_slot(lines: str, count: int) -> bool:
    """Whether `count` words are one a line: the lines are padded to one width (as CHIEF pads
    them), each opens with a word, and there are as many lines of that width as words.

    A word cannot cross a break at the end of a padded line, so each line holds exactly one;
    a break inside one only makes a blank line, which the line-by-line reader skips too.
    """
    width = lines.find(LINE_SEP) + 1
    if width == 0:
        return count == 1
    if len(lines) != count * width - 1 or lines[width - 1 :: width] != LINE_SEP * (count - 1):
        return False
    openings = lines[::width]
    return openings.split() == [openings]


def _rejected_blocks(lines: list[str]) -> tuple[list[RejectedTransaction], int]:
    """The rejected blocks `lines` open with, each `rejected`, `error`s and `end` and with as
    many errors as the first, and the lines they take; none when any of them is not so (the
    line-by-line reader decides).

    The right-stripped lines are joined by a line break between separators, so one split
    yields each line's fields followed by a line-break field: blocks alike then repeat at one
    stride, and strided slices check every block's record types and field counts at once.
    """
    fields = "\\\n\\".join(map(str.rstrip, lines)).split(FIELD_SEP)
    fields += (LINE_SEP, "", "", "", "", "")  # the last line's break, and room to look ahead
    if fields[1] != "rejected":
        return [], 0
    errors = 0
    while fields[5 * errors + 5] == "error":
        errors += 1
    stride = 5 * errors + 9  # a block's fields: 3 + break, 4 + break per error, 4 + break
    opens = [*map("rejected".__eq__, fields[1::stride]), False]
    count = opens.index(False)
    stop = count * stride
    ends = 5 * errors + 4
    if not (
        fields[3:stop:stride].count(LINE_SEP) == count  # `rejected` has one data field
        and fields[ends + 1 : stop : stride].count("end") == count
        and _have_two_data_fields(fields, ends, stop, stride, count)
        and all(
            fields[line + 1 : stop : stride].count("error") == count
            and _have_two_data_fields(fields, line, stop, stride, count)
            for line in range(4, ends, 5)
        )
    ):
        return [], 0
    new = tuple.__new__
    errors_at = [
        map(
            new,
            repeat(ReplyError),
            zip(fields[line + 2 : stop : stride], fields[line + 3 : stop : stride], strict=True),
        )
        for line in range(4, ends, 5)
    ]
    block_errors = zip(*errors_at, strict=True) if errors else repeat((), count)
    blocks = zip(fields[2:stop:stride], block_errors, strict=True)
    del fields  # the garbage collector, run as the tuples are made, need not walk its items
    return list(map(new, repeat(RejectedTransaction), blocks)), count * (errors + 2)


def _have_two_data_fields(fields: list[str], line: int, stop: int, stride: int, count: int) -> bool:
    """Whether the records opening at `line` in each block hold exactly two data fields: the
    break follows the fourth field, and the third is not one (a break after one field, then a
    one-field line, would put a break there too)."""
    return (
        fields[line + 4 : stop : stride].count(LINE_SEP) == count
        and LINE_SEP not in fields[line + 2 : stop : stride]
    )


class _ReplyReader:
    """Records read so far; `read` continues the file from line `first_number`."""

    def __init__(self) -> None:
        self.header: ReplyHeader | None = None
        self.trailer: ReplyTrailer | None = None
        self.accepted: list[str] = []
        self.rejected: list[RejectedTransaction] = []
        self.file_errors: list[FileError] = []
        self.open_reference: str | None = None  # the rejected block being read
        self.open_errors: list[ReplyError] = []

    def read(self, lines: list[str], first_number: int) -> None:
        accept, reject = self.accepted.append, self.rejected.append
        open_reference, open_errors = self.open_reference, self.open_errors
        # Built with tuple.__new__: a NamedTuple's own constructor is a Python call per record.
        new, error, rejected, separator = tuple.__new__, ReplyError, RejectedTransaction, FIELD_SEP
        for number, raw in enumerate(lines, start=first_number):
            fields = raw.rstrip().split(separator)  # sequence number, record type, data...
            size = len(fields)
            if size < 3:  # blank, or no data
                if size == 2 or fields[0]:
                    self._check(fields, number)
                continue
            record_type = fields[1]
            if record_type == "error" and size == 4 and open_reference is not None:
                open_errors.append(new(error, (fields[2], fields[3])))
            elif record_type == "accepted" and size == 3:
                accept(fields[2])
            elif record_type == "rejected" and size == 3:
                open_reference, open_errors = fields[2], []  # an unclosed one is dropped
            elif record_type == "end" and size == 4 and open_reference is not None:
                reject(new(rejected, (open_reference, tuple(open_errors))))
                open_reference = None
            else:
                self._check(fields, number)
                data = fields[2:]
                if record_type == "fileError":
                    self.file_errors.append(FileError(*data))
                elif record_type == "fileHeader":
                    self.header = ReplyHeader(*data)
                elif record_type == "fileTrailer":
                    self.trailer = ReplyTrailer(*data)
                else:  # a well-formed error or end outside a rejected block
                    raise _malformed("rejected record is out of sequence", number)
        self.open_reference, self.open_errors = open_reference, open_errors

    @staticmethod
    def _check(fields: list[str], number: int) -> None:
        """Raise for a record of unknown type or with the wrong field count."""
        if len(fields) < 2:
            raise _malformed("no record type", number)
        record_type = fields[1]
        limits = _FIELD_COUNTS.get(record_type)
        if limits is None:
            raise _malformed("Unknown field_type", number)
        data = len(fields) - 2
        if not limits[0] <= data <= limits[1]:
            raise _malformed(f"{record_type} record has {data} fields", number)

    def reply(self) -> LicenceReply:
        return LicenceReply(
            self.header,
            tuple(self.accepted),
            tuple(self.rejected),
            tuple(self.file_errors),
            self.trailer,
        )


def _malformed(problem: str, number: int) -> ChiefFormatError:
    # The original's wording, which operators know from its logs.
    return ChiefFormatError(f"Unable to process file: {problem} on line {number}", number)


def reply_mismatch(reply: LicenceReply, run_references: Iterable[str]) -> str | None:
    """Why this reply cannot be the answer to a run that sent `run_references`; None if it can.

    Every transaction it names must be one of the run's, and a trailer, when CHIEF wrote one,
    must count exactly what the file holds (a reply cut short by a CHIEF crash has none).
    """
    known = {reference.strip() for reference in run_references}
    named = [*reply.accepted, *(transaction.reference for transaction in reply.rejected)]
    strangers = sorted({reference for reference in named if reference.strip() not in known})
    if strangers:
        return f"names transactions that were not in the run: {', '.join(strangers)}"
    trailer = reply.trailer
    if trailer is not None:
        counted = (trailer.accepted_count, trailer.rejected_count, trailer.file_error_count)
        found = (len(reply.accepted), len(reply.rejected), len(reply.file_errors))
        if tuple(map(_count, counted)) != found:
            return (
                f"trailer counts accepted/rejected/file errors {'/'.join(counted)},"
                f" the file holds {'/'.join(map(str, found))}"
            )
    return None


def reply_summary(reply: LicenceReply) -> dict[str, object]:
    """The `licence-gateway chief parse-reply` document."""
    return {
        "run_number": reply.run_number,
        "outcome": reply.outcome.value,
        "accepted": list(reply.accepted),
        "rejected": [
            {"reference": r.reference, "errors": [_error_json(e) for e in r.errors]}
            for r in reply.rejected
        ],
        "file_errors": [_error_json(e) for e in reply.file_errors],
    }


def _error_json(error: ReplyError | FileError) -> dict[str, str]:
    return {"error_code": error.code, "error_msg": error.text}


class UnknownReference(KeyError):
    """The reply names a transaction that was not in the run."""


def reply_callback_body(reply: LicenceReply, icms_ids: Mapping[str, str]) -> dict[str, object]:
    """The body for ICMS's `chief/license-data-callback` (spec 4.1), key order as the original.

    `icms_ids` maps each transaction reference of the run to its payload's ICMS id.
    Strings stay strings: the run number and error codes are sent as they are in the file.
    """

    def icms_id(reference: str) -> str:
        try:
            return icms_ids[reference]
        except KeyError:
            raise UnknownReference(reference) from None

    return {
        "run_number": reply.run_number,
        "accepted": [{"id": icms_id(reference)} for reference in reply.accepted],
        "rejected": [
            {"id": icms_id(r.reference), "errors": [_error_json(e) for e in r.errors]}
            for r in reply.rejected
        ],
    }


def callback_json(body: Mapping[str, object]) -> str:
    """The exact text ICMS receives (and Hawk signs): Python's default json.dumps, ASCII-escaped."""
    return json.dumps(body)


# --- writing replies: the HMRC simulator and the development fake reply ---


def licence_reply_file_name(run_number: int | str, when: datetime) -> str:
    return f"CHIEF_licenceReply_{run_number}_{file_timestamp(when)}"


def render_licence_reply(
    *,
    run_number: int | str,
    created_at: datetime,
    accepted: Iterable[str] = (),
    rejected: Iterable[tuple[str, Sequence[ReplyError]]] = (),
    file_errors: Iterable[FileError] = (),
    destination_system: str = DEFAULT_SOURCE_SYSTEM,
    with_trailer: bool = True,
) -> str:
    """A licenceReply as CHIEF writes it: records joined by LF, no newline after the last one."""
    records = [
        f"fileHeader\\CHIEF\\{destination_system}\\licenceReply"
        f"\\{file_timestamp(created_at)}\\{run_number}"
    ]
    accepted_count = rejected_count = 0
    for reference in accepted:
        records.append(f"accepted\\{reference}")
        accepted_count += 1
    for reference, errors in rejected:
        records.append(f"rejected\\{reference}")
        records.extend(f"error\\{e.code}\\{e.text}" for e in errors)
        records.append(f"end\\rejected\\{len(errors) + 2}")
        rejected_count += 1
    file_error_records = [
        FIELD_SEP.join(["fileError", e.code, e.text] + ([] if e.position is None else [e.position]))
        for e in file_errors
    ]
    records += file_error_records
    if with_trailer:
        records.append(
            f"fileTrailer\\{accepted_count}\\{rejected_count}\\{len(file_error_records)}"
        )
    return LINE_SEP.join(f"{n}\\{record}" for n, record in enumerate(records, start=1))


class FakeReply(StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"
    FILE_ERROR = "file_error"


FAKE_FILE_ERROR = FileError("18", "Record type 'fileHeader' not recognised", "99")


def fake_licence_reply(
    outcome: FakeReply, *, run_number: int | str, references: Sequence[str], created_at: datetime
) -> str:
    """The development fake reply for a run's references, as the original's dev command wrote it."""
    if outcome is FakeReply.ACCEPT:
        return render_licence_reply(
            run_number=run_number, created_at=created_at, accepted=references
        )
    if outcome is FakeReply.REJECT:
        return render_licence_reply(
            run_number=run_number,
            created_at=created_at,
            rejected=[
                (ref, [ReplyError("12345", f"Fake error message for {ref}")]) for ref in references
            ],
        )
    return render_licence_reply(
        run_number=run_number, created_at=created_at, file_errors=[FAKE_FILE_ERROR]
    )
