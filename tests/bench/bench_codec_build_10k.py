"""The pure CHIEF codec on 10,000 realistic licences: `build_licence_data`, which builds the
licenceData file, transliterates its ASCII attachment and self-checks both.

The licences are tests/bench/realistic.py's mix (every type and action, non-ASCII names and
addresses, long restrictions), already decoded, as the batching job hands them over. Every run
must give the same file, holding all 10,000 licences.
"""

from __future__ import annotations

from datetime import UTC, datetime

from licence_gateway.domain.chief import LicenceDataFile, build_licence_data
from tests.bench.kit import BenchRefused, Figure, measure
from tests.bench.realistic import realistic_licences

LICENCES = 10_000
FIGURE = Figure(
    "codec_build_10k",
    "s",
    "<=",
    0.12,
    "CHIEF codec: build + transliterate + self-check one file of 10,000 realistic licences",
)


def main() -> None:
    licences = realistic_licences(LICENCES)
    first = build_licence_data(licences, run_number=1, created_at=datetime(2024, 1, 2, tzinfo=UTC))

    def check(built: LicenceDataFile) -> None:
        if len(built.references) != LICENCES or built.text != first.text:
            raise BenchRefused("the codec did not build the same complete file every run")

    measure(
        FIGURE,
        lambda: build_licence_data(
            licences, run_number=1, created_at=datetime(2024, 1, 2, tzinfo=UTC)
        ),
        runs=9,
        check=check,
        detail={
            "file_chars": len(first.text),
            "non_ascii_chars": sum(not c.isascii() for c in first.text),
        },
    )


if __name__ == "__main__":
    main()
