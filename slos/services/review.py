"""Review due (drift) and auto-approval, run after each chunk of the daily
recommendation batch (see `slos.signals`) for the services it regenerated.

* Review due: an active SLO whose service's fresh balanced recommendation
  differs from it by at least one rounding step of the error budget (the
  1-9 x 10^k ladder of `recommendations.domain.rounding`: 99.9% vs 99.5% is
  0.1% vs 0.5%, four steps), or whose latency threshold moved by at least
  one bucket, is flagged with a reason naming both values. A fresh
  recommendation that agrees again clears the flag; accepting one does too
  (the new SLO starts unflagged).
* Auto-approval (`SLO_AUTO_APPROVE`, off by default): services without an
  SLO of record for a metric, matching the configured criticality and data
  completeness, get the configured tier accepted as `auto_approve` by
  `auto-approval`. A metric a person has rejected is never auto-approved.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable

from django.conf import settings
from django.db.models import Q

from recommendations.domain.rounding import round_error_budget_up
from recommendations.models import RecommendationStatus, SloRecommendation
from slos.models import ServiceLevelObjective, SloAction, SloChange, SloSliType, SloState
from slos.services.decisions import DecisionError, slo_decide

logger = logging.getLogger(__name__)

AUTO_APPROVE_ACTOR = "auto-approval"


def budget_step(target: float) -> int:
    """Position of a target's error budget on the rounding ladder
    (..., 0.0009, 0.001, 0.002, ...): budgets one step apart differ by one."""
    budget = round_error_budget_up(1.0 - target)
    exponent = math.floor(math.log10(budget) + 1e-9)
    mantissa = round(budget / 10.0**exponent)
    return exponent * 9 + mantissa


def _percent(target: float) -> str:
    return f"{target * 100:.4g}%"


def drift_reason(slo: ServiceLevelObjective, recommendation: SloRecommendation) -> str | None:
    """Why `slo` is due for review given the fresh `recommendation`, or None."""
    balanced = (recommendation.tiers or {}).get("balanced") or {}
    if slo.sli_type == SloSliType.LATENCY:
        threshold = balanced.get("threshold_ms")
        if threshold is None or slo.threshold_ms is None or abs(float(threshold) - slo.threshold_ms) < 1e-9:
            return None
        return (f"The fresh balanced recommendation (#{recommendation.pk}) puts the latency threshold at "
                f"{float(threshold):g} ms; the SLO of record has {slo.threshold_ms:g} ms.")
    target = balanced.get("target")
    if target is None:
        return None
    steps = budget_step(float(target)) - budget_step(slo.target)
    if steps == 0:
        return None
    direction = "looser" if steps > 0 else "tighter"
    return (f"The fresh balanced recommendation (#{recommendation.pk}) is {_percent(float(target))}, "
            f"{abs(steps)} rounding step(s) {direction} than the SLO of record's {_percent(slo.target)}.")


def slo_review_flag(*, service_ids: Iterable[str] | None = None) -> dict:
    """Flag (or clear) `review_due` on the active SLOs of these services
    (default: all) from their active recommendations; returns counts."""
    slos = ServiceLevelObjective.objects.filter(state=SloState.ACTIVE).select_related("service")
    recommendations = SloRecommendation.objects.filter(status=RecommendationStatus.ACTIVE)
    if service_ids is not None:
        service_ids = list(service_ids)
        slos = slos.filter(service__service_id__in=service_ids)
        recommendations = recommendations.filter(service__service_id__in=service_ids)
    fresh = {(r.service_id, r.sli_type, r.metric): r for r in recommendations}
    flagged = cleared = 0
    for slo in slos:
        recommendation = fresh.get((slo.service_id, slo.sli_type, slo.metric))
        if recommendation is None or recommendation.pk == slo.recommendation_id:
            continue
        reason = drift_reason(slo, recommendation)
        if reason and (not slo.review_due or slo.review_reason != reason):
            # A conditional update: a decision made meanwhile retired this row, so it is left alone.
            flagged += ServiceLevelObjective.objects.filter(pk=slo.pk, state=SloState.ACTIVE).update(
                review_due=True, review_reason=reason)
        elif not reason and slo.review_due:
            cleared += ServiceLevelObjective.objects.filter(pk=slo.pk, state=SloState.ACTIVE).update(
                review_due=False, review_reason="")
    return {"flagged": flagged, "cleared": cleared}


def slo_auto_approve(*, service_ids: Iterable[str] | None = None, config: dict | None = None) -> dict:
    """Accept the configured tier for matching services that have no SLO of
    record for a metric (config: `SLO_AUTO_APPROVE`; None: off). Returns counts."""
    config = settings.SLO_AUTO_APPROVE if config is None else config
    if not config:
        return {"approved": 0}
    tier = config.get("tier", "balanced")
    recommendations = (SloRecommendation.objects.filter(status=RecommendationStatus.ACTIVE)
                       .select_related("service").filter(service__retired_at__isnull=True))
    if config.get("criticality"):
        recommendations = recommendations.filter(service__criticality__in=config["criticality"])
    active_slos = ServiceLevelObjective.objects.filter(state=SloState.ACTIVE)
    # A person's "no" stands: metrics with a rejection are left to people.
    rejections = (SloChange.objects.filter(action=SloAction.REJECT, recommendation__isnull=False)
                  .exclude(Q(actor=AUTO_APPROVE_ACTOR)))
    if service_ids is not None:
        # A chunk of the batch reads its own services only, not the fleet.
        service_ids = list(service_ids)
        recommendations = recommendations.filter(service__service_id__in=service_ids)
        active_slos = active_slos.filter(service__service_id__in=service_ids)
        rejections = rejections.filter(service__service_id__in=service_ids)
    # Sets: no ORDER BY.
    covered = set(active_slos.order_by().values_list("service_id", "sli_type", "metric"))
    rejected = set(rejections.order_by().values_list("service_id", "recommendation__sli_type",
                                                     "recommendation__metric"))
    minimum = float(config.get("min_completeness", 0.0))
    approved = 0
    for recommendation in recommendations.order_by("service__service_id", "sli_type", "metric"):
        key = (recommendation.service_id, recommendation.sli_type, recommendation.metric)
        if key in covered or key in rejected:
            continue
        completeness = (recommendation.data_quality or {}).get("completeness", 0.0)
        if completeness is None or float(completeness) < minimum:
            continue
        try:
            slo_decide(service=recommendation.service, action=SloAction.AUTO_APPROVE,
                       recommendation_id=recommendation.pk, tier=tier, actor=AUTO_APPROVE_ACTOR,
                       rationale=f"Auto-approved by SLO_AUTO_APPROVE: {tier} tier, completeness "
                                 f"{float(completeness):.2f} >= {minimum:.2f}.")
        except DecisionError as exc:
            # E.g. superseded meanwhile, or a tier outside the allowed targets: skipped, said why.
            logger.info("auto-approval skipped %s %s: %s", recommendation.service.service_id,
                        recommendation.metric, exc)
            continue
        approved += 1
    return {"approved": approved}


def slo_review_after_recommendations(*, service_ids: Iterable[str]) -> dict:
    """What the daily batch does for SLOs once recommendations are fresh."""
    service_ids = list(service_ids)
    return {**slo_review_flag(service_ids=service_ids), **slo_auto_approve(service_ids=service_ids)}
