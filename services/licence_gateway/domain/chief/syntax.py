"""CHIEF line-file syntax shared by every CHIEF file: separators, the typed format error, ASCII."""

from __future__ import annotations

import codecs
import re

from unidecode import unidecode_expect_ascii

FIELD_SEP = "\\"
LINE_SEP = "\n"

# Every boundary Python's str.splitlines() breaks on: the original turned all of them into `|`
# in restrictions, and any of them inside another field would split a record.
LINE_BREAKS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


class ChiefFormatError(ValueError):
    """A CHIEF file that cannot be read; `line` is the 1-based physical line, if one is to blame."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line

    def as_dict(self) -> dict[str, object]:
        return {"error": self.message, "line": self.line}


def to_ascii(text: str) -> str:
    """The attachment CHIEF receives: transliterated as the original does, `?` when impossible.

    unidecode maps each character on its own, so the ASCII encoder copies the ASCII text and
    hands only each non-ASCII run to unidecode's table (unidecode itself would walk the whole
    text a character at a time). The result is the very string unidecode returns.
    """
    if text.isascii():
        return text
    return text.encode("ascii", _TRANSLITERATE).decode("ascii")


class _Transliterations(dict[str, str]):
    """Character -> its ASCII form, filled on first sight (a file repeats the same few)."""

    def __missing__(self, char: str) -> str:
        ascii_form = unidecode_expect_ascii(char, errors="replace")
        if not 0xD800 <= ord(char) <= 0xDFFF:  # unidecode warns about each surrogate: keep that
            self[char] = ascii_form
        return ascii_form


_TRANSLITERATIONS = _Transliterations()


_RUNS: dict[str, str] = {}  # whole runs ("é", "’", "—"): most repeat
_RUNS_KEPT = 10_000


def _transliterated_run(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    run = error.object[error.start : error.end]
    ascii_form = _RUNS.get(run)
    if ascii_form is None:
        ascii_form = "".join([_TRANSLITERATIONS[char] for char in run])
        if len(_RUNS) < _RUNS_KEPT and not _has_surrogate(run):
            _RUNS[run] = ascii_form
    return ascii_form, error.end


def _has_surrogate(run: str) -> bool:
    return any(0xD800 <= ord(char) <= 0xDFFF for char in run)


_TRANSLITERATE = "licence_gateway.chief.transliterate"


_RECORDS: dict[str, str] = {}  # whole records: a batch repeats its traders, goods and provisos
_RECORD_CHARS_KEPT = 1_000_000
_record_chars = 0


def ascii_record(record: str) -> str:
    """`to_ascii` of a record's text, remembered for the records that repeat."""
    global _record_chars
    ascii_form = _RECORDS.get(record)
    if ascii_form is None:
        ascii_form = to_ascii(record)
        if _record_chars < _RECORD_CHARS_KEPT and not _has_surrogate(record):
            _RECORDS[record] = ascii_form
            _record_chars += len(record)
    return ascii_form


codecs.register_error(_TRANSLITERATE, _transliterated_run)


_LINE_BREAK = re.compile("[" + "".join(map(re.escape, sorted(LINE_BREAKS))) + "]")


def has_line_break(text: str) -> bool:
    # A regex scans in C; a set's isdisjoint hashes each character of a long text in turn.
    return _LINE_BREAK.search(text) is not None
