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
