"""The recommendation batch benchmark at toy size: its figures, and nothing
of what it created left behind."""

import pytest

from graph.models import Service
from recommendations.benchmarks import batch
from recommendations.models import FleetPrior, SloRecommendation

pytestmark = pytest.mark.django_db


def test_batch_benchmark_reports_and_cleans_up(monkeypatch):
    monkeypatch.setattr(batch, "SERVICES", 60)
    monkeypatch.setattr(batch, "EDGES", 120)
    kept = Service.objects.create(service_id="users-own", display_name="users-own")
    messages = []
    figures = batch.run(progress=messages.append)
    assert figures["services"] == 60 and figures["recommendations_written"] == 120
    # The prior's fit is part of the measured batch, on every active service.
    assert figures["fleet_prior_services"] == 61
    assert figures["fleet_prior_seconds"] <= figures["batch_seconds"]
    assert figures["recommendations_per_second"] == pytest.approx(120 / figures["batch_seconds"], rel=0.01)
    assert figures["services_per_cpu_second"] > 0
    assert any("fleet prior fitted" in message for message in messages)
    assert list(Service.objects.all()) == [kept]
    assert not SloRecommendation.objects.exists() and not FleetPrior.objects.exists()
