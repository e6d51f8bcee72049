"""Review due (drift) and auto-approval, and the daily batch's hook."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from recommendations.signals import batch_chunk_generated
from slos.models import ServiceLevelObjective, SloChange
from slos.services import slo_auto_approve, slo_decide, slo_review_flag
from slos.services.review import budget_step
from slos.tests.factories import SloRecommendationFactory, availability_tiers, latency_tiers

pytestmark = pytest.mark.django_db


def _accept(recommendation, tier="balanced"):
    return slo_decide(service=recommendation.service, action="accept", recommendation_id=recommendation.pk,
                      tier=tier, actor="ann").slo


def _fresh(previous, **fields):
    previous.status = "superseded"
    previous.save()
    return SloRecommendationFactory(service=previous.service, sli_type=previous.sli_type, metric=previous.metric,
                                    **fields)


def test_rounding_steps():
    assert budget_step(0.999) - budget_step(0.995) == -4  # 0.1% vs 0.5%
    assert budget_step(0.999) - budget_step(0.9991) == 1  # 0.1% vs 0.09%
    assert budget_step(0.9993) == budget_step(0.99935)  # both round to 0.07%


def test_drift_by_one_step_flags_with_both_values_and_accepting_clears_it():
    first = SloRecommendationFactory(service__service_id="checkout", tiers=availability_tiers(balanced=0.999))
    slo = _accept(first)
    fresh = _fresh(first, tiers=availability_tiers(balanced=0.998))
    assert slo_review_flag() == {"flagged": 1, "cleared": 0}
    slo.refresh_from_db()
    assert slo.review_due
    assert "99.8%" in slo.review_reason and "99.9%" in slo.review_reason and f"#{fresh.pk}" in slo.review_reason
    # Running again changes nothing.
    assert slo_review_flag() == {"flagged": 0, "cleared": 0}
    accepted = _accept(fresh)
    assert not accepted.review_due and accepted.version == 2
    assert ServiceLevelObjective.objects.filter(review_due=True, state="active").count() == 0


def test_no_flag_within_a_rounding_step_and_a_flag_clears_when_drift_goes():
    first = SloRecommendationFactory(service__service_id="cart", tiers=availability_tiers(balanced=0.999))
    slo = _accept(first)
    same_step = _fresh(first, tiers=availability_tiers(balanced=0.999))
    assert slo_review_flag() == {"flagged": 0, "cleared": 0}
    moved = _fresh(same_step, tiers=availability_tiers(balanced=0.995))
    assert slo_review_flag()["flagged"] == 1
    _fresh(moved, tiers=availability_tiers(balanced=0.999))
    assert slo_review_flag() == {"flagged": 0, "cleared": 1}
    slo.refresh_from_db()
    assert not slo.review_due and slo.review_reason == ""


def test_latency_threshold_moving_a_bucket_flags():
    first = SloRecommendationFactory(service__service_id="cart", sli_type="latency", metric="latency_p99",
                                     tiers=latency_tiers(balanced=500.0))
    slo = _accept(first)
    _fresh(first, tiers=latency_tiers(balanced=750.0))
    assert slo_review_flag(service_ids=["cart"])["flagged"] == 1
    slo.refresh_from_db()
    assert "750 ms" in slo.review_reason and "500 ms" in slo.review_reason


CONFIG = {"criticality": ["low", "medium"], "tier": "balanced", "min_completeness": 0.9}


def test_auto_approval_accepts_matching_services_only():
    SloRecommendationFactory(service__service_id="low-ok", service__criticality="low")
    SloRecommendationFactory(service__service_id="critical-svc", service__criticality="critical")
    SloRecommendationFactory(service__service_id="sparse", service__criticality="medium",
                             data_quality={"completeness": 0.5})
    covered = SloRecommendationFactory(service__service_id="covered", service__criticality="medium")
    _accept(covered, tier="conservative")
    refused = SloRecommendationFactory(service__service_id="refused", service__criticality="medium")
    slo_decide(service=refused.service, action="reject", recommendation_id=refused.pk, tier="balanced",
               actor="bob", rationale="not yet")

    assert slo_auto_approve(config=CONFIG) == {"approved": 1}
    slo = ServiceLevelObjective.objects.get(service__service_id="low-ok")
    assert (slo.origin, slo.target, slo.created_by) == ("balanced", 0.995, "auto-approval")
    change = SloChange.objects.get(slo=slo)
    assert change.action == "auto_approve" and change.actor == "auto-approval"
    assert ServiceLevelObjective.objects.get(service__service_id="covered").origin == "conservative"
    # Off by default, and idempotent.
    assert slo_auto_approve(config={}) == {"approved": 0}
    assert slo_auto_approve(config=CONFIG) == {"approved": 0}


def test_the_batch_chunk_signal_flags_and_auto_approves_its_services(settings):
    settings.SLO_AUTO_APPROVE = CONFIG
    first = SloRecommendationFactory(service__service_id="checkout", tiers=availability_tiers(balanced=0.999))
    slo = _accept(first)
    _fresh(first, tiers=availability_tiers(balanced=0.99))
    SloRecommendationFactory(service__service_id="new-svc", service__criticality="low")
    SloRecommendationFactory(service__service_id="other", service__criticality="low")

    responses = batch_chunk_generated.send_robust(sender=None, service_ids=["checkout", "new-svc"])

    assert [r for _, r in responses] == [{"flagged": 1, "cleared": 0, "approved": 1}]
    slo.refresh_from_db()
    assert slo.review_due
    assert ServiceLevelObjective.objects.filter(service__service_id="new-svc").exists()
    assert not ServiceLevelObjective.objects.filter(service__service_id="other").exists()


def test_the_daily_batch_chunk_flags_drift_from_a_real_regeneration(settings):
    """The chunk task of the daily batch (called in process) regenerates the
    recommendation from the demo source, then flags the SLO committed at a
    target several rounding steps away."""
    from recommendations.tasks import generate_recommendations_chunk

    settings.TELEMETRY_SOURCE = "demo"
    first = SloRecommendationFactory(service__service_id="checkout", tiers=availability_tiers(balanced=0.9))
    slo = _accept(first)

    counts = generate_recommendations_chunk(["checkout"])

    assert counts["flagged"] == 1 and counts["approved"] == 0
    slo.refresh_from_db()
    first.refresh_from_db()
    assert first.status == "superseded" and slo.review_due
    assert "tighter than the SLO of record's 90%" in slo.review_reason


def test_a_chunk_reads_only_its_own_services_slos_and_rejections():
    covered = SloRecommendationFactory(service__service_id="covered", service__criticality="medium")
    _accept(covered, tier="conservative")
    refused = SloRecommendationFactory(service__service_id="refused", service__criticality="medium")
    slo_decide(service=refused.service, action="reject", recommendation_id=refused.pk, tier="balanced",
               actor="bob", rationale="not yet")
    for index in range(3):  # the rest of the fleet, with SLOs and rejections of its own
        _accept(SloRecommendationFactory(service__service_id=f"elsewhere-{index}", service__criticality="low"))
    SloRecommendationFactory(service__service_id="fresh", service__criticality="low")

    with CaptureQueriesContext(connection) as queries:
        assert slo_auto_approve(service_ids=["covered", "refused", "fresh"], config=CONFIG) == {"approved": 1}

    assert ServiceLevelObjective.objects.get(service__service_id="fresh").created_by == "auto-approval"
    assert ServiceLevelObjective.objects.get(service__service_id="covered").origin == "conservative"
    assert not ServiceLevelObjective.objects.filter(service__service_id="refused").exists()
    scans = [q["sql"] for q in queries.captured_queries
             if q["sql"].startswith("SELECT") and ("slos_servicelevelobjective" in q["sql"].split("WHERE")[0]
                                                   or "slos_slochange" in q["sql"].split("WHERE")[0])]
    # Each read of SLOs or rejections names the chunk's services (or the one being approved), not the fleet.
    assert len(scans) >= 2 and all("IN ('covered', 'refused', 'fresh')" in sql
                                   or '"slos_servicelevelobjective"."service_id" = ' in sql for sql in scans), scans
