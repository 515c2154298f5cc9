"""The server-drawn SVG charts: well-formed, accessible, drawn to scale, and their tables."""

from __future__ import annotations

import itertools
import re
from xml.etree import ElementTree

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from invoice_checker.domain import charts
from invoice_checker.domain.charts import (
    Series,
    billing_ratio_chart,
    client_share_chart,
    company_charts,
    nice_ticks,
    saldo_chart,
)

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ElementTree.Element:
    root = ElementTree.fromstring(svg)  # noqa: S314 # our own markup, not untrusted input
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    title_id, desc_id = root.get("aria-labelledby", "").split()
    assert root.find(f"{SVG}title").get("id") == title_id  # type: ignore[union-attr]
    assert root.find(f"{SVG}desc").get("id") == desc_id  # type: ignore[union-attr]
    # Nothing a strict CSP would block: no script, no inline style.
    assert "<script" not in svg and "style=" not in svg
    return root


def polyline_points(root: ElementTree.Element) -> list[list[tuple[float, float]]]:
    return [
        [tuple(map(float, pair.split(","))) for pair in line.get("points", "").split()]  # type: ignore[misc]
        for line in root.iter(f"{SVG}polyline")
    ]


def test_saldo_chart_draws_each_month_and_the_band() -> None:
    chart = saldo_chart([("2018-01", -12.5), ("2018-02", 30.0), ("2018-03", -55.25)])
    root = parse(chart.svg)
    [line] = polyline_points(root)
    assert len(line) == 3
    xs = [x for x, _ in line]
    assert xs == sorted(xs)
    # Lower values are drawn lower (bigger y); the band's limits are dashed guides.
    assert line[2][1] > line[0][1] > line[1][1]
    guides = [g for g in root.iter(f"{SVG}line") if g.get("class") == "guide"]
    assert len(guides) == 2
    texts = {t.text for t in root.iter(f"{SVG}text")}
    assert {"120 h", "-40 h"} <= texts
    assert chart.header == ("Month", "Flex saldo (h)")
    assert chart.rows == (("2018-01", "-12.50 h"), ("2018-02", "30.00 h"), ("2018-03", "-55.25 h"))
    assert charts.csv_text(chart) == (
        "Month,Flex saldo (h)\r\n2018-01,-12.5\r\n2018-02,30.0\r\n2018-03,-55.25\r\n"
    )
    tooltips = [t.text for t in root.iter(f"{SVG}title")][1:]
    assert tooltips == [
        "Flex saldo, 2018-01: -12.50 h",
        "Flex saldo, 2018-02: 30.00 h",
        "Flex saldo, 2018-03: -55.25 h",
    ]


def test_values_are_drawn_to_scale() -> None:
    chart = saldo_chart([("2018-01", 0.0), ("2018-02", 60.0)])
    root = parse(chart.svg)
    [line] = polyline_points(root)
    ticks = nice_ticks(-40, 120)
    zero_y = line[0][1]
    top_y = charts.TOP
    bottom_y = charts.HEIGHT - charts.BOTTOM
    # y is linear in the value between the lowest and highest tick.
    assert zero_y == pytest.approx(
        bottom_y - (0 - ticks[0]) / (ticks[-1] - ticks[0]) * (bottom_y - top_y)
    )
    assert line[1][1] == pytest.approx(
        bottom_y - (60 - ticks[0]) / (ticks[-1] - ticks[0]) * (bottom_y - top_y)
    )


def test_billing_ratio_lines_break_where_a_person_had_no_hours() -> None:
    months = ["2018-01", "2018-02", "2018-03", "2018-04"]
    chart = billing_ratio_chart(
        months,
        {
            "Alice <a&b>": {"2018-01": 80.0, "2018-02": None, "2018-03": 70.0, "2018-04": 75.5},
            "Bob": {"2018-01": 50.0, "2018-02": 55.0},
        },
    )
    root = parse(chart.svg)
    lines = polyline_points(root)
    # Alice: one point, a gap, two points (one run is drawn); Bob: two points, then nothing.
    assert [len(line) for line in lines] == [2, 2]
    assert len(list(root.iter(f"{SVG}circle"))) == 5
    assert "Alice &lt;a&amp;b&gt;" in chart.svg  # names are escaped
    assert chart.header == ("Person", *months)
    assert chart.rows == (
        ("Alice <a&b>", "80.0 %", "–", "70.0 %", "75.5 %"),
        ("Bob", "50.0 %", "55.0 %", "–", "–"),
    )
    assert charts.csv_text(chart).splitlines()[1:] == [
        "Alice <a&b>,80.0,,70.0,75.5",
        "Bob,50.0,55.0,,",
    ]


def test_company_charts_bars_and_tables() -> None:
    months = [("2018-1", 1000.0, 250.5, 95000.0), ("2018-2", 1200.0, 300.0, 110500.25)]
    hours, money = company_charts(months)
    hours_root = parse(hours.svg)
    bars = list(hours_root.iter(f"{SVG}rect"))
    legend = [b for b in bars if b.get("width") == "10"]
    drawn = [b for b in bars if b not in legend]
    assert len(drawn) == 4 and len(legend) == 2
    heights = [float(b.get("height", "0")) for b in drawn]
    # Billable 2018-2 is the tallest, non-billable 2018-1 the shortest; heights keep the ratios.
    assert heights[2] == max(heights) and heights[1] == min(heights)
    assert heights[2] / heights[0] == pytest.approx(1.2, rel=0.01)
    assert hours.rows == (
        ("2018-1", "1 000.00 h", "250.50 h"),
        ("2018-2", "1 200.00 h", "300.00 h"),
    )
    parse(money.svg)
    assert money.rows == (("2018-1", "95 000.00 €"), ("2018-2", "110 500.25 €"))
    assert money.values == (("2018-1", 95000.0), ("2018-2", 110500.25))
    # Two charts on one page: their ids differ.
    assert hours_root.get("aria-labelledby") != parse(money.svg).get("aria-labelledby")


def test_negative_bars_hang_below_zero() -> None:
    svg = charts.bar_svg("Change", ["a", "b"], [Series("x", (10.0, -5.0))], "h")
    root = parse(svg)
    up, down = list(root.iter(f"{SVG}rect"))
    assert float(up.get("y", 0)) + float(up.get("height", 0)) == pytest.approx(
        float(down.get("y", 0))
    )


def test_client_share_folds_the_small_clients() -> None:
    hours = {f"Client {n:02d}": float(100 - n) for n in range(12)} | {"Idle": 0.0}
    chart = client_share_chart(hours, top=5)
    root = parse(chart.svg)
    assert len(list(root.iter(f"{SVG}rect"))) == 5
    assert [row[0] for row in chart.rows] == [
        "Client 00",
        "Client 01",
        "Client 02",
        "Client 03",
        charts.OTHER_CLIENTS,
    ]
    total = sum(hours.values())
    assert chart.rows[0] == ("Client 00", "100.00 h", f"{100 / total * 100:.1f} %")
    shares = [float(row[2].rstrip(" %")) for row in chart.rows]
    assert sum(shares) == pytest.approx(100, abs=0.3)
    assert client_share_chart({}).rows == ()
    parse(client_share_chart({}).svg)


def test_many_months_get_thinned_labels() -> None:
    months = [f"2017-{m:02d}" for m in range(1, 13)] + [f"2018-{m:02d}" for m in range(1, 13)]
    chart = saldo_chart([(m, float(i)) for i, m in enumerate(months)])
    labels = [t.text for t in parse(chart.svg).iter(f"{SVG}text") if t.text in months]
    assert len(labels) <= charts.MAX_X_LABELS + 1
    assert labels[0] == "2017-01" and labels[-1] == "2018-12"
    assert len(chart.rows) == 24


@given(
    st.floats(-1e6, 1e6, allow_nan=False),
    st.floats(-1e6, 1e6, allow_nan=False),
)
@example(low=0.0, high=1e-6)  # narrower than the shown precision: once gave steps of 0
def test_nice_ticks_cover_the_range_evenly(low: float, high: float) -> None:
    ticks = nice_ticks(low, high)
    assert ticks[0] <= min(low, high, 0) + 1e-6 and ticks[-1] >= max(low, high, 0) - 1e-6
    steps = {round(b - a, 6) for a, b in itertools.pairwise(ticks)}
    assert len(steps) == 1 and steps.pop() > 0
    assert 2 <= len(ticks) <= 12
    assert any(abs(t) < 1e-9 for t in ticks)  # zero is always a tick


def test_chart_ids_are_safe() -> None:
    assert re.fullmatch(r"chart-[a-z0-9-]+", charts.chart_id("Company hours <per> month!"))
    assert charts.chart_id("???") == "chart-untitled"
