"""Fuzzing: schemathesis generates requests for every operation of the live
OpenAPI schema (`/api/schema/`) and sends them, with a write key, to the WSGI
application; no response may be a 5xx or break the documented schema (status
code, content type, body).

Bounded for CI: FUZZ_MAX_EXAMPLES examples per operation (default 25), and
deterministic (the same examples each run, so a red build is reproducible);
FUZZ_RANDOM=1 explores new examples on each run instead.
"""

import itertools
import os

import pytest
import schemathesis
from django.core.cache import cache
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from graph.models import RESERVED_SERVICE_IDS
from graph.tests.factories import CircularDependencyAlertFactory, ServiceDependencyFactory, ServiceFactory

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "25"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def fuzz_world(db) -> dict:
    """A small graph, so generated requests also reach existing objects."""
    services = [ServiceFactory(service_id=sid) for sid in ("checkout", "payment", "ledger", "search")]
    edges = [
        ServiceDependencyFactory(source=services[0], target=services[1]),
        ServiceDependencyFactory(source=services[1], target=services[2]),
        ServiceDependencyFactory(source=services[2], target=services[0], discovery_source="otel_service_graph",
                                 confidence_score=0.6),
    ]
    alert = CircularDependencyAlertFactory(cycle_path=["checkout", "payment", "ledger"], scc_size=3)
    return {"service_ids": [s.service_id for s in services], "ids": [e.pk for e in edges] + [alert.pk]}


@pytest.fixture(autouse=True)
def _keep_test_transaction():
    """Like Django's test client: the test's transaction must survive each
    request, so the per-request connection recycling is switched off."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _load_schema():
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    from slo_engine.wsgi import application

    # Generating the schema needs no database; keep the request from touching it.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        return schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


schema = _load_schema()
_turn = itertools.count()


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
          derandomize=os.environ.get("FUZZ_RANDOM") != "1",
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
def test_api_honours_its_schema_and_never_fails(case, fuzz_world, write_key):
    # Every other example aims at an object that exists, so the fuzzing also
    # covers the found paths, not just the 404s of random identifiers.
    turn = next(_turn)
    # `services/dependencies` is the ingest URL (POST only): a reserved word is
    # not a service_id, and other methods there are a correct 405.
    reserved = (case.path_parameters or {}).get("service_id") in RESERVED_SERVICE_IDS
    if case.path_parameters and (turn % 2 == 0 or reserved):
        if "service_id" in case.path_parameters:
            case.path_parameters["service_id"] = fuzz_world["service_ids"][turn % len(fuzz_world["service_ids"])]
        if "id" in case.path_parameters:
            case.path_parameters["id"] = fuzz_world["ids"][turn % len(fuzz_world["ids"])]
    # Throttling would turn later examples into 429s; it has its own tests.
    cache.clear()
    headers = {"Authorization": f"Api-Key {write_key}"}
    response = case.call(headers=headers)
    checks = CHECKS
    media_type = (response.headers.get("content-type") or [""])[0].split(";")[0]
    if media_type and not media_type.endswith("json"):
        # A text document (the YAML exports) is documented as a string;
        # schemathesis would parse it and compare the parsed object instead.
        # Its status and media type are still checked; its content has the
        # exporters' own tests.
        checks = [check for check in CHECKS if check is not response_schema_conformance]
    case.validate_response(response, checks=checks, headers=headers)


@pytest.mark.django_db
@pytest.mark.parametrize("body", [
    {"nodes": [{"service_id": "nul-value", "metadata": {"owner": "a\u0000b"}}], "edges": []},
    {"nodes": [{"service_id": "nul-key", "metadata": {"a\u0000": [1, {"b": 2}]}}], "edges": []},
    {"edges": [{"source": "nul-a", "target": "nul-b", "attributes": {"retry_config": {"on": ["x\u0000"]}}}]},
])
def test_null_characters_in_json_fields_are_rejected_not_a_server_error(write_client, body):
    """Found by the fuzzer: PostgreSQL cannot store U+0000 in jsonb, so it
    must be a 422 naming the field, and nothing is written."""
    from graph.models import Service

    response = write_client.post("/api/v1/services/dependencies", body, format="json")
    assert response.status_code == 422, response.content
    fields = [error["field"] for error in response.json()["errors"]]
    assert any(field.endswith(("metadata", "retry_config")) for field in fields), fields
    assert not Service.objects.filter(service_id__startswith="nul-").exists()
