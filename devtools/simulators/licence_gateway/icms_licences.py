"""Realistic licence instructions as ICMS sends them, generated deterministically from a seed.

All five types (OIL, DFL, SIL, SAN, NUCLEAR) and three actions. Inserts come first for each
licence; some are later replaced (new id, reference with a `/1` variation suffix) or cancelled
(new id, same reference). Every body passes the gateway's validation (reference §2.4) and builds
a valid CHIEF file (§3.6: UK postcodes, no backslashes or line breaks in goods descriptions).
Quantities are floats, as ICMS's pydantic models send them.
"""

from __future__ import annotations

import random
import uuid
from datetime import date, timedelta
from typing import Any

LICENCE_TYPES = ("OIL", "DFL", "SIL", "SAN", "NUCLEAR")
CHIEF_TYPE = {"OIL": "OIL", "DFL": "SIL", "SIL": "SIL", "SAN": "SAN", "NUCLEAR": "SIL"}
UK_POSTCODES = ("S227ZZ", "S118ZZ", "SW1A1AA", "EC1A1BB", "M11AE", "B338TH", "CR26XH", "DN551PT")
COUNTRIES = ("US", "RU", "CN", "IN", "BR", "ZA", "JP", "CA")
TOWNS = ("Sheffield", "London", "Manchester", "Birmingham", "Croydon", "Doncaster")
COMPANY_WORDS = ("Northern", "Albion", "Sterling", "Pennine", "Thames", "Granite", "Harbour")
NUCLEAR_UNITS = (21, 23, 26, 74, 76, 116)
FIREARMS = (
    "Firearms, component parts thereof, or ammunition of any applicable commodity code, other"
    " than those falling under Section 5 of the Firearms Act 1968 as amended."
)


class LicenceFactory:
    """The same seed always yields the same sequence of licence bodies."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)  # nosec B311 # deterministic test data
        self._serial = 0
        self._live: list[dict[str, Any]] = []  # inserted or replaced, not cancelled

    def take(self, count: int) -> list[dict[str, Any]]:
        return [self.next_licence() for _ in range(count)]

    def next_licence(self) -> dict[str, Any]:
        """An insert, or now and then a replace or cancel of an earlier licence."""
        roll = self._random.random()
        if self._live and roll < 0.12:
            return self._cancel(self._live.pop(self._random.randrange(len(self._live))))
        if self._live and roll < 0.30:
            return self._replace(self._live.pop(self._random.randrange(len(self._live))))
        licence_type = LICENCE_TYPES[self._serial % len(LICENCE_TYPES)]
        return self._insert(licence_type)

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self._random.getrandbits(128), version=4))

    def _insert(self, licence_type: str) -> dict[str, Any]:
        self._serial += 1
        start = date(2026, 1, 5) + timedelta(days=self._random.randrange(300))
        letter = chr(ord("A") + self._random.randrange(26))
        licence = {
            "type": licence_type,
            "action": "insert",
            "id": self._uuid(),
            "reference": f"IMA/2026/{self._serial:05d}",
            "licence_reference": f"GB{CHIEF_TYPE[licence_type]}{self._serial:07d}{letter}",
            "start_date": start.isoformat(),
            "end_date": (start + timedelta(days=365 * (1 + self._random.randrange(3)))).isoformat(),
            "organisation": self._organisation(),
            "restrictions": self._restrictions(licence_type),
            "goods": self._goods(licence_type),
        }
        if licence_type == "OIL":
            licence["country_group"] = "G001"
        else:
            licence["country_code"] = self._random.choice(COUNTRIES)
        self._live.append(licence)
        return licence

    def _replace(self, previous: dict[str, Any]) -> dict[str, Any]:
        base_reference = previous["reference"].split("/")[:3]
        variation = (
            int(previous["reference"].split("/")[3]) + 1 if previous["action"] != "insert" else 1
        )
        licence = {
            **previous,
            "action": "replace",
            "id": self._uuid(),
            "reference": "/".join([*base_reference, str(variation)]),
            "organisation": {**previous["organisation"], "name": self._company_name()},
        }
        self._live.append(licence)
        return licence

    def _cancel(self, previous: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": previous["type"],
            "action": "cancel",
            "id": self._uuid(),
            "reference": previous["reference"],
            "licence_reference": previous["licence_reference"],
            "start_date": previous["start_date"],
            "end_date": previous["end_date"],
        }

    def _company_name(self) -> str:
        return f"{self._random.choice(COMPANY_WORDS)} {self._random.choice(COMPANY_WORDS)} Ltd"

    def _organisation(self) -> dict[str, Any]:
        digits = "".join(str(self._random.randrange(10)) for _ in range(12))
        eori = f"GB{digits}" if self._random.random() < 0.5 else f"GB{digits}000"
        return {
            "eori_number": eori,
            "name": self._company_name(),
            "address": {
                "line_1": f"{self._random.randrange(1, 200)} Station Road",
                "line_2": self._random.choice(TOWNS),
                "line_3": "",
                "line_4": "",
                "line_5": "",
                "postcode": self._random.choice(UK_POSTCODES),
            },
        }

    def _restrictions(self, licence_type: str) -> str:
        if licence_type == "NUCLEAR" or self._random.random() < 0.3:
            return ""
        return "Goods to be stored securely.\nNot for onward export."

    def _goods(self, licence_type: str) -> list[dict[str, Any]]:
        count = 1 + self._random.randrange(3)
        if licence_type == "OIL":
            return [{"description": FIREARMS}]
        if licence_type == "DFL":
            return [{"description": f"Deactivated rifle, serial DF{self._random.randrange(10**6)}"}]
        if licence_type == "SIL":
            goods: list[dict[str, Any]] = [
                {
                    "description": f"Section 5 firearm, model {self._random.randrange(100, 999)}",
                    "controlled_by": "Q",
                    "quantity": float(1 + self._random.randrange(20)),
                    "unit": 30,
                }
                for _ in range(count)
            ]
            return [*goods, {"description": "Unlimited ammunition", "controlled_by": "O"}]
        if licence_type == "SAN":
            return [
                {
                    "commodity": f"72149{self._random.randrange(10**5):05d}",
                    "controlled_by": "Q",
                    "quantity": float(100 + self._random.randrange(50_000)),
                    "unit": 23,
                }
                for _ in range(count)
            ]
        return [
            {
                "commodity": f"28443{self._random.randrange(10**5):05d}",
                "description": f"Nuclear material, batch {self._random.randrange(10**4)}",
                "controlled_by": "Q",
                "quantity": float(1 + self._random.randrange(90_000)),
                "unit": self._random.choice(NUCLEAR_UNITS),
            }
            for _ in range(count)
        ]
