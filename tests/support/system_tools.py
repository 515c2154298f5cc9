"""Tests that need a system program: skip naming the Debian package, or fail under CI."""

from __future__ import annotations

import os
import shutil

import pytest


def require_tool(executable: str, debian_package: str) -> str:
    """The program's path. Missing: skip with one line naming the package to install, or fail
    when REQUIRE_SYSTEM_TOOLS=1 (CI installs every tool, so a skip there hides a broken run)."""
    found = shutil.which(executable)
    if found:
        return found
    message = f"{executable} is missing: apt-get install {debian_package}"
    if os.environ.get("REQUIRE_SYSTEM_TOOLS") == "1":
        pytest.fail(message)
    pytest.skip(message)
