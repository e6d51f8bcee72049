"""Domain spans of a recommendation: telemetry read, maths, persist."""

import pytest

from graph.models import Service
from graph.services.ingest import graph_ingest
from recommendations.services import recommendations_generate
from telemetry.sources.demo import DemoSource


@pytest.mark.django_db
def test_recommendation_phases_are_spans_of_the_generation(recorded_spans, settings):
    settings.TELEMETRY_SOURCE = "demo"
    graph_ingest(source="manual", nodes=[{"service_id": "checkout"}],
                 edges=[{"source": "checkout", "target": "payment", "attributes": {}}])
    recorded_spans.clear()
    recommendations_generate(service=Service.objects.get(service_id="checkout"), source=DemoSource())

    spans = recorded_spans.get_finished_spans()
    (generate,) = recorded_spans.named("recommendation.generate")
    (build,) = recorded_spans.named("recommendation.build")
    (persist,) = recorded_spans.named("recommendation.persist")
    assert generate.parent is None and generate.attributes["service.id"] == "checkout"
    assert build.parent.span_id == generate.context.span_id and build.attributes["service.id"] == "checkout"
    assert persist.parent.span_id == generate.context.span_id
    in_build = [s for s in spans if s.parent is not None and s.parent.span_id == build.context.span_id]
    reads = {s.attributes["recommendation.telemetry.of"] for s in in_build if s.name == "recommendation.telemetry_read"}
    maths = {s.attributes["recommendation.sli_type"] for s in in_build if s.name == "recommendation.maths"}
    assert reads == {"service", "dependencies"}
    assert maths == {"availability", "latency"}
    assert {s.context.trace_id for s in spans} == {generate.context.trace_id}
    # Phases run in order: read, maths, then persist after the build.
    assert persist.start_time >= build.end_time
