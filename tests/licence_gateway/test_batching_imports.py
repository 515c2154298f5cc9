"""The batching job's process loads no client it does not use: its peak memory is a target."""

from __future__ import annotations

import subprocess
import sys


def test_batching_job_loads_neither_msal_nor_the_icms_client() -> None:
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, licence_gateway.jobs.batching;"
            "print(sorted(m for m in ('msal', 'requests', 'licence_gateway.adapters.icms')"
            " if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert loaded == "[]"


def test_the_worker_loads_no_web_framework_nor_an_unused_jwt_stack() -> None:
    """FastAPI came in through the Hawk module the ICMS client shares with the API (split since);
    PyJWT and cryptography through redis 5.3's import of its Entra ID token support."""
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, licence_gateway.jobs.worker;"
            "print(sorted(m for m in ('fastapi', 'starlette', 'jwt') if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert loaded == "[]"
