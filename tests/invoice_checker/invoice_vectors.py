"""The invoice_vectors.json golden vectors (copied from the team folder), loaded once."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

VECTORS_PATH = Path(__file__).parent / "fixtures" / "invoice" / "invoice_vectors.json"


@cache
def invoice_vectors() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(VECTORS_PATH.read_text())
    return loaded
