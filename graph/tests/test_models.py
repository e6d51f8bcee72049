"""The database itself rejects bad rows: each must fail with IntegrityError."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from graph.models import CircularDependencyAlert, Service, ServiceDependency
from graph.tests.factories import ServiceDependencyFactory, ServiceFactory

pytestmark = pytest.mark.django_db


def _insert_edge(**overrides):
    source = ServiceFactory(service_id="checkout")
    target = ServiceFactory(service_id="payment")
    fields = {
        "source": source, "target": target, "discovery_source": "manual", "communication_mode": "sync",
        "criticality": "hard", "confidence_score": 1.0, "last_observed_at": timezone.now(),
    }
    fields.update(overrides)
    # QuerySet.bulk_create skips model validation: the check is the database's.
    ServiceDependency.objects.bulk_create([ServiceDependency(**fields)])


def test_self_loop_is_rejected_by_the_database():
    service = ServiceFactory(service_id="loop")
    with pytest.raises(IntegrityError), transaction.atomic():
        _insert_edge(source=service, target=service)


@pytest.mark.parametrize("confidence", [-0.01, 1.01])
def test_out_of_range_confidence_is_rejected(confidence):
    with pytest.raises(IntegrityError), transaction.atomic():
        _insert_edge(confidence_score=confidence)


@pytest.mark.parametrize(
    "field,value",
    [("communication_mode", "batch"), ("criticality", "critical"), ("discovery_source", "rumour")],
)
def test_unknown_edge_enum_is_rejected(field, value):
    with pytest.raises(IntegrityError), transaction.atomic():
        _insert_edge(**{field: value})


def test_non_positive_timeout_is_rejected():
    with pytest.raises(IntegrityError), transaction.atomic():
        _insert_edge(timeout_ms=0)


def test_unknown_service_criticality_is_rejected():
    with pytest.raises(IntegrityError), transaction.atomic():
        Service.objects.bulk_create([Service(service_id="x", criticality="urgent")])


def test_reserved_service_id_is_rejected():
    with pytest.raises(IntegrityError), transaction.atomic():
        Service.objects.bulk_create([Service(service_id="dependencies")])


def test_duplicate_edge_per_source_is_rejected_but_other_sources_are_kept():
    edge = ServiceDependencyFactory(discovery_source="manual")
    ServiceDependencyFactory(source=edge.source, target=edge.target, discovery_source="otel_service_graph")
    with pytest.raises(IntegrityError), transaction.atomic():
        ServiceDependencyFactory(source=edge.source, target=edge.target, discovery_source="manual")
    assert ServiceDependency.objects.filter(source=edge.source, target=edge.target).count() == 2


def test_duplicate_cycle_path_is_rejected():
    now = timezone.now()
    CircularDependencyAlert.objects.create(cycle_path=["a", "b", "c"], detected_at=now, last_seen_at=now)
    with pytest.raises(IntegrityError), transaction.atomic():
        CircularDependencyAlert.objects.create(cycle_path=["a", "b", "c"], detected_at=now, last_seen_at=now)


def test_unknown_alert_status_is_rejected():
    now = timezone.now()
    with pytest.raises(IntegrityError), transaction.atomic():
        CircularDependencyAlert.objects.bulk_create(
            [CircularDependencyAlert(cycle_path=["a", "b"], status="ignored", detected_at=now, last_seen_at=now)]
        )


def test_traversal_indexes_exist_in_both_directions():
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, ServiceDependency._meta.db_table)
    columns = {name: info["columns"] for name, info in constraints.items() if info["index"]}
    assert columns["dependency_fwd_live_idx"] == ["source_id", "target_id"]
    assert columns["dependency_rev_live_idx"] == ["target_id", "source_id"]


def test_cycle_display_closes_the_loop():
    alert = CircularDependencyAlert(cycle_path=["a", "b", "c"])
    assert alert.cycle_display == "a → b → c → a"
