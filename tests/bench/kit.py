"""What every bench uses: repeated runs, the median, the target, the printed lines and the JSON.

A bench module (tests/bench/bench_NAME.py, found by the runner, one process each) calls
`measure(...)` for each figure, or `record(...)` when it has already taken its own samples:

    record(Figure("codec_build_10k", "s", "<=", 0.12), samples, detail={...})

prints `bench NAME: VALUE UNIT` (the median of at least MIN_RUNS runs), then
`target: OP VALUE met|missed`, and appends the figure to the JSON file the runner names in
$BENCH_RESULTS (docs/benchmarks.md is generated from it). A bench whose answers include an error
raises `BenchRefused` before anything is recorded: no figure is printed over errors.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

MIN_RUNS = 5


class BenchRefused(RuntimeError):
    """An answer was an error (or the output was wrong): the bench prints no figure."""


@dataclass(frozen=True)
class Figure:
    name: str
    unit: str
    op: Literal["<=", ">="]
    target: float
    what: str = ""  # one line for docs/benchmarks.md: what is timed

    def met(self, value: float) -> bool:
        return value <= self.target if self.op == "<=" else value >= self.target


def load_average() -> str:
    return " ".join(f"{load:.2f}" for load in os.getloadavg())


def peak_rss_mb() -> float:
    """This process's peak resident set size since it started its program (KiB on Linux).

    Linux's VmHWM, not getrusage's ru_maxrss: ru_maxrss survives exec, so a child forked from a
    bigger parent (the bench, after its timed runs) reports the parent's size as its own peak."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(
    figure: Figure,
    run: Callable[[], Any],
    *,
    runs: int = MIN_RUNS,
    check: Callable[[Any], None] | None = None,
    detail: dict[str, Any] | None = None,
) -> float:
    """Time `run()` `runs` times; `check(result)` raises BenchRefused on a wrong answer.

    The figure is wall time; this process's CPU time per run goes in the detail too, since
    other load on a shared machine inflates it less.
    """
    samples, cpu = [], []
    for _ in range(max(runs, MIN_RUNS)):
        started, cpu_started = time.perf_counter(), time.process_time()
        result = run()
        samples.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
        if check is not None:
            check(result)
    scale = {"s": 1.0, "ms": 1e3, "us": 1e6}[figure.unit]
    detail = (detail or {}) | {f"cpu_median_{figure.unit}": statistics.median(cpu) * scale}
    return record(figure, [s * scale for s in samples], detail=detail)


def record(
    figure: Figure, samples: Sequence[float], *, detail: dict[str, Any] | None = None
) -> float:
    """Print and store the median of `samples` (already in `figure.unit`) against the target."""
    if len(samples) < MIN_RUNS:
        raise BenchRefused(f"{figure.name}: {len(samples)} runs, at least {MIN_RUNS} are needed")
    value = statistics.median(samples)
    met = figure.met(value)
    print(f"bench {figure.name}: {format_number(value)} {figure.unit}", flush=True)
    print(
        f"target: {figure.op} {format_number(figure.target)} {'met' if met else 'missed'}",
        flush=True,
    )
    print(
        f"# {figure.name}: median of {len(samples)} runs, min {format_number(min(samples))},"
        f" max {format_number(max(samples))}; load average {load_average()}; {detail or ''}",
        file=sys.stderr,
        flush=True,
    )
    entry = {
        "name": figure.name,
        "value": value,
        "unit": figure.unit,
        "op": figure.op,
        "target": figure.target,
        "met": met,
        "what": figure.what,
        "runs": len(samples),
        "min": min(samples),
        "max": max(samples),
        "load_average": load_average(),
        "cpus": os.cpu_count(),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "detail": detail or {},
    }
    if path := os.environ.get("BENCH_RESULTS"):
        with open(path, "a", encoding="utf-8") as results:
            results.write(json.dumps(entry) + "\n")
    return value


def format_number(value: float) -> str:
    """Three significant figures, thousands grouped from 100 up."""
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"
