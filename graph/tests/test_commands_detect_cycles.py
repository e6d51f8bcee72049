"""`manage.py detect_cycles` runs the detection and reports what changed."""

from io import StringIO

import pytest
from django.core.management import call_command

from graph.models import CircularDependencyAlert
from graph.tests.factories import ServiceDependencyFactory, ServiceFactory

pytestmark = pytest.mark.django_db


def edge(source: str, target: str):
    return ServiceDependencyFactory(source=ServiceFactory(service_id=source), target=ServiceFactory(service_id=target))


def run(**options) -> str:
    out = StringIO()
    call_command("detect_cycles", stdout=out, **options)
    return out.getvalue()


def test_detect_cycles_opens_alerts_and_prints_progress_and_counts():
    edge("orders", "billing")
    closing = edge("billing", "orders")
    edge("web", "orders")

    output = run()

    assert "loading the effective graph" in output
    assert "1 cycle(s) in 1 strongly connected component(s) of a graph of 3 services and 3 edges" in output
    assert "alerts: 1 created, 0 reopened, 0 auto-resolved, 0 still open or acknowledged" in output
    assert "billing → orders → billing" in output
    alerts = list(CircularDependencyAlert.objects.values_list("cycle_path", "status"))
    assert alerts == [(["billing", "orders"], "open")]

    assert "alerts: 0 created, 0 reopened, 0 auto-resolved, 1 still open" in run()

    closing.delete()
    assert "alerts: 0 created, 0 reopened, 1 auto-resolved" in run()
    assert CircularDependencyAlert.objects.get().status == "resolved"


def test_detect_cycles_is_quiet_at_verbosity_zero():
    edge("a", "b")
    edge("b", "a")

    assert run(verbosity=0) == ""
    assert CircularDependencyAlert.objects.count() == 1
