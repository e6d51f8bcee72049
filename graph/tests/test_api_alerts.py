"""The circular-dependency alert API: list, filters, acknowledge, resolve, 409s."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from prometheus_client import REGISTRY
from rest_framework.test import APIClient

from graph.models import CircularDependencyAlert
from graph.services.cycles import cycle_alerts_sync
from graph.tests.factories import CircularDependencyAlertFactory, ServiceDependencyFactory, ServiceFactory

pytestmark = pytest.mark.django_db

BASE = "/api/v1/circular-dependencies/"


def edge(source: str, target: str):
    return ServiceDependencyFactory(source=ServiceFactory(service_id=source), target=ServiceFactory(service_id=target))


@pytest.fixture
def alerts():
    now = timezone.now()
    return {
        "open": CircularDependencyAlertFactory(cycle_path=["checkout", "payment"], scc_size=2, last_seen_at=now),
        "acknowledged": CircularDependencyAlertFactory(
            cycle_path=["auth", "users", "sessions"], status="acknowledged", scc_size=5,
            acknowledged_by="alice", acknowledged_at=now, last_seen_at=now - timedelta(minutes=1),
        ),
        "resolved": CircularDependencyAlertFactory(
            cycle_path=["cart", "checkout-v2"], status="resolved", scc_size=2, resolved_at=now,
            last_seen_at=now - timedelta(minutes=2),
        ),
    }


def test_list_shows_alerts_newest_first_with_their_cycle(read_client, alerts):
    response = read_client.get(BASE)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert [a["id"] for a in body["results"]] == [alerts[s].pk for s in ("open", "acknowledged", "resolved")]
    first = body["results"][0]
    assert first["cycle_path"] == ["checkout", "payment"]
    assert first["cycle_display"] == "checkout → payment → checkout"
    assert (first["status"], first["scc_size"], first["cycle_length"]) == ("open", 2, 2)
    assert body["truncated_sccs"] == []


@pytest.mark.parametrize("status", ["open", "acknowledged", "resolved"])
def test_list_filters_by_status(read_client, alerts, status):
    body = read_client.get(BASE, {"status": status}).json()

    assert [a["id"] for a in body["results"]] == [alerts[status].pk]


def test_list_filters_by_a_service_on_the_cycle_without_prefix_matches(read_client, alerts):
    body = read_client.get(BASE, {"service": "checkout"}).json()

    # "checkout-v2" starts with "checkout" but is another service.
    assert [a["id"] for a in body["results"]] == [alerts["open"].pk]
    assert read_client.get(BASE, {"service": "nobody"}).json()["count"] == 0


def test_list_filters_by_component_size(read_client, alerts):
    body = read_client.get(BASE, {"scc_size_min": 3}).json()

    assert [a["id"] for a in body["results"]] == [alerts["acknowledged"].pk]


def test_an_unknown_status_is_a_422_naming_the_field(read_client, alerts):
    response = read_client.get(BASE, {"status": "closed"})

    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == "status"


def test_list_query_count_does_not_grow_with_the_page(read_client, django_assert_num_queries):
    for n in range(30):
        CircularDependencyAlertFactory(cycle_path=[f"a-{n}", f"b-{n}"])
    read_client.get(BASE)  # caches the key and records its use

    # COUNT, page of alerts.
    with django_assert_num_queries(2):
        response = read_client.get(BASE, {"page_size": 25})
    assert len(response.json()["results"]) == 25


def test_paths_answer_with_and_without_trailing_slash(read_client, alerts):
    pk = alerts["open"].pk

    assert read_client.get("/api/v1/circular-dependencies").status_code == 200
    assert read_client.get(f"{BASE}{pk}").json()["id"] == pk
    assert read_client.get(f"{BASE}{pk}/").json()["id"] == pk


def test_retrieve_unknown_alert_is_404_problem(read_client):
    for path in (f"{BASE}999999/", f"{BASE}not-a-number/"):
        response = read_client.get(path)
        assert response.status_code == 404
        assert response["Content-Type"] == "application/problem+json"


def test_acknowledge_records_who_when_and_notes(write_client, alerts):
    alert = alerts["open"]
    before = timezone.now()

    response = write_client.post(
        f"{BASE}{alert.pk}/acknowledge", {"acknowledged_by": "bob", "notes": "looking at it"}, format="json"
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["acknowledged_by"], body["acknowledgement_notes"]) == (
        "acknowledged", "bob", "looking at it",
    )
    alert.refresh_from_db()
    assert alert.status == "acknowledged"
    assert alert.acknowledged_at >= before
    # The alert gauge follows operator transitions, not only detection runs.
    assert REGISTRY.get_sample_value("slo_engine_open_alerts", {"status": "open"}) == 0
    assert REGISTRY.get_sample_value("slo_engine_open_alerts", {"status": "acknowledged"}) == 2


def test_acknowledge_without_a_name_records_the_api_key(write_client, alerts):
    response = write_client.post(f"{BASE}{alerts['open'].pk}/acknowledge/", {}, format="json")

    assert response.status_code == 200
    assert response.json()["acknowledged_by"] == "api-key:test-write"


def test_a_staff_session_acknowledges_as_the_user(alerts):
    client = APIClient()
    client.force_login(get_user_model().objects.create_user("carol", password="pw-12345678", is_staff=True))

    response = client.post(f"{BASE}{alerts['open'].pk}/acknowledge", {"notes": ""}, format="json")

    assert response.status_code == 200
    assert response.json()["acknowledged_by"] == "carol"


def test_resolve_records_who_when_and_notes(write_client, alerts):
    alert = alerts["acknowledged"]

    response = write_client.post(
        f"{BASE}{alert.pk}/resolve", {"resolution_notes": "sessions now reads users from a cache"}, format="json"
    )

    assert response.status_code == 200
    alert.refresh_from_db()
    assert (alert.status, alert.resolved_by, alert.resolution_notes) == (
        "resolved", "api-key:test-write", "sessions now reads users from a cache",
    )
    assert alert.resolved_at is not None
    assert alert.acknowledged_by == "alice"  # the acknowledgement stays as history


@pytest.mark.parametrize(
    ("state", "operation"),
    [("acknowledged", "acknowledge"), ("resolved", "acknowledge"), ("resolved", "resolve")],
)
def test_illegal_transitions_are_409_and_change_nothing(write_client, alerts, state, operation):
    alert = alerts[state]
    before = CircularDependencyAlert.objects.filter(pk=alert.pk).values().get()

    body = {"notes": "x"} if operation == "acknowledge" else {"resolution_notes": "x"}
    response = write_client.post(f"{BASE}{alert.pk}/{operation}", body, format="json")

    assert response.status_code == 409
    assert response["Content-Type"] == "application/problem+json"
    assert state in response.json()["detail"]
    assert CircularDependencyAlert.objects.filter(pk=alert.pk).values().get() == before


def test_bad_body_is_422_naming_the_field(write_client, alerts):
    alert = alerts["open"]

    response = write_client.post(f"{BASE}{alert.pk}/acknowledge", {"acknowledged_by": "x" * 151}, format="json")

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "acknowledged_by"
    alert.refresh_from_db()
    assert alert.status == "open"


def test_malformed_json_is_400(write_client, alerts):
    response = write_client.post(
        f"{BASE}{alerts['open'].pk}/resolve", data="{not json", content_type="application/json"
    )

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"


def test_writes_need_a_write_key_and_reads_need_a_key(read_client, anon_client, alerts):
    alert = alerts["open"]

    assert read_client.post(f"{BASE}{alert.pk}/acknowledge", {}, format="json").status_code == 403
    assert anon_client.get(BASE).status_code == 401
    alert.refresh_from_db()
    assert alert.status == "open"


def test_the_list_says_when_a_component_had_more_cycles_than_listed(read_client, settings):
    settings.CYCLE_MAX_PER_SCC = 2
    for source, target in [("a", "b"), ("b", "a"), ("b", "c"), ("c", "b"), ("a", "c"), ("c", "a")]:
        edge(source, target)
    cycle_alerts_sync()

    body = read_client.get(BASE).json()

    assert body["count"] == 2
    assert body["truncated_sccs"] == [{"size": 3, "listed": 2, "services": ["a", "b", "c"]}]
