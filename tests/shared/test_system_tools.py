"""A test needing a missing system program skips, naming the Debian package, in one summary line;
under REQUIRE_SYSTEM_TOOLS=1 it fails instead."""

from __future__ import annotations

import pytest

from tests.support.system_tools import find_tool, require_tool

pytest_plugins = ["pytester"]

CONFTEST = """
import pytest
from tests.support.system_tools import report_missing_tools

@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter):
    yield
    report_missing_tools(terminalreporter)
"""

TESTS = """
import pytest
from tests.support.system_tools import require_tool

@pytest.fixture(scope="session")
def mail_server():
    return require_tool("no-such-mail-server", "no-such-mail-server-deb")

def test_one(mail_server): pass
def test_two(mail_server): pass
def test_browser(): require_tool("/nonexistent/browser", "browser-deb")
def test_present(): assert require_tool("sh", "dash").endswith("/sh")
"""


def test_a_missing_tool_skips_with_one_line_naming_its_package(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REQUIRE_SYSTEM_TOOLS", raising=False)
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_needs_tools=TESTS)

    result = pytester.runpytest("-rfEX", "-p", "no:asyncio")

    result.assert_outcomes(passed=1, skipped=3)
    summary = [line for line in result.outlines if "skipped for missing system tools" in line]
    assert summary == [
        "3 tests skipped for missing system tools: /nonexistent/browser (browser-deb), "
        "no-such-mail-server (no-such-mail-server-deb); "
        "to run them: apt-get install browser-deb no-such-mail-server-deb"
    ]


def test_under_require_system_tools_a_missing_tool_fails_the_run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUIRE_SYSTEM_TOOLS", "1")
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_needs_tools=TESTS)

    result = pytester.runpytest("-rfEX", "-p", "no:asyncio")

    result.assert_outcomes(passed=1, failed=1, errors=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*missing system tool no-such-mail-server (Debian package*"])
    assert "skipped for missing system tools" not in result.stdout.str()


def test_daemons_are_found_in_sbin_even_off_the_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    # ldconfig lives in /sbin (usr-merged: /usr/sbin) on every Debian.
    assert find_tool("ldconfig") in ("/usr/sbin/ldconfig", "/sbin/ldconfig")
    assert require_tool("/bin/sh", "dash") == "/bin/sh"
