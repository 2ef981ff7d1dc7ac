"""Schemathesis against the served OpenAPI document, in-process: no 5xx, no schema violations."""

# ruff: noqa: F811 (pytest fixtures are imported from tests.test_api_support)

from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from models import lifecycle
from tests.test_api_support import api_app, api_config, auth, client, file_ticket  # noqa: F401

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
MAX_EXAMPLES = 12
ROLES = ("resident_1", "volunteer_1", "dispatcher_1", "supervisor_1")


@pytest.fixture
def api_schema(api_app, demo):
    """The document the app serves, with a few real tickets to act on."""
    ticket = file_ticket(demo.resident_1)
    lifecycle.dispatch(ticket.id, demo.dispatcher_1, to_pool=True)
    file_ticket(demo.resident_2, text="楼下垃圾没人清", category="sanitation")
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", api_app)


def _check_operation(operation, headers: list[dict], seen: Counter) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case):
        for who in headers:
            response = case.call_and_validate(headers=who, checks=CHECKS)
            seen[(operation.label, response.status_code // 100, response.status_code)] += 1

    run()


def test_every_operation_answers_within_its_schema(api_schema, auth, demo):
    # schemathesis' lazy pytest fixture does not run on pytest 9, so hypothesis drives it here;
    # each generated request is sent once per role.
    headers = [auth(demo[f"demo_{who}"]) for who in ROLES]
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 26
    seen = Counter()

    for operation in operations:
        if operation.path != "/api/v1/logout":  # it would end the sessions the rest relies on
            _check_operation(operation, headers, seen)

    unauthorised = {label for (label, _, status) in seen if status == 401}
    assert unauthorised <= {"POST /api/v1/login"}  # random codes; every token stayed valid
    succeeded = {label for (label, family, _) in seen if family == 2}
    for label in ("GET /api/v1/me", "GET /api/v1/tickets/mine", "GET /api/v1/pool",
                  "GET /api/v1/queue", "GET /api/v1/figures", "GET /api/v1/tasks"):  # fmt: skip
        assert label in succeeded, sorted(succeeded)


def test_the_document_lists_every_role_operation(client):
    document = client.get("/api/v1/openapi.json").get_json()

    paths = set(document["paths"])
    for path in ("/api/v1/login", "/api/v1/tickets", "/api/v1/pool", "/api/v1/queue",
                 "/api/v1/figures", "/api/v1/photos", "/api/v1/tickets/{ticket_id}/rate"):  # fmt: skip
        assert path in paths
    assert "dev:<openid>" in document["paths"]["/api/v1/login"]["post"]["description"]
    assert client.get("/api/v1/docs").status_code == 200
