"""A small schemathesis run of both services in `make test`; `make reliability` runs the big one."""

import os

from tests.reliability.fuzz import run
from tests.support.infra import database_name_for_tests


async def test_generated_requests_get_no_5xx_and_stay_inside_the_schema() -> None:
    reports = await run(
        per_operation=4,
        database=f"{database_name_for_tests()}_fuzz",
        redis_db=int(os.environ.get("TEST_REDIS_DB", "15")),
    )
    for report in reports:
        assert report.cases >= 25, report.line()
        assert report.server_errors == 0, report.examples
        assert report.schema_violations == 0, report.examples
