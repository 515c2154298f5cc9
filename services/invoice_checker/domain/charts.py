"""Charts as server-drawn SVG, each with its numbers as a table (for screen readers and copying).

A small writer of our own rather than a library: three kinds of chart (lines, grouped bars,
horizontal share bars) are all the pages need, and plain SVG with presentation attributes needs
no script and no inline style, so it passes a strict Content-Security-Policy. Pure functions:
numbers in, markup and table rows out.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape

from invoice_checker.domain.flex import FLEX_MAX_MINUS, FLEX_MAX_PLUS

WIDTH, HEIGHT = 640, 320
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 36, 56
# Colour-blind-safe (Okabe-Ito), dark enough on white for the 3:1 contrast of graphics.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
AXIS = "#595959"
GRID = "#d9d9d9"
MAX_X_LABELS = 13
OTHER_CLIENTS = "Other clients"


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    values: tuple[float | None, ...]


@dataclass(frozen=True, slots=True)
class Guide:
    """A horizontal reference line, such as the flex band's limits."""

    value: float
    label: str


Cell = str | float | None


@dataclass(frozen=True, slots=True)
class Chart:
    """An SVG and the same numbers as a table: `header` names the columns of `rows` (formatted
    for reading) and of `values` (the plain numbers, for a CSV download)."""

    title: str
    svg: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    values: tuple[tuple[Cell, ...], ...] = ()


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round axis values from at most `low` to at least `high`, about `count` of them, zero
    included when the range crosses it."""
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError("axis limits must be finite")
    low, high = min(low, high, 0.0), max(low, high, 0.0)
    # Values are shown with two decimals: a narrower range is drawn as flat.
    if high - low < 0.01:
        high = low + 1.0
    raw = (high - low) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    steps = max(math.ceil((high - first) / step), 1)
    decimals = max(0, 2 - math.floor(math.log10(step)))
    return [round(first + index * step, decimals) + 0.0 for index in range(steps + 1)]


def csv_text(chart: Chart) -> str:
    """The chart's numbers as CSV: its header and plain values (empty where none)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(chart.header)
    writer.writerows(["" if cell is None else cell for cell in row] for row in chart.values)
    return buffer.getvalue()


def number(value: float | None, unit: str = "", decimals: int = 2) -> str:
    """A table cell: two decimals and the unit; "–" where there is no value."""
    if value is None:
        return "–"
    text = f"{value:,.{decimals}f}".replace(",", " ")
    return f"{text} {unit}".rstrip()


class _Frame:
    """The plot area and its value scale."""

    def __init__(self, values: Sequence[float], guides: Sequence[Guide] = ()) -> None:
        span = [*values, *(g.value for g in guides)] or [0.0]
        self.ticks = nice_ticks(min(span), max(span))
        self.low, self.high = self.ticks[0], self.ticks[-1]
        self.x0, self.x1 = LEFT, WIDTH - RIGHT
        self.y0, self.y1 = HEIGHT - BOTTOM, TOP

    def y(self, value: float) -> float:
        share = (value - self.low) / (self.high - self.low)
        return round(self.y0 - share * (self.y0 - self.y1), 2)

    def slot(self, index: int, count: int) -> tuple[float, float]:
        """The x range of category `index` of `count`."""
        width = (self.x1 - self.x0) / max(count, 1)
        return self.x0 + index * width, width


def chart_id(title: str) -> str:
    """An element id from the title, so several charts on one page keep distinct ids."""
    return "chart-" + ("-".join(re.findall(r"[a-z0-9]+", title.lower())) or "untitled")


def _open(title: str, description: str) -> list[str]:
    ident = chart_id(title)
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-labelledby="{ident}-title {ident}-desc" class="chart" '
        f'font-family="sans-serif" font-size="12">',
        f'<title id="{ident}-title">{escape(title)}</title>',
        f'<desc id="{ident}-desc">{escape(description)}</desc>',
        f'<text x="{LEFT}" y="20" font-size="14" font-weight="bold" fill="#000">'
        f"{escape(title)}</text>",
    ]


def _y_axis(frame: _Frame, unit: str) -> list[str]:
    parts = []
    for tick in frame.ticks:
        y = frame.y(tick)
        colour = AXIS if tick == 0 else GRID
        parts.append(f'<line x1="{frame.x0}" y1="{y}" x2="{frame.x1}" y2="{y}" stroke="{colour}"/>')
        parts.append(
            f'<text x="{frame.x0 - 6}" y="{y + 4}" text-anchor="end" fill="{AXIS}">'
            f"{escape(_tick_label(tick))}</text>"
        )
    parts.append(
        f'<text x="12" y="{(frame.y0 + frame.y1) / 2}" fill="{AXIS}" '
        f'transform="rotate(-90 12 {(frame.y0 + frame.y1) / 2})" text-anchor="middle">'
        f"{escape(unit)}</text>"
    )
    return parts


def _tick_label(tick: float) -> str:
    return f"{tick:,.0f}".replace(",", " ") if tick == int(tick) else f"{tick:g}"


def _x_labels(frame: _Frame, labels: Sequence[str]) -> list[str]:
    every = max(1, math.ceil(len(labels) / MAX_X_LABELS))
    parts = []
    for index, label in enumerate(labels):
        if index % every and index != len(labels) - 1:
            continue
        start, width = frame.slot(index, len(labels))
        parts.append(
            f'<text x="{round(start + width / 2, 2)}" y="{frame.y0 + 16}" text-anchor="middle" '
            f'fill="{AXIS}">{escape(label)}</text>'
        )
    return parts


def _legend(series: Sequence[Series]) -> list[str]:
    if len(series) < 2:
        return []
    parts, x = [], LEFT
    for index, item in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        parts.append(
            f'<rect x="{x}" y="{HEIGHT - 20}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{x + 14}" y="{HEIGHT - 11}" fill="#000">{escape(item.name)}</text>'
        )
        x += 24 + 7 * len(item.name)
    return parts


def _guides(frame: _Frame, guides: Sequence[Guide]) -> list[str]:
    parts = []
    for guide in guides:
        y = frame.y(guide.value)
        parts.append(
            f'<line x1="{frame.x0}" y1="{y}" x2="{frame.x1}" y2="{y}" stroke="#B00020" '
            f'stroke-dasharray="6 4" class="guide"/>'
            f'<text x="{frame.x1 - 4}" y="{y - 4}" text-anchor="end" fill="#B00020">'
            f"{escape(guide.label)}</text>"
        )
    return parts


def line_svg(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    unit: str,
    guides: Sequence[Guide] = (),
) -> str:
    """One line per series over the labels; a missing value breaks the line."""
    values = [v for s in series for v in s.values if v is not None]
    frame = _Frame(values, guides)
    parts = _open(title, f"Line chart of {', '.join(s.name for s in series)} by {unit}.")
    parts += _y_axis(frame, unit) + _guides(frame, guides) + _x_labels(frame, labels)
    for index, item in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        runs: list[list[tuple[float, float]]] = [[]]
        for position, value in enumerate(item.values):
            if value is None:
                runs.append([])
                continue
            start, width = frame.slot(position, len(labels))
            point = (round(start + width / 2, 2), frame.y(value))
            runs[-1].append(point)
            parts.append(
                f'<circle cx="{point[0]}" cy="{point[1]}" r="3" fill="{colour}">'
                f"<title>{escape(item.name)}, {escape(labels[position])}: "
                f"{escape(number(value, unit))}</title></circle>"
            )
        for run in runs:
            if len(run) > 1:
                points = " ".join(f"{x},{y}" for x, y in run)
                parts.append(
                    f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>'
                )
    return "".join([*parts, *_legend(series), "</svg>"])


def bar_svg(title: str, labels: Sequence[str], series: Sequence[Series], unit: str) -> str:
    """Grouped vertical bars: one group per label, one bar per series, from zero."""
    values = [v for s in series for v in s.values if v is not None]
    frame = _Frame(values)
    parts = _open(title, f"Bar chart of {', '.join(s.name for s in series)} by {unit}.")
    parts += _y_axis(frame, unit) + _x_labels(frame, labels)
    zero = frame.y(0.0)
    for position, label in enumerate(labels):
        start, width = frame.slot(position, len(labels))
        bar = width * 0.8 / max(len(series), 1)
        for index, item in enumerate(series):
            value = item.values[position]
            if value is None:
                continue
            y = frame.y(value)
            parts.append(
                f'<rect x="{round(start + width * 0.1 + index * bar, 2)}" y="{min(y, zero)}" '
                f'width="{round(bar, 2)}" height="{round(abs(zero - y), 2)}" '
                f'fill="{PALETTE[index % len(PALETTE)]}"><title>{escape(item.name)}, '
                f"{escape(label)}: {escape(number(value, unit))}</title></rect>"
            )
    return "".join([*parts, *_legend(series), "</svg>"])


def share_svg(title: str, labels: Sequence[str], shares: Sequence[float]) -> str:
    """Horizontal bars of shares (0..1), biggest first as given, each labelled in percent."""
    row = min((HEIGHT - TOP - 8) / max(len(labels), 1), 32.0)
    label_width = 180
    span = WIDTH - RIGHT - label_width - 56
    parts = _open(title, f"Bar chart of shares of {len(labels)} items.")
    for index, (label, share) in enumerate(zip(labels, shares, strict=True)):
        y = round(TOP + index * row, 2)
        parts.append(
            f'<text x="{label_width - 6}" y="{round(y + row * 0.65, 2)}" text-anchor="end" '
            f'fill="#000">{escape(_shorten(label, 26))}</text>'
            f'<rect x="{label_width}" y="{round(y + row * 0.15, 2)}" '
            f'width="{round(span * max(share, 0.0), 2)}" height="{round(row * 0.7, 2)}" '
            f'fill="{PALETTE[0]}"><title>{escape(label)}: {share * 100:.1f} %</title></rect>'
            f'<text x="{round(label_width + span * max(share, 0.0) + 6, 2)}" '
            f'y="{round(y + row * 0.65, 2)}" fill="{AXIS}">{share * 100:.1f} %</text>'
        )
    return "".join([*parts, "</svg>"])


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- the pages' charts ---------------------------------------------------------------------------


def saldo_chart(months: Sequence[tuple[str, float]]) -> Chart:
    """The flex saldo at the end of each month (oldest first), with the band's limits."""
    title = "Flex saldo month by month"
    labels = [month for month, _ in months]
    svg = line_svg(
        title,
        labels,
        [Series("Flex saldo", tuple(saldo for _, saldo in months))],
        "h",
        guides=[
            Guide(FLEX_MAX_PLUS, f"{FLEX_MAX_PLUS:.0f} h"),
            Guide(FLEX_MAX_MINUS, f"{FLEX_MAX_MINUS:.0f} h"),
        ],
    )
    rows = tuple((month, number(saldo, "h")) for month, saldo in months)
    return Chart(title, svg, ("Month", "Flex saldo (h)"), rows, tuple(months))


def billing_ratio_chart(
    months: Sequence[str], ratios: Mapping[str, Mapping[str, float | None]]
) -> Chart:
    """Each person's billing ratio (percent) per month: `ratios[person][month]`. The table has
    one row per person and one column per month; "–" where the person had no hours."""
    title = "Billing ratio per person"
    series = [
        Series(person, tuple(by_month.get(month) for month in months))
        for person, by_month in ratios.items()
    ]
    svg = line_svg(title, months, series, "%")
    rows = tuple((s.name, *(number(v, "%", 1) for v in s.values)) for s in series)
    values = tuple((s.name, *s.values) for s in series)
    return Chart(title, svg, ("Person", *months), rows, values)


def company_charts(months: Sequence[tuple[str, float, float, float]]) -> tuple[Chart, Chart]:
    """Company hours per month (billable and non-billable project hours) and billable money
    per month, from (month, billable hours, non-billable hours, billable money)."""
    labels = [month for month, *_ in months]
    hours_title = "Company hours per month"
    hours = bar_svg(
        hours_title,
        labels,
        [
            Series("Billable", tuple(b for _, b, _, _ in months)),
            Series("Non-billable", tuple(n for _, _, n, _ in months)),
        ],
        "h",
    )
    money_title = "Billable money per month"
    money = bar_svg(
        money_title, labels, [Series("Billable money", tuple(m for *_, m in months))], "€"
    )
    return (
        Chart(
            hours_title,
            hours,
            ("Month", "Billable hours", "Non-billable hours"),
            tuple((month, number(b, "h"), number(n, "h")) for month, b, n, _ in months),
            tuple((month, b, n) for month, b, n, _ in months),
        ),
        Chart(
            money_title,
            money,
            ("Month", "Billable money (€)"),
            tuple((month, number(m, "€")) for month, *_, m in months),
            tuple((month, m) for month, *_, m in months),
        ),
    )


def client_share_chart(hours_by_client: Mapping[str, float], top: int = 10) -> Chart:
    """Each client's share of all client hours, biggest first; past `top` clients the rest
    are one "Other clients" row."""
    title = "Client share of hours"
    ranked = sorted(
        ((c, h) for c, h in hours_by_client.items() if h > 0), key=lambda item: (-item[1], item[0])
    )
    if len(ranked) > top:
        ranked = [*ranked[: top - 1], (OTHER_CLIENTS, sum(h for _, h in ranked[top - 1 :]))]
    total = sum(h for _, h in ranked)
    shares = [h / total if total else 0.0 for _, h in ranked]
    svg = share_svg(title, [c for c, _ in ranked], shares)
    rows = tuple(
        (client, number(hours, "h"), number(share * 100, "%", 1))
        for (client, hours), share in zip(ranked, shares, strict=True)
    )
    values = tuple(
        (client, hours, round(share * 100, 4))
        for (client, hours), share in zip(ranked, shares, strict=True)
    )
    return Chart(title, svg, ("Client", "Hours", "Share (%)"), rows, values)
