"""System programs some tests need but the README does not ask for (Dovecot, Chromium).

`require_tool` returns the program's path, or skips the calling test (or fixture) with a reason
naming the Debian package that brings it. Under REQUIRE_SYSTEM_TOOLS=1 (set by .ci/run) a missing
program fails the test instead, so CI cannot go green by skipping. The conftest hook
`report_missing_tools` turns the skips into one summary line at the end of the run.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass

import pytest

REQUIRE_ENV = "REQUIRE_SYSTEM_TOOLS"
# Daemons live in sbin, which is not on every user's PATH: look there too, as their packages put
# them there.
SYSTEM_DIRS = ("/usr/local/sbin", "/usr/sbin", "/sbin")
_REASON = "missing system tool {executable} (Debian package {package})"
_REASON_PATTERN = re.compile(r"missing system tool (\S+) \(Debian package (\S+)\)")


@dataclass(frozen=True, order=True)
class MissingTool:
    executable: str
    debian_package: str


def find_tool(executable: str) -> str | None:
    """The path of an executable: as given when absolute, else on PATH, else in the sbin dirs."""
    if os.path.isabs(executable):
        return executable if os.access(executable, os.X_OK) else None
    search_path = os.pathsep.join([os.environ.get("PATH", os.defpath), *SYSTEM_DIRS])
    return shutil.which(executable, path=search_path)


def tools_are_required() -> bool:
    return os.environ.get(REQUIRE_ENV, "") not in ("", "0")


def require_tool(executable: str, debian_package: str) -> str:
    """The executable's path; skip (or, under REQUIRE_SYSTEM_TOOLS=1, fail) when it is missing."""
    if found := find_tool(executable):
        return found
    reason = _REASON.format(executable=executable, package=debian_package)
    if tools_are_required():
        pytest.fail(f"{reason}; {REQUIRE_ENV}=1 makes a missing tool an error", pytrace=False)
    pytest.skip(reason)


def missing_tool_in(report: pytest.TestReport) -> MissingTool | None:
    """The tool a skipped test lacked, read back from the reason `require_tool` wrote."""
    if not (report.skipped and isinstance(report.longrepr, tuple)):
        return None
    match = _REASON_PATTERN.search(report.longrepr[2])
    return MissingTool(match[1], match[2]) if match else None


def report_missing_tools(terminalreporter: pytest.TerminalReporter) -> None:
    """One line naming the tools skipped tests lacked, and their packages.

    The run's short summary leaves skips out (addopts has -rfEX, not -ra: one line per test that
    lacks Dovecot is noise); any skip not for a missing tool is listed here one by one instead.
    """
    skipped = terminalreporter.stats.get("skipped", [])
    tools = [tool for report in skipped if (tool := missing_tool_in(report))]
    for report in skipped:
        if missing_tool_in(report) is None:
            terminalreporter.write_line(f"SKIPPED {report.nodeid}: {_reason(report)}")
    if tools:
        terminalreporter.write_line(summary_line(len(tools), tools), yellow=True, bold=True)


def _reason(report: pytest.TestReport) -> str:
    return report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)


def summary_line(tests_skipped: int, tools: Iterable[MissingTool]) -> str:
    tools = sorted(set(tools))
    listed = ", ".join(f"{tool.executable} ({tool.debian_package})" for tool in tools)
    packages = " ".join(sorted({tool.debian_package for tool in tools}))
    return (
        f"{tests_skipped} tests skipped for missing system tools: {listed}; "
        f"to run them: apt-get install {packages}"
    )
