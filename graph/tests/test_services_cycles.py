"""The alert lifecycle driven by cycle detection, on the real database."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from prometheus_client import REGISTRY

from graph.models import AlertStatus, CircularDependencyAlert, GraphVersion, Service, ServiceDependency
from graph.services.alerts import alert_acknowledge
from graph.services.cycles import AUTO_RESOLVE_NOTE, cycle_alerts_sync, cycle_detection_summary
from graph.tests.factories import ServiceDependencyFactory, ServiceFactory

pytestmark = pytest.mark.django_db


def edge(source: str, target: str, **fields):
    return ServiceDependencyFactory(
        source=ServiceFactory(service_id=source), target=ServiceFactory(service_id=target), **fields
    )


def test_one_cycle_through_its_whole_life():
    t0 = timezone.now().replace(microsecond=0)
    edge("checkout", "payment")
    edge("payment", "fraud")
    closing = edge("fraud", "checkout")
    edge("frontend", "checkout")

    # 1. detected
    result = cycle_alerts_sync(now=t0)
    assert result.cycles == [["checkout", "payment", "fraud"]]
    assert (result.created, result.reopened, result.resolved) == (1, 0, 0)
    alert = CircularDependencyAlert.objects.get()
    assert alert.cycle_path == ["checkout", "payment", "fraud"]
    assert alert.cycle_display == "checkout → payment → fraud → checkout"
    assert (alert.status, alert.scc_size, alert.detected_at, alert.last_seen_at) == ("open", 3, t0, t0)
    assert (alert.reopen_count, alert.reopened_at, alert.resolved_at) == (0, None, None)

    # 2. acknowledged by an operator, still acknowledged while the cycle exists
    t1 = t0 + timedelta(minutes=5)
    alert_acknowledge(alert=alert, actor="alice", notes="payments team owns the fix")
    result = cycle_alerts_sync(now=t1)
    assert (result.created, result.reopened, result.resolved, result.refreshed) == (0, 0, 0, 1)
    alert.refresh_from_db()
    assert (alert.status, alert.acknowledged_by, alert.acknowledgement_notes) == (
        "acknowledged", "alice", "payments team owns the fix",
    )
    assert (alert.detected_at, alert.last_seen_at) == (t0, t1)

    # 3. the closing edge is removed: auto-resolved with a note
    t2 = t0 + timedelta(hours=1)
    closing.delete()
    result = cycle_alerts_sync(now=t2)
    assert result.cycles == []
    assert (result.created, result.reopened, result.resolved) == (0, 0, 1)
    alert.refresh_from_db()
    assert (alert.status, alert.resolved_at, alert.resolution_notes) == ("resolved", t2, AUTO_RESOLVE_NOTE)
    assert alert.resolved_by == "cycle-detection"
    assert alert.last_seen_at == t1
    assert alert.acknowledged_by == "alice"  # history kept while resolved

    # a resolved alert whose cycle stays gone is left alone
    assert cycle_alerts_sync(now=t2 + timedelta(minutes=1)).resolved == 0

    # 4. the edge is re-added: the same alert reopens, acknowledgement cleared
    t3 = t0 + timedelta(days=1)
    edge("fraud", "checkout", discovery_source="otel_service_graph", confidence_score=0.7)
    result = cycle_alerts_sync(now=t3)
    assert result.cycles == [["checkout", "payment", "fraud"]]
    assert (result.created, result.reopened, result.resolved) == (0, 1, 0)
    alert.refresh_from_db()
    assert CircularDependencyAlert.objects.count() == 1
    assert (alert.status, alert.reopened_at, alert.reopen_count, alert.last_seen_at) == ("open", t3, 1, t3)
    assert (alert.acknowledged_by, alert.acknowledged_at, alert.acknowledgement_notes) == ("", None, "")
    assert alert.detected_at == t0
    assert (alert.resolved_at, alert.resolution_notes) == (t2, AUTO_RESOLVE_NOTE)  # the last resolution

    # 5. and resolves again when it goes away again; reopening counts up
    ServiceDependency.objects.filter(
        source__service_id="fraud", target__service_id="checkout"
    ).update(is_stale=True)
    assert cycle_alerts_sync(now=t3 + timedelta(hours=1)).resolved == 1
    ServiceDependency.objects.update(is_stale=False)
    cycle_alerts_sync(now=t3 + timedelta(hours=2))
    alert.refresh_from_db()
    assert (alert.status, alert.reopen_count) == ("open", 2)


def test_running_detection_twice_creates_no_duplicates():
    edge("a", "b")
    edge("b", "a")
    edge("b", "a", discovery_source="kubernetes")
    edge("b", "c")
    edge("c", "a")

    first = cycle_alerts_sync()
    second = cycle_alerts_sync()

    assert first.cycles == second.cycles == [["a", "b"], ["a", "b", "c"]]
    assert (first.created, second.created, second.reopened, second.resolved) == (2, 0, 0, 0)
    assert second.refreshed == 2
    assert sorted(CircularDependencyAlert.objects.values_list("cycle_path", flat=True)) == [["a", "b"], ["a", "b", "c"]]
    assert set(CircularDependencyAlert.objects.values_list("scc_size", flat=True)) == {3}


def test_stale_edges_and_retired_services_do_not_form_cycles():
    edge("a", "b")
    edge("b", "a", is_stale=True)
    edge("x", "y")
    edge("y", "x")
    CircularDependencyAlert.objects.all().delete()
    Service.objects.filter(service_id="y").update(retired_at=timezone.now())

    result = cycle_alerts_sync()

    assert result.cycles == []
    assert not CircularDependencyAlert.objects.exists()


def test_a_manually_resolved_alert_reopens_when_detection_still_sees_the_cycle():
    edge("a", "b")
    edge("b", "a")
    cycle_alerts_sync()
    alert = CircularDependencyAlert.objects.get()
    CircularDependencyAlert.objects.filter(pk=alert.pk).update(status=AlertStatus.RESOLVED, resolved_by="bob")

    result = cycle_alerts_sync()

    alert.refresh_from_db()
    assert result.reopened == 1
    assert (alert.status, alert.reopen_count) == ("open", 1)


def test_capped_components_are_counted_and_remembered(settings):
    settings.CYCLE_MAX_PER_SCC = 3
    names = ["p", "q", "r", "s"]
    for source in names:
        for target in names:
            if source != target:
                edge(source, target)

    result = cycle_alerts_sync()

    assert len(result.cycles) == 3
    assert (result.sccs, result.truncated_sccs) == (1, 1)
    assert CircularDependencyAlert.objects.filter(scc_size=4).count() == 3
    summary = cycle_detection_summary()
    assert summary["truncated_sccs"] == [{"size": 4, "listed": 3, "services": names}]
    assert summary["max_cycles_per_scc"] == 3


def test_metrics_report_alert_counts_and_detection_time():
    edge("a", "b")
    edge("b", "a")
    before = REGISTRY.get_sample_value("slo_engine_cycle_detection_duration_seconds_count") or 0

    cycle_alerts_sync()

    assert REGISTRY.get_sample_value("slo_engine_open_alerts", {"status": "open"}) == 1
    assert REGISTRY.get_sample_value("slo_engine_open_alerts", {"status": "resolved"}) == 0
    assert REGISTRY.get_sample_value("slo_engine_cycle_detection_duration_seconds_count") == before + 1


def test_a_graph_change_during_detection_triggers_a_fresh_detection(monkeypatch):
    """If an ingestion commits between loading and writing, the run reloads
    instead of writing alerts for the older graph."""
    from graph.services import cycles as module

    GraphVersion.objects.get_or_create(pk=1)  # absent if a transactional test flushed the reused database
    edge("a", "b")
    edge("b", "a")
    loads = []
    real_load = module.cycle_edge_pairs

    def load_then_change():
        loads.append(1)
        pairs = real_load()
        if len(loads) == 1:
            ServiceDependency.objects.filter(source__service_id="b").delete()
            GraphVersion.objects.filter(pk=1).update(version=F("version") + 1)
        return pairs

    monkeypatch.setattr(module, "cycle_edge_pairs", load_then_change)

    result = cycle_alerts_sync()

    assert len(loads) == 2
    assert result.cycles == []
    assert not CircularDependencyAlert.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_wait_for_each_other_and_create_each_alert_once():
    """Runs serialise on the graph-version row: while another transaction
    holds it (an ingestion bumping the version, or another run writing its
    alerts), a run writes nothing; afterwards two runs create each alert once."""
    edge("a", "b")
    edge("b", "a")
    edge("c", "d")
    edge("d", "c")
    results, errors = [], []

    def detect():
        try:
            results.append(cycle_alerts_sync())
        except Exception as error:  # reported below, not swallowed
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=detect) for _ in range(2)]
    GraphVersion.objects.get_or_create(pk=1)  # a flushed (transactional) test database lacks the row
    with transaction.atomic():
        GraphVersion.objects.select_for_update().get(pk=1)
        for thread in threads:
            thread.start()
        time.sleep(1.0)
        assert not any(r.created for r in results)
        assert not CircularDependencyAlert.objects.exists()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert sorted(r.created for r in results) == [0, 2]
    assert sorted(CircularDependencyAlert.objects.values_list("cycle_path", flat=True)) == [["a", "b"], ["c", "d"]]
