"""Domain spans of SLO scoring: one run, one span per SLO scored."""

import pytest

from slos.services import slo_status_refresh
from slos.tests.factories import SloFactory
from telemetry.sources.demo import DemoSource


@pytest.mark.django_db
def test_a_status_run_spans_each_slo_with_its_service_and_health(recorded_spans):
    incident = SloFactory(service__service_id="frontend", target=0.999)  # the demo's ongoing incident: pages
    steady = SloFactory(service__service_id="cart", target=0.99)

    result = slo_status_refresh(slos=[incident, steady], source=DemoSource())

    (run,) = recorded_spans.named("slo.status.refresh")
    assert run.attributes["slo.scored"] == result.scored == 2
    assert run.attributes["slo.stale"] == 0
    scores = {s.attributes["service.id"]: s for s in recorded_spans.named("slo.score")}
    assert set(scores) == {"frontend", "cart"}
    assert all(s.parent.span_id == run.context.span_id for s in scores.values())
    assert scores["frontend"].attributes["slo.firing"] == "page"
    assert scores["frontend"].attributes["slo.health"] in {"critical", "exhausted"}
    assert scores["cart"].attributes["slo.sli_type"] == "availability"
    assert scores["cart"].attributes["slo.health"] in {"healthy", "warning", "critical", "exhausted"}
