"""The batching job's process loads no client it does not use: its peak memory is a target."""

from __future__ import annotations

import subprocess
import sys


def loaded_after_importing(module: str, candidates: tuple[str, ...]) -> list[str]:
    """Which of `candidates` a fresh interpreter has loaded once it imported `module`."""
    script = f"import sys, {module}; print(*(m for m in {candidates!r} if m in sys.modules))"
    output = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    return output.split()


def test_batching_job_loads_neither_msal_nor_the_icms_client() -> None:
    candidates = ("msal", "requests", "licence_gateway.adapters.icms")
    assert loaded_after_importing("licence_gateway.jobs.batching", candidates) == []


def test_the_worker_loads_no_web_framework_nor_an_unused_jwt_stack() -> None:
    """FastAPI came in through the Hawk module the ICMS client shared with the API (split since);
    PyJWT and cryptography through redis 5.3's import of its Entra ID token support."""
    candidates = ("fastapi", "starlette", "jwt")
    assert loaded_after_importing("licence_gateway.jobs.worker", candidates) == []
