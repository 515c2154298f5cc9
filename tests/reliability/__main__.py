"""`make reliability`: every reliability harness in its own process, their lines passed through.

The two crash harnesses run first, each alone (they time SIGKILLs and restarts, which a busy
machine would blur); then mail, sync and Slack faults and fuzzing run side by side. Each harness
prints its `reliability NAME: ...` line (the crash harnesses add a `reliability load-held: ...`
line, fuzzing prints two) on stdout; their logs go to .local/reliability/NAME.log.

The exit status says whether the harnesses ran, not what they found: a harness that finds a lost
licence still prints its line and exits 0, and so does this runner. It exits 1 only when a
harness breaks (a non-zero exit, a timeout, or no line).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOGS = ROOT / ".local" / "reliability"


@dataclass(frozen=True)
class Harness:
    name: str
    module: str
    args: tuple[str, ...]
    lines: int  # `reliability ...` lines it prints
    timeout: float  # seconds


HARNESSES = (
    # Restarts, and so the kills, take several times longer while neighbours hold a core.
    Harness("crash-injection", "tests.reliability.crash_injection", ("--kills", "100"), 2, 1500),
    Harness("invoice-crash", "tests.reliability.invoice_crash", ("--kills", "40"), 2, 900),
    Harness("mail-faults", "tests.reliability.mail_faults", (), 1, 240),
    Harness("sync-faults", "tests.reliability.sync_faults", (), 1, 300),
    Harness("slack-faults", "tests.reliability.slack_faults", (), 1, 300),
    Harness("fuzz", "tests.reliability.fuzz", ("--per-operation", "250"), 2, 1200),
)
ALONE = ("crash-injection", "invoice-crash")  # one after the other; the rest side by side


async def run(harness: Harness, extra: tuple[str, ...] = ()) -> bool:
    """Run one harness; print its lines as they come; True if it ran to the end."""
    LOGS.mkdir(parents=True, exist_ok=True)
    log_path = LOGS / f"{harness.name}.log"
    started = time.monotonic()
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            harness.module,
            *harness.args,
            *extra,
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
        )
        try:
            printed = await asyncio.wait_for(pass_lines(process), harness.timeout)
            code = await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()
            return broken(harness, f"no end after {harness.timeout:.0f} s", log_path)
    elapsed = time.monotonic() - started
    if code != 0:
        return broken(harness, f"exit code {code}", log_path)
    if printed < harness.lines:
        return broken(harness, f"{printed} of {harness.lines} result lines", log_path)
    print(f"# {harness.name}: {elapsed:.0f} s, log {log_path}", file=sys.stderr, flush=True)
    return True


async def pass_lines(process: asyncio.subprocess.Process) -> int:
    """Copy the harness's stdout to ours; count its `reliability ...` lines."""
    assert process.stdout is not None
    printed = 0
    async for raw in process.stdout:
        line = raw.decode(errors="replace").rstrip("\n")
        if line.startswith("reliability "):
            printed += 1
            print(line, flush=True)
        else:
            print(line, file=sys.stderr, flush=True)
    return printed


def broken(harness: Harness, why: str, log_path: Path) -> bool:
    print(f"# {harness.name} broke: {why}; see {log_path}", file=sys.stderr, flush=True)
    return False


async def run_all(chosen: list[Harness], load_rate: float) -> bool:
    alone = [harness for harness in chosen if harness.name in ALONE]
    together = [harness for harness in chosen if harness.name not in ALONE]
    # The crash harnesses hold a steady load while they kill: licences in, invoice list reads.
    results = [await run(harness, ("--rate", f"{load_rate:g}")) for harness in alone]
    results += await asyncio.gather(*(run(harness) for harness in together))
    return all(results)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    names = [harness.name for harness in HARNESSES]
    parser.add_argument("--only", action="append", choices=names, help="repeatable")
    parser.add_argument(
        "--load-rate",
        type=float,
        default=50,
        help="requests a second held during the crash harnesses (licences in, invoice reads)",
    )
    args = parser.parse_args()
    chosen = [harness for harness in HARNESSES if not args.only or harness.name in args.only]
    started = time.monotonic()
    ok = asyncio.run(run_all(chosen, args.load_rate))
    print(f"# reliability: {time.monotonic() - started:.0f} s in all", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
