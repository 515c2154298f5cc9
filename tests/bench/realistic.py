"""The realistic licence mix the gateway benches feed the shipping code, from the golden vectors.

Each golden input vector (tests/licence_gateway/fixtures/icms-hmrc/icms/licence_data_files: every
type, insert, replace and cancel) is a template; in turn the copies get non-ASCII trader names and
addresses, long multi-line restrictions and long goods descriptions with curly quotes and accents,
as ICMS really sends them. Every licence passes the gateway's ingest validation (checked here: a
mix ingest would refuse measures nothing), and the same count always gives the same licences.
"""

from __future__ import annotations

import copy
import json
import random
import uuid
from pathlib import Path
from typing import Any

from licence_gateway.domain.licence_validation import validate_licence

VECTORS = (
    Path(__file__).resolve().parents[1]
    / "licence_gateway"
    / "fixtures"
    / "icms-hmrc"
    / "icms"
    / "licence_data_files"
)
NAMES = (
    "Société Générale d’Armement Ltd",
    "Łódź Precision Instruments Sp. z o.o.",
    "Müller & Söhne Waffentechnik GmbH",
    "Øresund Marine Supplies A/S",
    "Ĳsselmeer Optics B.V.",
    "North Yorkshire Clay Pigeon Club",
    "Albion Sporting Arms Limited",
)
TOWNS = ("Zürich", "Škofja Loka", "Sheffield", "Malmö", "Leeds", "Ærøskøbing")
RESTRICTIONS = (
    "Provisos:\n1. The goods must not be re-exported without the prior written consent of the"
    " Secretary of State.\n2. “Safe custody” conditions apply — see schedule 3.\n3. Quantities"
    " are cumulative over the licence’s validity; no single shipment may exceed 40% of them.\n"
    "4. The licensee must keep records for 4 years and make them available on request.",
    "Licence valid for the named end-user only.",
    "",
)
DESCRIPTIONS = (
    "Rifle, bolt action, .308 Win calibre — serial numbers to follow on the “end-user” form",
    "Sporting shotgun 12 bore, over-and-under, with spare barrels and accessories",
    "Optical sights with range-finding reticle, for civilian use only (not night vision)",
)


def templates() -> list[dict[str, Any]]:
    """The `licence` objects of every golden vector, in file order."""
    return [
        request["licence"]
        for path in sorted(VECTORS.glob("*.json"))
        for request in json.loads(path.read_text())["requests"]
    ]


def realistic_licences(count: int, seed: int = 17) -> list[dict[str, Any]]:
    """`count` valid licences cycling through every template, text varied as described above."""
    rng = random.Random(seed)  # nosec B311 # deterministic bench data
    bases = templates()
    licences = []
    for index in range(count):
        licence = copy.deepcopy(bases[index % len(bases)])
        licence["id"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        licence["reference"] = f"IMA/2024/{index:05}"
        if licence["action"] != "cancel":
            _vary(licence, index, rng)
        licences.append(licence)
    invalid = [(n, errors) for n, lic in enumerate(licences) if (errors := validate_licence(lic))]
    if invalid:
        raise ValueError(f"the bench mix has licences ingest would refuse: {invalid[:3]}")
    return licences


def _vary(licence: dict[str, Any], index: int, rng: random.Random) -> None:
    organisation = licence["organisation"]
    organisation["name"] = NAMES[index % len(NAMES)]
    organisation["address"]["line_2"] = TOWNS[rng.randrange(len(TOWNS))]
    licence["restrictions"] = RESTRICTIONS[index % len(RESTRICTIONS)]
    for good in licence.get("goods") or ():
        if "description" in good:
            good["description"] = DESCRIPTIONS[rng.randrange(len(DESCRIPTIONS))]
