"""licenceReply's padded runs of records read as grids of columns: the fast path of the bulk
reading in `licence_reply`.

CHIEF pads the lines of a reply to one width and numbers them in order, so within a group of
numbers as long as one another a run of records that repeats (accepted records; rejected blocks
with as many errors each) has each record type's number, type and last field in the same
columns in every repeat. A bytearray's strided slices read or write one column of many lines at
once, so only the columns of numbers and fields are read; the padding, most of the file, is not
searched for separators and white space a character at a time (as `split()` or `rstrip()` would)
but compared as a whole: the columns read are cut out, and the grid must then equal the layout
its lines should have, byte for byte.

A column alike in every line of a record type (a reference's prefix, a number's first digits)
is left in place and the layout holds its byte; every other is copied out and blanked. Fields
are read as the line-by-line reader reads them (inner white space kept, trailing white space
stripped). Whatever is not exactly such a grid gives None, and the caller reads it otherwise.
"""

from __future__ import annotations

from typing import NamedTuple

from licence_gateway.domain.chief.syntax import FIELD_SEP, LINE_SEP

ACCEPTED = f"{FIELD_SEP}accepted{FIELD_SEP}"
REJECTED = f"{FIELD_SEP}rejected{FIELD_SEP}"
_ERROR = f"{FIELD_SEP}error{FIELD_SEP}"
_END = f"{FIELD_SEP}end{FIELD_SEP}rejected{FIELD_SEP}"

# A grid is read this many lines at a time: a strided slice fetches one line's memory for each
# byte it reads, and a slice of more lines than a core's cache holds fetches them all again for
# each column.
_GRID_LINES = 1536

_LINE_BREAK, _SEPARATOR = (ord(LINE_SEP), ord(FIELD_SEP))
_ASCII_WHITE_SPACE = bytes(char for char in range(128) if chr(char).isspace())

# Each record type's values read from a grid: a column of values per field read (one for a
# last field, two for an error's code and text).
_Columns = list[list[str]]


def references_in_grid(lines: str) -> list[str] | None:
    """The references of ASCII lines padded to one width and numbered in order from the first,
    each `N\\accepted\\REFERENCE`; None when they are otherwise."""
    width = lines.find(LINE_SEP) + 1
    count = (len(lines) + 1) // width if width else 0
    number = lines[: lines.find(FIELD_SEP)]
    if not (count > 1 and len(lines) == count * width - 1 and lines.isascii()):
        return None
    if not number.isdigit():
        return None
    read = _read_grid(lines, width, int(number), [ACCEPTED], count)
    return None if read is None else read[0][0]


class GridBlocks(NamedTuple):
    """Rejected blocks read from a grid, a column of values per field."""

    references: list[str]
    errors: list[tuple[list[str], list[str]]]  # the codes and the texts of each block's nth error
    lines: int  # the lines they take
    width: int  # each line's, its break included


def blocks_in_grid(tail: str) -> GridBlocks | None:
    """The rejected blocks `tail` opens with, when they are ASCII lines padded to one width and
    numbered in order, each block `rejected`, as many `error`s as the first and
    `end\\rejected`; None when there are none such."""
    width = tail.find(LINE_SEP) + 1
    number = tail[: tail.find(FIELD_SEP)]
    if width < 2 or not (number.isascii() and number.isdigit()):
        return None
    first = int(number)
    openings = _block_openings(tail, width, first)
    if openings is None:
        return None
    lines = _alike_blocks(tail, width, first, openings) * len(openings)
    read = _read_grid(tail, width, first, openings, lines) if lines else None
    if read is None:
        return None
    errors = [(codes, texts) for codes, texts in read[1:-1]]
    return GridBlocks(read[0][0], errors, lines, width)


def _block_openings(tail: str, width: int, first: int) -> list[str] | None:
    """Each line's record type of the first block, with the separators around it, when the
    block is `rejected`, `error`s and `end\\rejected` in lines of `width`; else None."""

    def opening(line: int) -> str:
        start = line * width + len(str(first + line))
        return tail[start : start + len(_END)]

    errors = 0
    while opening(errors + 1).startswith(_ERROR):
        errors += 1
    if not (opening(0).startswith(REJECTED) and opening(errors + 1) == _END):
        return None
    return [REJECTED, *[_ERROR] * errors, _END]


def _alike_blocks(tail: str, width: int, first: int, openings: list[str]) -> int:
    """How many blocks from the first have each line's record type where the grid puts it,
    judged by one letter of each (the grid then checks every byte)."""
    size = len(openings)
    count = (len(tail) + 1) // width // size
    line = 0
    while line < count * size:
        digits = len(str(first + line))
        end = min(count * size, 10**digits - first)
        for kind, opening in enumerate(openings):
            at = line + (kind - line) % size  # this record type's first line in the group
            letters = tail[at * width + digits + 2 : end * width : size * width]
            if letters != opening[2] * len(letters):  # the record type's second letter
                alike = len(letters) - len(letters.lstrip(opening[2]))
                count = min(count, (at + alike * size) // size)
        line = end
    return count


def _read_grid(
    text: str, width: int, first: int, openings: list[str], lines: int
) -> list[_Columns] | None:
    """The values of each record type in the first `lines` lines of `text`, which repeat the
    record types `openings` name (each with the separators around it), numbered from `first`;
    None unless they are a grid.

    Within a group of numbers as long as one another, a record type's lines are `size` lines
    apart, so a strided slice of that step reads one of its columns.
    """
    size = len(openings)
    values: list[_Columns] = []
    lengths = [0] * size  # each record type's field is at least as long as in earlier groups
    line = 0
    while line < lines:
        digits = len(str(first + line))
        # lines numbered with `digits`, at most `_GRID_LINES` of them
        end = min(lines, 10**digits - first, line + _GRID_LINES)
        group = text[line * width : end * width]
        if len(group) < (end - line) * width - 1 or not group.isascii():
            return None  # the text's last line is shorter, or a line is not ASCII
        read = _read_group(group, width, digits, line % size, openings, lengths)
        if read is None:
            return None
        if values:
            for columns, more in zip(values, read, strict=True):
                for column, more_values in zip(columns, more, strict=True):
                    column += more_values
        else:
            values = read
        line = end
    return values


def _read_group(
    lines: str, width: int, digits: int, phase: int, openings: list[str], lengths: list[int]
) -> list[_Columns] | None:
    """The values of each record type in `lines`, numbered with `digits`, the first being the
    record type at `phase` in `openings`; None unless they are a grid.

    A field's length is judged from its first line and the columns after it that hold
    anything but spaces (`_cut_field`), so a longer field with a column of spaces in each of
    its lines is left partly in the grid: where it then differs from its layout tells (or an
    error's separator missing from what was cut), and the record type is cut again to the end
    of its lines.
    """
    if digits + max(map(len, openings)) >= width:
        return None  # a line too short for its number and record type
    least = list(lengths)
    while True:
        grid = bytearray(lines, "ascii")
        cut = _cut_grid(grid, width, digits, phase, openings, least)
        if isinstance(cut, int):
            kind = cut  # an error's separators were not all in the columns cut
        elif cut is None:
            return None
        elif grid == cut[1]:
            values, _, cut_lengths = cut
            lengths[:] = map(max, lengths, cut_lengths)
            return values
        else:
            line, column = divmod(_first_difference(grid, cut[1]), width)
            kind = (line + phase) % len(openings)
            if column < digits + len(openings[kind]) or column == width - 1:
                return None  # other characters or white space than spaces outside the fields
        full = width - 1 - digits - len(openings[kind])  # the rest of its lines
        if least[kind] >= full:  # it was cut to the end of its lines already
            return None
        least[kind] = full


def _cut_grid(
    grid: bytearray, width: int, digits: int, phase: int, openings: list[str], lengths: list[int]
) -> tuple[list[_Columns], memoryview, list[int]] | int | None:
    """Cut the grid's numbers and each record type's field (at least `lengths` long): the
    values, the grid's layout once cut, and each field's length; the record type whose error
    fields do not each hold one separator, or None when something else is amiss."""
    size = len(openings)
    lines = (len(grid) + 1) // width
    step = size * width
    numbers = _cut_numbers(grid, width, digits)
    if numbers is None:
        return None
    values: list[_Columns] = []
    layouts: list[bytes] = []
    field_lengths: list[int] = []
    for kind, opening in enumerate(openings):
        at = (kind - phase) % size  # this record type's first line in the grid
        rows = len(range(at, lines, size))
        column = digits + len(opening)
        read = _error_fields if opening == _ERROR else _last_field
        field = read(grid, at * width, step, rows, column, width, lengths[kind]) if rows else None
        if rows and field is None:
            return kind if opening == _ERROR else None
        columns, layout = field or ([[], []] if opening == _ERROR else [[]], b"")
        values.append(columns)
        layouts.append(_line_layout(numbers, opening, layout, width))
        field_lengths.append(len(layout))
    repeat = b"".join(layouts)
    turned = repeat[phase * width :] + repeat[: phase * width]  # as the grid's lines open
    cut = memoryview(turned * (lines // size + 1))[: len(grid)]  # the last may have no break
    return values, cut, field_lengths


def _first_difference(grid: bytearray, layout: memoryview) -> int:
    """Where the grid first differs from the layout (found by halves: they differ)."""
    same, differ = 0, len(grid)  # grid[:same] equals layout[:same]; grid[:differ] does not
    while differ - same > 1:
        middle = (same + differ) // 2
        if grid[same:middle] == layout[same:middle]:
            same = middle
        else:
            differ = middle
    return same


def _error_fields(
    grid: bytearray, first: int, step: int, rows: int, column: int, width: int, least: int
) -> tuple[_Columns, bytes] | None:
    """The codes and texts of `error` lines (`_last_field`, the code, its separator and the
    text taken as one field) and the field's layout; None unless each holds exactly one
    separator.

    The fields are joined by a line break between separators, so one split yields each code,
    its text and a line break: the breaks fall every third field exactly when each line holds
    one separator.
    """
    joiner = f"{FIELD_SEP}{LINE_SEP}{FIELD_SEP}"
    cut = _cut_field(grid, first, step, rows, column, width, least, joiner, separators=True)
    if cut is None:
        return None
    compact, layout = cut
    fields = compact.decode("ascii").split(FIELD_SEP)
    if len(fields) != 3 * rows - 1 or fields[2::3].count(LINE_SEP) != rows - 1:
        return None
    ends = compact[len(layout) - 1 :: len(layout) + len(joiner)] if layout else b""
    return [fields[::3], _right_stripped(fields[1::3], ends)], layout


def _last_field(
    grid: bytearray, first: int, step: int, rows: int, column: int, width: int, least: int
) -> tuple[_Columns, bytes] | None:
    """The values of the field from `column` to the end of the grid's lines at `first`,
    `first + step`, ... (`rows` lines of `width`), holding no separator, right-stripped; and
    the field's layout (`_cut_columns`)."""
    cut = _cut_field(grid, first, step, rows, column, width, least, LINE_SEP, separators=False)
    if cut is None:
        return None
    compact, layout = cut
    values = compact.decode("ascii").split(LINE_SEP)
    ends = compact[len(layout) - 1 :: len(layout) + 1] if layout else b""
    return [_right_stripped(values, ends)], layout


def _cut_field(
    grid: bytearray,
    first: int,
    step: int,
    rows: int,
    column: int,
    width: int,
    least: int,
    joiner: str,
    *,
    separators: bool,
) -> tuple[bytearray, bytes] | None:
    """The field from `column` to the end of the lines: each line's, as long as the longest
    and all but the last followed by `joiner`, one after another; and its layout.

    Its length is the first line's without trailing spaces (at least `least`), then as long
    as the next column holds anything else in some line; columns of spaces in every line at
    its end are left out.
    """
    length = len(grid[first + column : first + width - 1].rstrip(b" "))
    length = min(max(length, least), width - 1 - column)
    blank = bytearray(b" ") * rows
    while column + length < width - 1 and grid[first + column + length :: step] != blank:
        length += 1
    cut = _cut_columns(grid, first, step, rows, column, length, separators=separators)
    if cut is None:
        return None
    differing, layout = cut
    length = max(len(layout.rstrip(b" ")), differing[-1][0] + 1 if differing else 0)
    row = length + len(joiner)
    compact = bytearray((layout[:length] + joiner.encode()) * rows)
    del compact[len(compact) - len(joiner) :]
    for offset, chars in differing:
        compact[offset::row] = chars
    return compact, layout[:length]


def _cut_numbers(grid: bytearray, width: int, digits: int) -> bytes | None:
    """The layout of the grid's number columns (`_cut_columns`); None when they hold a
    separator (the number is then not the line's first field)."""
    lines = (len(grid) + 1) // width
    cut = _cut_columns(grid, 0, width, lines, 0, digits, separators=False)
    return None if cut is None else cut[1]


def _cut_columns(
    grid: bytearray, first: int, step: int, rows: int, column: int, length: int, *, separators: bool
) -> tuple[list[tuple[int, bytearray]], bytes] | None:
    """Cut `length` columns from `column` of the grid's lines at `first`, `first + step`, ...:
    the columns that differ between the lines, by offset, and their layout: the columns as
    the grid then holds them (the byte of a column alike in every line, left in place; a space
    where a column was blanked). None when one holds a line break, or a separator unless
    `separators`."""
    blank = bytearray(b" ") * rows  # a bytes value would be copied to a bytearray each time
    layout = bytearray(b" ") * length
    differing = []
    for offset in range(length):
        at = first + column + offset
        chars = grid[at::step]
        if _LINE_BREAK in chars or (not separators and _SEPARATOR in chars):
            return None
        if chars[0] == chars[-1] and chars == chars[:1] * rows:
            layout[offset] = chars[0]
        else:
            differing.append((offset, chars))
            grid[at::step] = blank
    return differing, bytes(layout)


def _line_layout(numbers: bytes, opening: str, field: bytes, width: int) -> bytes:
    """A line as the grid holds it once cut: its numbers' and field's layouts around its
    record type, padded with spaces, and its break."""
    line = numbers + opening.encode() + field
    return line.ljust(width - 1) + LINE_SEP.encode()


def _right_stripped(values: list[str], ends: bytes | bytearray) -> list[str]:
    """`values` without trailing white space; `ends` holds each one's last character (all are
    as long as one another, padded with spaces)."""
    if any(char in ends for char in _ASCII_WHITE_SPACE):
        return list(map(str.rstrip, values))  # some are shorter than the longest
    return values
