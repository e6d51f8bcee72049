import pytest

from graph.models import Service, ServiceDependency
from graph.selectors import graph_version_current
from graph.services.catalog import dependency_delete, service_restore, service_retire, service_update
from graph.tests.factories import ServiceDependencyFactory, ServiceFactory

pytestmark = pytest.mark.django_db


def test_update_writes_and_bumps_only_on_change():
    service = ServiceFactory(service_id="a", team="t1")
    version = graph_version_current()
    service_update(service=service, changes={"team": "t1"}, actor="ops")
    assert graph_version_current() == version
    service_update(service=service, changes={"team": "t2", "criticality": "high"}, actor="ops")
    stored = Service.objects.get(service_id="a")
    assert (stored.team, stored.criticality, stored.updated_by) == ("t2", "high", "ops")
    assert graph_version_current() == version + 1


def test_retire_and_restore_are_idempotent_and_keep_edges():
    edge = ServiceDependencyFactory()
    service = edge.target
    version = graph_version_current()
    service_retire(service=service, actor="ops")
    service_retire(service=service, actor="ops")
    assert service.retired_at is not None and graph_version_current() == version + 1
    assert ServiceDependency.objects.filter(pk=edge.pk).exists()
    service_restore(service=service, actor="ops")
    service_restore(service=service, actor="ops")
    assert service.retired_at is None and graph_version_current() == version + 2


def test_dependency_delete_bumps_version():
    edge = ServiceDependencyFactory()
    version = graph_version_current()
    dependency_delete(dependency=edge)
    assert not ServiceDependency.objects.exists() and graph_version_current() == version + 1


def _alert_status(path: list[str]) -> str:
    from graph.models import CircularDependencyAlert

    return CircularDependencyAlert.objects.get(cycle_path=path).status


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_topology_changes_enqueue_cycle_detection_after_commit(live_celery_worker):
    """Removing an edge record, retiring and restoring a service change what
    cycle detection walks: the worker's detection task resolves the alert of
    a cycle that is gone and reopens it when the cycle is back."""
    from graph.services.cycles import cycle_alerts_sync
    from slo_engine.processes import wait_until

    a, b, c = (ServiceFactory(service_id=name) for name in ("a", "b", "c"))
    ServiceDependencyFactory(source=a, target=b)
    ServiceDependencyFactory(source=b, target=c)
    closing = ServiceDependencyFactory(source=c, target=a)
    cycle_alerts_sync()
    assert _alert_status(["a", "b", "c"]) == "open"

    service_retire(service=b, actor="ops")
    wait_until(lambda: _alert_status(["a", "b", "c"]) == "resolved", timeout=30, what="resolve after retire")
    service_restore(service=b, actor="ops")
    wait_until(lambda: _alert_status(["a", "b", "c"]) == "open", timeout=30, what="reopen after restore")
    dependency_delete(dependency=closing)
    wait_until(lambda: _alert_status(["a", "b", "c"]) == "resolved", timeout=30, what="resolve after delete")
