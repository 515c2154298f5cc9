"""CHIEF line-file syntax shared by every CHIEF file: separators, the typed format error, ASCII."""

from __future__ import annotations

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
    """The attachment CHIEF receives: transliterated as the original does, `?` when impossible."""
    if text.isascii():
        return text
    return unidecode_expect_ascii(text, errors="replace")


def has_line_break(text: str) -> bool:
    return not LINE_BREAKS.isdisjoint(text)
