"""bandit finds nothing in production code (asserts, string-built SQL, weak random, secrets)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bandit_reports_no_findings() -> None:
    bandit = Path(sys.executable).with_name("bandit")
    run = subprocess.run(
        [str(bandit), "-q", "-r", "services", "shared", "-f", "json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = json.loads(run.stdout)
    findings = [
        f"{r['filename']}:{r['line_number']} {r['test_id']} {r['issue_text']}"
        for r in report["results"]
    ]
    assert findings == []
    assert report["errors"] == []
    assert report["metrics"]["_totals"]["loc"] > 10_000  # it really scanned the services
    assert run.returncode == 0
