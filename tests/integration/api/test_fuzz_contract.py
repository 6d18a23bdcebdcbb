"""The fuzz gate: schemathesis sends generated requests to every documented operation of the served API.

With a valid bearer token, a fixed number of cases per operation and derandomized generation (the same
requests every run, a few hundred in all), every answer must be no 500, a documented status, a documented
content type and headers, and a body that validates against the documented schema. Valid and invalid
requests both; on SQLite and on PostgreSQL, which refuses what SQLite stores (NUL characters in text).

Schemathesis's `negative_data_rejection` check is left out: it counts an unknown query parameter as
schema-violating, and the API ignores unknown parameters, as HTTP APIs commonly do.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.integration.api.conftest import ServedApi

#: Cases per operation, kind and database: 18 operations, a few hundred requests in all, under a minute.
POSITIVE_CASES = 8
NEGATIVE_CASES = 5
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def served(request: pytest.FixtureRequest) -> ServedApi:
    """The app served on SQLite, then on PostgreSQL."""
    fixture = "served_api" if request.param == "sqlite" else "served_api_on_postgres"
    return request.getfixturevalue(fixture)  # type: ignore[no-any-return]


def _failures(operation: Any, mode: GenerationMode, cases: int, bearer: dict[str, str]) -> list[str]:
    """Run `cases` generated requests of one kind against one operation; what went wrong, if anything."""
    problems: list[str] = []

    @settings(
        max_examples=cases,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def fuzz(case: Any) -> None:
        case.call_and_validate(headers=bearer, checks=CHECKS)

    try:
        fuzz()
    # Schemathesis reports failures as a BaseExceptionGroup; every operation runs and the report lists them all.
    except (Exception, BaseExceptionGroup) as exc:
        problems.append(f"{operation.label} ({mode.value}): {exc}")
    return problems


class TestFuzzGate:
    def test_every_operation_answers_as_documented(self, served: ServedApi) -> None:
        """Valid and invalid generated requests with a valid token get no 500, and only documented statuses,
        content types, headers and bodies."""
        api_schema = schemathesis.openapi.from_url(f"{served.url}/openapi.json")
        operations = [result.ok() for result in api_schema.get_all_operations()]
        assert len(operations) >= 18
        failures = [
            failure
            for operation in operations
            for mode, cases in ((GenerationMode.POSITIVE, POSITIVE_CASES), (GenerationMode.NEGATIVE, NEGATIVE_CASES))
            for failure in _failures(operation, mode, cases, served.bearer)
        ]
        assert not failures, "\n\n".join(failures)
