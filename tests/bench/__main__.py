"""Run every benchmark module, each in its own process, and pass its `bench …` lines through.

`python -m tests.bench [NAME ...]` runs the modules tests/bench/bench_NAME.py (all by default).
Exit 0 even when a target is missed; non-zero only when a benchmark breaks.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TIMEOUT_SECONDS = 15 * 60


def main(argv: list[str]) -> int:
    modules = sorted(path.stem for path in HERE.glob("bench_*.py"))
    if argv:
        modules = [m for m in modules if m.removeprefix("bench_") in argv or m in argv]
    broken: list[str] = []
    started = time.monotonic()
    for module in modules:
        print(f"# running {module}", file=sys.stderr, flush=True)
        try:
            result = subprocess.run(
                [sys.executable, "-m", f"tests.bench.{module}"],
                cwd=ROOT,
                timeout=TIMEOUT_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired:
            broken.append(f"{module} (timed out)")
            continue
        if result.returncode != 0:
            broken.append(f"{module} (exit {result.returncode})")
    print(f"# benchmarks took {time.monotonic() - started:.0f} s", file=sys.stderr)
    if broken:
        print(f"# broken: {', '.join(broken)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
