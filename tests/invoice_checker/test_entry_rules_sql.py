"""The counted-entry and incorrect-entry rules are written once in domain.stats and turned into SQL
there; this property test runs the Python and the generated SQL on the same rows in PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from invoice_checker.domain.entry_status import EntryStatus
from invoice_checker.domain.stats import (
    INCORRECT_KINDS,
    any_incorrect_sql,
    counted_sql,
    incorrect_kinds,
    incorrect_sql,
    is_counted,
)

FLAGS = (
    "calculated_is_billable",
    "calculated_has_proper_price",
    "calculated_has_phase",
    "calculated_is_approved",
    "calculated_has_notes",
    "calculated_has_category",
)


@dataclass(frozen=True)
class Row:
    status: str
    incurred_hours: float
    calculated_is_billable: bool
    calculated_has_proper_price: bool
    calculated_has_phase: bool
    calculated_is_approved: bool
    calculated_has_notes: bool
    calculated_has_category: bool


rows = st.builds(
    Row,
    status=st.sampled_from([*EntryStatus, "Something else"]),
    incurred_hours=st.sampled_from([-1.5, -0.0, 0.0, 1e-9, 0.25, 8.0])
    | st.floats(-24, 24, allow_nan=False),
    **{flag: st.booleans() for flag in FLAGS},
)

# The row as hour_entries' own column types (status text, hours double precision, flags boolean).
_ROW = (
    "(SELECT CAST(:status AS text) AS status, CAST(:incurred_hours AS double precision)"
    " AS incurred_hours, "
    + ", ".join(f"CAST(:{flag} AS boolean) AS {flag}" for flag in FLAGS)
    + ") e"
)
_RULES = text(
    f"SELECT ({counted_sql('e')}) AS counted, "
    + ", ".join(f"({incorrect_sql(kind)}) AS {kind}" for kind in INCORRECT_KINDS)
    + f", {any_incorrect_sql(('non_phase_specific', 'no_category'))} AS phase_or_category"
    + f" FROM {_ROW}"
)  # nosec B608 # generated from constants


@settings(max_examples=150, deadline=None)
@given(row=rows)
async def test_sql_and_python_agree_on_counted_and_incorrect_entries(
    row: Row, engine: AsyncEngine
) -> None:
    async with engine.connect() as connection:
        found = (await connection.execute(_RULES, row.__dict__)).mappings().one()
    assert found["counted"] == is_counted(row.status, row.incurred_hours)
    kinds = incorrect_kinds(row)  # type: ignore[arg-type]
    assert [kind for kind in INCORRECT_KINDS if found[kind]] == kinds
    assert found["phase_or_category"] == bool({"non_phase_specific", "no_category"} & set(kinds))
