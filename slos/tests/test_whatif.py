"""The what-if reads on the real database: inputs gathered in a fixed number
of queries, numbers equal to the products computed by hand."""

import pytest

from graph.models import Service
from graph.selectors import ServiceNotFound
from graph.services.ingest import graph_ingest
from graph.tests.factories import ServiceDependencyFactory, ServiceFactory
from recommendations.models import SloRecommendation
from recommendations.tests.factories import SloRecommendationFactory
from slos.tests.whatif_fixtures import build_shop
from slos.whatif import whatif_constraint_analysis, whatif_impact_analysis


@pytest.fixture
def shop(db):
    build_shop()


def test_constraint_analysis_of_checkout(shop, django_assert_num_queries):
    # The service, the graph version (read from the database inside a test's
    # transaction), the whole hard sync graph (one query), the
    # availabilities' fingerprint (2) and the availabilities (observed, edge basis,
    # aggregates: 3), the SLOs.
    with django_assert_num_queries(9):
        body = whatif_constraint_analysis(service_id="checkout", target=0.998, window_days=28)
    # Cached graph and availabilities: the service, the version, the fingerprint, the SLOs.
    with django_assert_num_queries(5):
        assert whatif_constraint_analysis(service_id="checkout", target=0.998, window_days=28) == body

    # cart, payment (two paths, once) and fraud (in a cycle with checkout): N = 3.
    assert [d["service_id"] for d in body["dependencies"]] == ["cart", "fraud", "payment"]
    assert [d["required_availability"] for d in body["dependencies"]] == [pytest.approx(1 - 0.002 / 4)] * 3
    assert [d["extra_nine_availability"] for d in body["dependencies"]] == [pytest.approx(0.9998)] * 3
    assert body["dependency_bound"] == pytest.approx(0.9995 * 0.9993 * 0.999, abs=1e-10)
    assert body["achievable"] is False and body["own_budget_minutes"] == 0
    assert [(d["service_id"], d["meets_required"], d["slo_target"]) for d in body["dependencies"]] == [
        ("cart", True, None), ("fraud", False, None), ("payment", False, 0.9995)]
    assert "payment (99.9%)" in body["warnings"][0] and "fraud (99.93%)" in body["warnings"][0]
    assert "cart" not in body["warnings"][0]


def test_constraint_analysis_achievable_with_own_budget(shop):
    body = whatif_constraint_analysis(service_id="checkout", target=0.997, window_days=30)
    bound = 0.9995 * 0.9993 * 0.999
    assert body["achievable"] is True and body["warnings"] == []
    assert body["own_budget_minutes"] == pytest.approx((bound - 0.997) * 30 * 1440, abs=1e-3)


def test_the_edge_basis_of_the_callers_recommendation_is_used(db):
    ServiceDependencyFactory(source=ServiceFactory(service_id="x"), target=ServiceFactory(service_id="dep"))
    SloRecommendationFactory(service=ServiceFactory(service_id="dep"), observed=0.995)
    SloRecommendationFactory(service=ServiceFactory(service_id="x"), observed=0.999, dependencies=[
        {"service_id": "dep", "availability": 0.998, "availability_basis": "edge"}])
    [dep] = whatif_constraint_analysis(service_id="x", target=0.99, window_days=28)["dependencies"]
    assert (dep["availability"], dep["availability_basis"]) == (0.998, "edge")


def test_impact_of_payment_at_995(shop, django_assert_num_queries):
    # The service, the graph version, the whole hard sync graph, the
    # availabilities' fingerprint (2) and the availabilities (3), the SLOs.
    with django_assert_num_queries(9):
        body = whatif_impact_analysis(service_id="payment", availability=0.995)
    # Again: the graph and the availabilities come from the cache; the
    # service, the graph version, the fingerprint (2) and the SLOs remain.
    with django_assert_num_queries(5):
        assert whatif_impact_analysis(service_id="payment", availability=0.995) == body

    rows = {row["service_id"]: row for row in body["impacted"]}
    assert {name: row["depth"] for name, row in rows.items()} == {
        "checkout": 1, "cart": 1, "admin": 1, "fraud": 2, "frontend": 2, "mobile": 2}
    hand = {  # (current, projected) recomputed by hand; the cycle counts once at its weakest member
        "cart": (0.999, 0.995),
        "admin": (0.999, 0.995),
        "checkout": (0.9995 * 0.999 * 0.9993, 0.9995 * 0.995 * 0.9993),
        "fraud": (0.9991 * 0.9995 * 0.999, 0.9991 * 0.9995 * 0.995),
        "frontend": (0.9991 * 0.9995 * 0.999, 0.9991 * 0.9995 * 0.995),
        "mobile": (0.9991 * 0.9995 * 0.999, 0.9991 * 0.9995 * 0.995),
    }
    for name, (current, projected) in hand.items():
        assert rows[name]["current_bound"] == pytest.approx(current, abs=1e-10), name
        assert rows[name]["projected_bound"] == pytest.approx(projected, abs=1e-10), name
        assert rows[name]["delta"] == pytest.approx(projected - current, abs=1e-9), name
    assert [r["delta"] for r in body["impacted"]] == sorted(r["delta"] for r in body["impacted"])
    # SLOs of record above the projected bound: checkout (0.998) and frontend (0.997); admin's 0.99 holds.
    assert {name for name, row in rows.items() if row["slo_at_risk"]} == {"checkout", "frontend"}
    assert (rows["admin"]["slo_target"], rows["admin"]["slo_at_risk"]) == (0.99, False)
    assert body["summary"] == {"impacted": 6, "at_risk": 2, "at_risk_already": 1}
    assert body["current_availability"] == 0.999


def test_impact_within_max_depth_and_query_count_independent_of_size(shop, django_assert_num_queries):
    for i in range(40):
        ServiceDependencyFactory(source=ServiceFactory(service_id=f"caller-{i}"),
                                 target=ServiceFactory(service_id="admin"))
    with django_assert_num_queries(9):
        body = whatif_impact_analysis(service_id="payment", availability=0.99, max_depth=1)
    assert sorted(r["service_id"] for r in body["impacted"]) == ["admin", "cart", "checkout"]
    assert whatif_impact_analysis(service_id="payment", availability=0.99)["summary"]["impacted"] == 46


def test_cached_inputs_follow_new_recommendations_and_graph_writes(shop):
    before = {r["service_id"]: r for r in whatif_impact_analysis(service_id="payment", availability=0.99)["impacted"]}
    # A new recommendation of cart supersedes the old one.
    SloRecommendation.objects.filter(service__service_id="cart").update(status="superseded")
    SloRecommendationFactory(service=ServiceFactory(service_id="cart"), observed=0.99)
    graph_ingest(source="manual", nodes=[], edges=[{"source": "newcomer", "target": "payment", "attributes": {}}])
    after = {r["service_id"]: r for r in whatif_impact_analysis(service_id="payment", availability=0.99)["impacted"]}
    assert "newcomer" in after and "newcomer" not in before
    assert after["checkout"]["current_bound"] == pytest.approx(0.99 * 0.999 * 0.9993, abs=1e-10)


def test_unknown_and_retired_services_are_not_found(shop):
    Service.objects.filter(service_id="cart").update(retired_at="2025-01-01T00:00:00Z")
    for name in ("nobody", "cart"):
        with pytest.raises(ServiceNotFound):
            whatif_constraint_analysis(service_id=name, target=0.99, window_days=28)
        with pytest.raises(ServiceNotFound):
            whatif_impact_analysis(service_id=name, availability=0.99)
    # A retired service is not walked through either.
    assert "cart" not in {r["service_id"] for r in whatif_impact_analysis(
        service_id="payment", availability=0.99)["impacted"]}
