"""The SLOs-of-record API: decisions, retire, history, fleet list, errors
(real PostgreSQL; the demo telemetry source for scoring)."""

import pytest
from django.db import connection

from slos.models import ServiceLevelObjective, SloChange, SloStatus
from slos.tests.factories import (
    SloFactory,
    SloRecommendationFactory,
    SloStatusFactory,
    availability_tiers,
    latency_tiers,
)

pytestmark = pytest.mark.django_db

SLOS = "/api/v1/services/{}/slos"
HISTORY = "/api/v1/services/{}/slo-history"


def _accept(client, recommendation, **body):
    payload = {"action": "accept", "recommendation_id": recommendation.pk, "tier": "balanced", **body}
    return client.post(SLOS.format(recommendation.service.service_id), payload, format="json")


def _state():
    """Everything a rejected request must leave untouched."""
    return (list(ServiceLevelObjective.objects.order_by("pk").values()),
            list(SloChange.objects.order_by("pk").values()))


def test_accept_modify_reject_in_order_leaves_three_history_rows(write_client, read_client):
    recommendation = SloRecommendationFactory(service__service_id="checkout")
    accepted = _accept(write_client, recommendation, rationale="the balanced tier fits our users")
    assert accepted.status_code == 201, accepted.content
    body = accepted.json()
    assert body["target"] == 0.995 and body["origin"] == "balanced" and body["version"] == 1
    assert body["recommendation_id"] == recommendation.pk and body["created_by"] == "api-key:test-write"
    assert body["status"] is None  # not scored yet

    modified = write_client.post(SLOS.format("checkout"), {
        "action": "modify", "recommendation_id": recommendation.pk, "tier": "balanced", "target": 0.997,
        "rationale": "checkout deserves a bit more"}, format="json")
    assert modified.status_code == 201, modified.content
    assert modified.json()["target"] == 0.997 and modified.json()["origin"] == "custom"
    assert modified.json()["version"] == 2

    rejected = write_client.post(SLOS.format("checkout"), {
        "action": "reject", "recommendation_id": recommendation.pk, "tier": "aggressive",
        "rationale": "aggressive is beyond our dependencies"}, format="json")
    assert rejected.status_code == 200, rejected.content
    assert rejected.json()["action"] == "reject" and rejected.json()["slo_id"] is None

    history = read_client.get(HISTORY.format("checkout")).json()
    assert history["count"] == 3
    rows = history["results"]
    assert [r["action"] for r in rows] == ["reject", "modify", "accept"]
    assert [r["actor"] for r in rows] == ["api-key:test-write"] * 3
    assert [r["rationale"] for r in rows] == ["aggressive is beyond our dependencies",
                                              "checkout deserves a bit more", "the balanced tier fits our users"]
    assert rows[1]["before"]["target"] == 0.995 and rows[1]["after"]["target"] == 0.997
    assert rows[2]["before"] is None and rows[2]["recommendation_id"] == recommendation.pk
    assert set(rows[0]) == {"id", "service_id", "slo_id", "action", "actor", "rationale", "before", "after",
                            "recommendation_id", "at"}
    # The reject left the SLO of record (the modified one) in place.
    active = read_client.get(SLOS.format("checkout")).json()["slos"]
    assert [(s["target"], s["version"]) for s in active] == [(0.997, 2)]


def test_second_accept_retires_the_first_and_raises_the_version(write_client):
    first = SloRecommendationFactory(service__service_id="cart")
    one = _accept(write_client, first).json()
    first.status = "superseded"
    first.save()
    second = SloRecommendationFactory(service=first.service, tiers=availability_tiers(balanced=0.998))
    two = _accept(write_client, second, tier="balanced")
    assert two.status_code == 201
    assert two.json()["version"] == 2 and two.json()["target"] == 0.998
    old = ServiceLevelObjective.objects.get(pk=one["id"])
    assert old.state == "retired" and old.retired_at is not None
    assert ServiceLevelObjective.objects.filter(service=first.service, state="active").count() == 1
    # Latency and availability are separate SLOs of record.
    latency = SloRecommendationFactory(service=first.service, sli_type="latency", metric="latency_p99",
                                       tiers=latency_tiers())
    made = _accept(write_client, latency).json()
    assert (made["sli_type"], made["threshold_ms"], made["version"]) == ("latency", 500.0, 1)
    assert ServiceLevelObjective.objects.filter(service=first.service, state="active").count() == 2


@pytest.mark.parametrize("body,status,field", [
    ({"tier": "premium"}, 422, "tier"),
    ({"action": "approve"}, 422, "action"),
    ({"recommendation_id": 999999}, 409, "recommendation_id"),
    ({"recommendation_id": "x"}, 422, "recommendation_id"),
    ({"action": "modify", "target": 0.4}, 422, "target"),
    ({"action": "modify", "target": 0.999999}, 422, "target"),
    ({"action": "modify", "target": 0.995}, 422, "target"),  # the tier as is: nothing changes
    ({"action": "modify"}, 422, "target"),
    ({"action": "modify", "threshold_ms": 300}, 422, "threshold_ms"),  # availability SLO
    ({"action": "modify", "window_days": 0}, 422, "window_days"),
    ({"action": "accept", "target": 0.99}, 422, "target"),
])
def test_bad_decisions_are_problems_naming_the_field_and_change_nothing(write_client, body, status, field):
    recommendation = SloRecommendationFactory(service__service_id="payment")
    _accept(write_client, recommendation)
    before = _state()
    payload = {"action": "accept", "recommendation_id": recommendation.pk, "tier": "balanced", **body}
    response = write_client.post(SLOS.format("payment"), payload, format="json")
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert field in {e["field"] for e in response.json()["errors"]}
    assert _state() == before


def test_stale_recommendation_is_a_conflict(write_client):
    recommendation = SloRecommendationFactory(service__service_id="payment", status="superseded")
    other = SloRecommendationFactory(service__service_id="cart")
    before = _state()
    stale = _accept(write_client, recommendation)
    assert stale.status_code == 409 and stale["Content-Type"] == "application/problem+json"
    assert "recommendation_id" in stale.json()["errors"][0]["field"]
    # Another service's recommendation is not this service's either.
    foreign = write_client.post(SLOS.format("payment"), {"action": "accept", "recommendation_id": other.pk},
                                format="json")
    assert foreign.status_code == 409 and foreign.json()["errors"][0]["field"] == "recommendation_id"
    assert _state() == before


def test_read_key_gets_403_and_nothing_changes(read_client, anon_client, write_client):
    recommendation = SloRecommendationFactory(service__service_id="payment")
    slo_id = _accept(write_client, recommendation).json()["id"]
    before = _state()
    refused = _accept(read_client, recommendation, rationale="sneaky")
    assert refused.status_code == 403 and refused["Content-Type"] == "application/problem+json"
    assert read_client.delete(f"{SLOS.format('payment')}/{slo_id}").status_code == 403
    assert anon_client.get(SLOS.format("payment")).status_code == 401
    assert anon_client.get("/api/v1/slos/").status_code == 401
    assert _state() == before


def test_retire_records_the_change_and_twice_is_a_conflict(write_client, read_client):
    recommendation = SloRecommendationFactory(service__service_id="cart")
    slo_id = _accept(write_client, recommendation).json()["id"]
    retired = write_client.delete(f"{SLOS.format('cart')}/{slo_id}/", {"rationale": "service is sunset"},
                                  format="json")
    assert retired.status_code == 200, retired.content
    assert retired.json()["state"] == "retired"
    assert read_client.get(SLOS.format("cart")).json()["slos"] == []
    history = read_client.get(HISTORY.format("cart") + "/").json()["results"]
    assert [(h["action"], h["rationale"]) for h in history][0] == ("retire", "service is sunset")
    again = write_client.delete(f"{SLOS.format('cart')}/{slo_id}")
    assert again.status_code == 409
    assert write_client.delete(f"{SLOS.format('cart')}/987654").status_code == 404
    assert read_client.get(SLOS.format("nope")).status_code == 404


def test_refresh_scores_the_service_now_with_the_demo_source(write_client, read_client, settings):
    settings.TELEMETRY_SOURCE = "demo"
    recommendation = SloRecommendationFactory(service__service_id="checkout")
    _accept(write_client, recommendation)
    slos = write_client.get(SLOS.format("checkout") + "?refresh=true").json()["slos"]
    status = slos[0]["status"]
    assert status["health"] in {"healthy", "warning", "critical", "exhausted"}
    assert set(status["burn_rates"]) == {"1h", "6h", "1d", "3d"}
    assert 0.99 < status["window_availability"] <= 1.0
    assert status["burn_down"] and status["burn_down"][-1]["budget_remaining"] == pytest.approx(
        status["budget_remaining"], abs=1e-5)
    assert read_client.get(SLOS.format("checkout") + "?refresh=maybe").status_code == 422


def test_refresh_with_a_read_key_is_a_403_naming_it_and_scores_nothing(write_client, read_client):
    _accept(write_client, SloRecommendationFactory(service__service_id="checkout"))
    response = read_client.get(SLOS.format("checkout") + "?refresh=true")
    assert response.status_code == 403
    assert [e["field"] for e in response.json()["errors"]] == ["refresh"]
    assert not SloStatus.objects.exists()
    assert read_client.get(SLOS.format("checkout")).status_code == 200


def test_an_unknown_body_field_is_a_422_naming_it(write_client):
    recommendation = SloRecommendationFactory(service__service_id="checkout")
    before = _state()
    response = _accept(write_client, recommendation, targt=0.99)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["targt"]
    assert _state() == before
    slo = ServiceLevelObjective.objects.create(service=recommendation.service, sli_type="availability",
                                               metric="availability", target=0.99, origin="custom")
    retire = write_client.delete(f"{SLOS.format('checkout')}/{slo.pk}", {"reason": "typo"}, format="json")
    assert retire.status_code == 422 and [e["field"] for e in retire.json()["errors"]] == ["reason"]


def test_fleet_list_filters_orders_and_pins_its_queries(read_client, django_assert_num_queries):
    healthy = SloStatusFactory(slo__service__service_id="a-svc", slo__service__team="payments",
                               budget_remaining=0.9, health="healthy")
    warning = SloStatusFactory(slo__service__service_id="b-svc", slo__service__team="shop",
                               budget_remaining=0.3, health="warning")
    SloStatusFactory(slo__service__service_id="c-svc", slo__service__team="shop", slo__review_due=True,
                     slo__review_reason="moved", budget_remaining=0.1, health="critical")
    unscored = SloFactory(service__service_id="d-svc")
    SloFactory(service__service_id="e-svc", state="retired", retired_at=healthy.computed_at)

    with django_assert_num_queries(4):  # the API key (2), count, one page with services and statuses joined
        listed = read_client.get("/api/v1/slos/").json()
    assert [r["service_id"] for r in listed["results"]] == ["a-svc", "b-svc", "c-svc", "d-svc"]
    assert listed["results"][3]["status"] is None and listed["results"][3]["id"] == unscored.pk
    assert "burn_down" not in listed["results"][0]["status"]

    def ids(query):
        response = read_client.get("/api/v1/slos" + query)
        assert response.status_code == 200, response.content
        return [r["service_id"] for r in response.json()["results"]]

    assert ids("?health=warning") == ["b-svc"]
    assert ids("?health=unknown") == ["d-svc"]
    assert ids("?team=shop") == ["b-svc", "c-svc"]
    assert ids("?review_due=true") == ["c-svc"]
    assert ids("?ordering=budget_remaining") == ["c-svc", "b-svc", "a-svc", "d-svc"]
    assert ids("?ordering=-budget_remaining") == ["a-svc", "b-svc", "c-svc", "d-svc"]
    assert warning.slo.pk in [r["id"] for r in read_client.get("/api/v1/slos/?criticality=medium").json()["results"]]
    for bad in ("?health=fine", "?ordering=target", "?review_due=perhaps", "?page=0"):
        response = read_client.get("/api/v1/slos/" + bad)
        assert response.status_code == 422 and response["Content-Type"] == "application/problem+json", bad


def test_changes_keep_their_trail_under_a_direct_write_attempt(write_client):
    recommendation = SloRecommendationFactory(service__service_id="checkout")
    _accept(write_client, recommendation, rationale="as agreed")
    if connection.vendor != "postgresql":
        pytest.skip("the trigger is PostgreSQL's")
    change = SloChange.objects.get()
    from django.db import IntegrityError, transaction
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE slos_slochange SET actor = 'someone else' WHERE id = %s", [change.pk])
    assert SloChange.objects.get().actor == "api-key:test-write"
    assert not SloStatus.objects.exists()
