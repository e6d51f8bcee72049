"""The fleet prior, the backtest and the evidence over the dependency bound,
through the services, the command and the API (real PostgreSQL, demo source)."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command

from graph.models import Service
from graph.services.ingest import graph_ingest
from recommendations.domain.explain import probability_text
from recommendations.domain.fleet_prior import DEFAULT_FLEET_PRIOR
from recommendations.models import FleetPrior, RecommendationBacktest
from recommendations.services import backtest_run, fleet_prior_refit, recommendations_generate
from telemetry.sources.demo import DemoSource

pytestmark = pytest.mark.django_db
CALIBRATION = "/api/v1/recommendations/calibration"


@pytest.fixture
def demo_graph(db, settings):
    settings.TELEMETRY_SOURCE = "demo"
    data = json.loads(django_settings.DEMO_TOPOLOGY_FILE.read_text())
    graph_ingest(source="manual", nodes=data["nodes"], edges=data["edges"])
    return data


def _generate_all(source):
    rows = {}
    for service in Service.objects.active().order_by("service_id"):
        if service.service_id != "astronomy-db":  # uninstrumented: no recommendation
            rows[service.service_id] = recommendations_generate(service=service, source=source)[0]
    return rows


def test_refit_stores_the_prior_and_every_generation_uses_it(demo_graph, read_client, write_client):
    source = DemoSource()
    prior = fleet_prior_refit(source=source)
    # Every demo service with 7+ days of data; astronomy-db has none.
    assert prior.services_used == 26 and prior.is_default is False
    assert FleetPrior.objects.count() == 1
    row = recommendations_generate(service=Service.objects.get(service_id="checkout"), source=source)[0]
    assert row.explanation["fleet_prior"]["services"] == 26
    # A fleet with far more bad days (stored as if the batch had fitted it):
    # the on-demand regeneration uses it and the targets loosen.
    FleetPrior.objects.create(parameters={**prior.parameters, "incident_alpha": 3.0, "incident_beta": 27.0,
                                          "severity_mean": 4.0, "services": 500},
                              services_used=500, fitted_at=prior.fitted_at + timedelta(minutes=1))
    response = write_client.get("/api/v1/services/checkout/slo-recommendations?force_regenerate=true")
    assert response.status_code == 200
    regenerated = response.json()["recommendations"][0]
    assert regenerated["explanation"]["fleet_prior"]["services"] == 500
    assert regenerated["tiers"]["balanced"]["target"] < row.tiers["balanced"]["target"]
    prior_share = next(a for a in regenerated["explanation"]["feature_attributions"] if a["feature"] == "fleet_prior")
    assert prior_share["contribution"] > 0


def test_below_twenty_services_the_default_prior_is_stored(demo_graph):
    Service.objects.exclude(service_id__in=["checkout", "payment", "cart"]).update(retired_at="2026-01-01T00:00Z")
    prior = fleet_prior_refit(source=DemoSource())
    assert prior.is_default and prior.services_used == 3
    assert prior.parameters == DEFAULT_FLEET_PRIOR.as_dict()


def test_demo_is_coherent_distinct_tiers_and_a_binding_ceiling(demo_graph):
    source = DemoSource()
    fleet_prior_refit(source=source)
    rows = _generate_all(source)
    distinct = [sid for sid, row in rows.items()
                if len({row.tiers[t]["target"] for t in ("conservative", "balanced", "aggressive")}) > 1]
    assert len(distinct) >= 0.8 * len(rows)
    impacts = {sid: row.explanation["dependency_impact"] for sid, row in rows.items()}
    assert any(impact["binding"] for impact in impacts.values())
    assert any(not impact["binding"] and impact["absorbed_failure_share"] for impact in impacts.values())
    for sid, row in rows.items():
        explanation, tiers = row.explanation, row.tiers
        # Exact explanations: the served numbers add up.
        gap = explanation["observed_availability"] - tiers["balanced"]["target"]
        assert abs(sum(a["contribution"] for a in explanation["feature_attributions"]) - gap) <= 1e-12, sid
        assert f"leaves a {probability_text(tiers['balanced']['estimated_breach_probability'])} chance" in (
            explanation["summary"]), sid
        if impacts[sid]["binding"]:
            assert all(t["target"] <= impacts[sid]["composite_availability_bound"] for t in tiers.values()), sid


def test_dependency_availability_is_what_the_caller_experiences(demo_graph):
    source = DemoSource()
    row = recommendations_generate(service=Service.objects.get(service_id="checkout"), source=source)[0]
    # The lookback's days: [start, end) in the row, the edge counts over the same days.
    last_day = (row.lookback_window_end - timedelta(days=1)).date()
    edges = {(e.client, e.server): e
             for e in source.edge_traffic(start=row.lookback_window_start.date(), end=last_day)}
    dependencies = {d["service_id"]: d for d in row.explanation["dependency_impact"]["dependencies"]}
    payment = dependencies["payment"]
    assert payment["availability_basis"] == "edge"
    assert payment["availability"] == pytest.approx(edges[("checkout", "payment")].availability, abs=1e-8)
    # quote is only reached through shipping: no edge from checkout, its own availability.
    assert dependencies["quote"]["availability_basis"] == "service"
    assert dependencies["astronomy-db"]["availability_basis"] is None


def test_backtest_command_prints_stores_and_the_api_serves_it(demo_graph, read_client, anon_client):
    missing = read_client.get(CALIBRATION)
    assert missing.status_code == 404 and missing["Content-Type"] == "application/problem+json"
    out, err = StringIO(), StringIO()
    call_command("backtest_recommendations", "--step-days", "14", "--history-days", "120", stdout=out, stderr=err)
    text = out.getvalue()
    assert "walk forward: step" in err.getvalue()
    run = RecommendationBacktest.objects.get()
    assert run.step_days == 14 and run.window_days == 28 and run.services >= 20
    for name in ("conservative", "balanced", "aggressive"):
        tier = run.tiers[name]
        assert tier["pairs"] > 0 and f"{name:<14}{tier['pairs']:>8}" in text
        assert sum(row["pairs"] for row in tier["reliability"]) == tier["pairs"]
    assert "reliability, balanced" in text
    # The stated probabilities are ordered, and honest on the demo's own history.
    assert (run.tiers["conservative"]["mean_stated_probability"] < run.tiers["balanced"]["mean_stated_probability"]
            < run.tiers["aggressive"]["mean_stated_probability"])
    assert run.tiers["conservative"]["realised_breach_rate"] <= 0.03
    for path in (CALIBRATION, CALIBRATION + "/"):
        body = read_client.get(path).json()
        assert body["step_days"] == 14 and body["services"] == run.services
        assert set(body["tiers"]) == {"conservative", "balanced", "aggressive"}
        assert set(body["tiers"]["balanced"]) == {"pairs", "mean_stated_probability", "realised_breach_rate",
                                                  "reliability"}
        assert {"stated_lo", "stated_hi", "pairs", "realised_breach_rate"} <= set(
            body["tiers"]["balanced"]["reliability"][0])
    assert anon_client.get(CALIBRATION).status_code in (401, 403)


def test_backtest_of_one_service_and_bad_arguments(demo_graph):
    run = backtest_run(source=DemoSource(), step_days=28, history_days=120, service_id="checkout")
    assert run.services == 1
    with pytest.raises(CommandError):
        call_command("backtest_recommendations", "--service", "nope", stdout=StringIO())
    with pytest.raises(CommandError):
        call_command("backtest_recommendations", "--step-days", "0", stdout=StringIO())
    assert RecommendationBacktest.objects.count() == 1


def test_before_the_first_batch_the_first_recommendation_fits_the_prior(demo_graph, read_client):
    response = read_client.get("/api/v1/services/checkout/slo-recommendations")
    assert response.status_code == 200
    stored = FleetPrior.objects.get()
    assert stored.services_used == 26 and not stored.is_default
    assert response.json()["recommendations"][0]["explanation"]["fleet_prior"]["services"] == 26


def test_a_small_fleet_stores_the_default_prior_once(demo_graph, django_assert_max_num_queries):
    Service.objects.exclude(service_id__in=["checkout", "payment"]).update(retired_at="2026-01-01T00:00Z")
    row = recommendations_generate(service=Service.objects.get(service_id="checkout"), source=DemoSource())[0]
    assert row.explanation["fleet_prior"]["services"] == 0
    assert row.explanation["fleet_prior"]["incident_chance"] == round(DEFAULT_FLEET_PRIOR.incident_chance, 6)
    stored = FleetPrior.objects.get()
    assert stored.is_default and stored.services_used < 20
    # The next generation reads that row: no second fit, no second row.
    recommendations_generate(service=Service.objects.get(service_id="payment"), source=DemoSource())
    assert FleetPrior.objects.get().pk == stored.pk
