"""The flex golden vectors (copied from the team folder), flattened into one case per call."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

VECTORS = Path(__file__).parent / "fixtures" / "flex" / "flex_saldo_scenarios.json"
PERSON = "Alice Admin"


@dataclass(frozen=True)
class FlexCase:
    name: str
    inputs: dict[str, Any]  # a scenario's inputs plus today and the call's arguments
    only_active: bool
    expected: dict[str, Any]

    @property
    def is_error(self) -> bool:
        return "exception" in self.expected


def flex_cases() -> list[Any]:
    scenarios = json.loads(VECTORS.read_text())["scenarios"]
    cases = []
    for scenario in scenarios:
        for result in scenario["results"]:
            call = dict(result["call"])
            only_active = bool(call.pop("only_active", False))
            inputs = {**scenario["inputs"], "today": scenario["today"], **call}
            label = "-".join([scenario["name"], *(f"{k}={v}" for k, v in result["call"].items())])
            case = FlexCase(scenario["name"], inputs, only_active, result["expected"])
            cases.append(pytest.param(case, id=label))
    return cases
