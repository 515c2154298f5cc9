"""OpenAPI description of the ICMS-facing routes.

These models only document the wire shapes: the body is checked for Hawk on its raw bytes first,
then parsed by hand and validated by `domain.licence_validation`, whose messages are the contract.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Address(BaseModel):
    line_1: str = Field(max_length=35)
    line_2: str | None = Field(default=None, max_length=35)
    line_3: str | None = Field(default=None, max_length=35)
    line_4: str | None = Field(default=None, max_length=35)
    line_5: str | None = Field(default=None, max_length=35)
    postcode: str | None = Field(default=None, max_length=8, description="A UK postcode")


class Organisation(BaseModel):
    eori_number: str = Field(description="GB + 12 or 15 characters")
    name: str = Field(max_length=80)
    address: Address
    start_date: str | None = Field(default=None, description="YYYY-MM-DD")
    end_date: str | None = Field(default=None, description="YYYY-MM-DD")


class Goods(BaseModel):
    """One goods line; which keys are needed depends on the licence type."""

    description: str | None = Field(
        default=None, max_length=2000, description="OIL, DFL, SIL, NUCLEAR"
    )
    commodity: str | None = Field(default=None, max_length=11, description="SAN, NUCLEAR")
    controlled_by: Literal["B", "O", "Q", "V"] | None = Field(
        default=None, description="SIL, SAN, NUCLEAR"
    )
    quantity: float | str | None = Field(
        default=None,
        description="At most 14 digits, 3 decimals. Printed as sent: 1.0 stays 1.0, 1 stays 1",
    )
    unit: int | str | None = Field(
        default=None, description="HMRC quantity code: 21, 23, 26, 30, 31, 45, 74, 76, 87, 116"
    )


class Licence(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: Literal["OIL", "DFL", "SIL", "SAN", "NUCLEAR"]
    action: Literal["insert", "replace", "cancel"]
    id: str = Field(description="ICMS's UUID of this licence instruction")
    reference: str = Field(max_length=17, description="Case reference, e.g. IMA/2022/00001/1")
    licence_reference: str = Field(max_length=35)
    start_date: str = Field(description="YYYY-MM-DD")
    end_date: str = Field(description="YYYY-MM-DD, not before start_date")
    organisation: Organisation | None = Field(default=None, description="insert / replace")
    restrictions: str | None = Field(
        default=None, max_length=2000, description="insert / replace; may be blank"
    )
    country_code: str | None = Field(default=None, max_length=2)
    country_group: str | None = Field(default=None, max_length=4)
    goods: list[Goods] | None = None


class LicenceEnvelope(BaseModel):
    """The request body, and the 201 answer (the licence exactly as received)."""

    licence: Licence


class ValidationErrors(BaseModel):
    errors: list[dict[str, Any]] = Field(
        description='[{"licence": {field: [message, ...]}}], nested for nested fields'
    )


class Detail(BaseModel):
    detail: str


_ORGANISATION = {
    "eori_number": "GB123456789012",
    "name": "Organisation Ltd",
    "address": {"line_1": "1 High Street", "line_2": "Sheffield", "postcode": "S22 7ZZ"},
}
_COMMON = {
    "id": "00000000-0000-4000-8000-000000000001",
    "reference": "IMA/2022/00001",
    "licence_reference": "GBOIL2222222C",
    "start_date": "2022-06-06",
    "end_date": "2025-05-30",
}


def _insert(type_: str, **fields: Any) -> dict[str, Any]:
    return {
        "licence": {
            "type": type_,
            "action": "insert",
            **_COMMON,
            "organisation": _ORGANISATION,
            "restrictions": "Some restrictions.\n\nSome more restrictions",
            **fields,
        }
    }


LICENCE_EXAMPLES: dict[str, dict[str, Any]] = {
    "oil": {
        "summary": "OIL insert",
        "value": _insert("OIL", country_group="G001", goods=[{"description": "Firearms"}]),
    },
    "dfl": {
        "summary": "DFL insert",
        "value": _insert("DFL", country_code="AL", goods=[{"description": "Deactivated rifle"}]),
    },
    "sil": {
        "summary": "SIL insert",
        "value": _insert(
            "SIL",
            country_code="US",
            goods=[
                {"description": "Rifles", "controlled_by": "Q", "quantity": 5.0, "unit": 30},
                {"description": "Ammunition", "controlled_by": "O"},
            ],
        ),
    },
    "san": {
        "summary": "SAN insert",
        "value": _insert(
            "SAN",
            country_code="RU",
            goods=[
                {"commodity": "7214993100", "controlled_by": "Q", "quantity": 26710, "unit": 23}
            ],
        ),
    },
    "nuclear": {
        "summary": "NUCLEAR insert",
        "value": _insert(
            "NUCLEAR",
            country_code="RU",
            restrictions="",
            goods=[
                {
                    "commodity": "2612101000",
                    "description": "Uranium ores",
                    "controlled_by": "Q",
                    "quantity": 12345.0,
                    "unit": 21,
                }
            ],
        ),
    },
    "cancel": {
        "summary": "Cancel (any type)",
        "value": {"licence": {"type": "SIL", "action": "cancel", **_COMMON}},
    },
}
