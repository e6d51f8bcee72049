import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from graph.models import Service
from slos.models import AppendOnlyError, ServiceLevelObjective, SloChange
from slos.selectors import slo_targets_active
from slos.tests.factories import SloChangeFactory, SloFactory, SloStatusFactory

pytestmark = pytest.mark.django_db


def test_one_active_slo_per_service_and_metric():
    slo = SloFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        SloFactory(service=slo.service, version=2)
    # A retired one and another metric are fine.
    SloFactory(service=slo.service, version=2, state="retired", retired_at=timezone.now())
    SloFactory(service=slo.service, sli_type="latency", metric="latency_p99", threshold_ms=300, target=0.99)
    assert ServiceLevelObjective.objects.filter(service=slo.service, state="active").count() == 2


def test_version_is_unique_per_service_and_metric():
    slo = SloFactory(state="retired", retired_at=timezone.now())
    with pytest.raises(IntegrityError), transaction.atomic():
        SloFactory(service=slo.service, version=1)


@pytest.mark.parametrize("fields", [
    {"target": 1.5},
    {"target": 0.0},
    {"sli_type": "throughput"},
    {"origin": "made-up"},
    {"state": "paused"},
    {"sli_type": "latency", "metric": "latency_p99", "threshold_ms": None},
    {"threshold_ms": 200.0},
    {"state": "retired"},
    {"window_days": 0},
])
def test_database_rejects_bad_rows(fields):
    with pytest.raises(IntegrityError), transaction.atomic():
        SloFactory(**fields)


def test_only_a_reject_may_name_no_slo():
    slo = SloFactory()
    SloChange.objects.create(service=slo.service, action="reject", actor="ann")
    with pytest.raises(IntegrityError), transaction.atomic():
        SloChange.objects.create(service=slo.service, action="accept", actor="ann")


def test_changes_are_append_only_in_the_application():
    change = SloChangeFactory()
    change.rationale = "rewritten"
    with pytest.raises(AppendOnlyError):
        change.save()
    with pytest.raises(AppendOnlyError):
        change.delete()
    with pytest.raises(AppendOnlyError):
        SloChange.objects.filter(pk=change.pk).update(rationale="rewritten")
    with pytest.raises(AppendOnlyError):
        SloChange.objects.filter(pk=change.pk).delete()
    change.refresh_from_db()
    assert change.rationale == ""


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger is PostgreSQL's")
def test_changes_are_append_only_in_the_database():
    change = SloChangeFactory(rationale="as decided")
    for sql in ("UPDATE slos_slochange SET rationale = 'rewritten' WHERE id = %s",
                "DELETE FROM slos_slochange WHERE id = %s"):
        with pytest.raises(IntegrityError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [change.pk])
    change.refresh_from_db()
    assert change.rationale == "as decided"


def test_deleting_the_service_takes_its_slos_and_trail():
    change = SloChangeFactory()
    SloStatusFactory(slo=change.slo)
    kept = SloChangeFactory()
    Service.objects.filter(pk=change.service.pk).delete()
    assert not ServiceLevelObjective.objects.filter(pk=change.slo_id).exists()
    assert list(SloChange.objects.values_list("pk", flat=True)) == [kept.pk]


def test_slo_targets_active_maps_service_ids_to_availability_targets():
    first = SloFactory(target=0.999)
    second = SloFactory(target=0.99)
    SloFactory(service=second.service, sli_type="latency", metric="latency_p99", threshold_ms=300, target=0.95)
    SloFactory(service=first.service, version=0 + 2, state="retired", retired_at=timezone.now(), target=0.9)
    SloFactory(state="retired", retired_at=timezone.now())
    assert slo_targets_active() == {first.service.service_id: 0.999, second.service.service_id: 0.99}
    assert slo_targets_active(service_ids=[second.service.service_id, "unknown"]) == {
        second.service.service_id: 0.99}
    assert slo_targets_active(service_ids=[]) == {}
