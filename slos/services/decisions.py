"""Accept, modify, reject and retire: every decision is one transaction that
writes the SLO of record and its audit row together.

Decisions on one service are serialised by locking the service row (SELECT
... FOR UPDATE on PostgreSQL), so two clients accepting at once run one after
the other: the second replaces the first's SLO with `version + 1`, and the
partial unique index guarantees one active SLO even if a writer bypassed this.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from graph.models import Service
from recommendations.models import RecommendationStatus, SloRecommendation
from slos.models import (
    TARGET_MAX,
    TARGET_MIN,
    ServiceLevelObjective,
    SloAction,
    SloChange,
    SloOrigin,
    SloSliType,
    SloState,
)

TIERS = ("conservative", "balanced", "aggressive")


class DecisionError(Exception):
    """A decision that breaks a rule; `field` names the input at fault."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field


class StaleRecommendation(DecisionError):
    """The recommendation is not the service's active one (409)."""


class NothingChanged(DecisionError):
    """A modify that changes nothing of the tier (422)."""


@dataclass(frozen=True)
class SloDecision:
    change: SloChange
    slo: ServiceLevelObjective | None
    retired: ServiceLevelObjective | None


def slo_snapshot(slo: ServiceLevelObjective | None) -> dict | None:
    """What the audit trail keeps of an SLO (its `before` and `after`)."""
    if slo is None:
        return None
    return {"slo_id": slo.pk, "sli_type": slo.sli_type, "metric": slo.metric, "target": slo.target,
            "threshold_ms": slo.threshold_ms, "window_days": slo.window_days, "origin": slo.origin,
            "version": slo.version, "state": slo.state,
            "recommendation_id": slo.recommendation_id}


def _locked_service(service: Service) -> Service:
    return Service.objects.select_for_update().get(pk=service.pk)


def _recommendation(service: Service, recommendation_id: int) -> SloRecommendation:
    recommendation = (SloRecommendation.objects.select_related("service")
                      .filter(pk=recommendation_id, service=service).first())
    if recommendation is None:
        # Unknown, or another service's: either way not this service's active one (section 13: 409).
        raise StaleRecommendation(f"Recommendation {recommendation_id} is not one of {service.service_id}'s; "
                                  "fetch its current recommendations and decide again.", field="recommendation_id")
    if recommendation.status != RecommendationStatus.ACTIVE:
        raise StaleRecommendation(
            f"Recommendation {recommendation_id} is {recommendation.status}, not the active one of "
            f"{service.service_id} {recommendation.metric}; fetch the current recommendations and decide again.",
            field="recommendation_id")
    return recommendation


def _tier_values(recommendation: SloRecommendation, tier: str) -> dict:
    values = (recommendation.tiers or {}).get(tier)
    if not isinstance(values, dict) or "target" not in values:
        raise DecisionError(f"Recommendation {recommendation.pk} has no tier {tier!r}.", field="tier")
    threshold = values.get("threshold_ms") if recommendation.sli_type == SloSliType.LATENCY else None
    return {"target": float(values["target"]), "threshold_ms": None if threshold is None else float(threshold),
            "window_days": recommendation.window_days}


def _check_target(target: float) -> None:
    if not TARGET_MIN <= target <= TARGET_MAX:
        raise DecisionError(f"target must be between {TARGET_MIN} and {TARGET_MAX}, got {target}.", field="target")


def _active(service: Service, sli_type: str, metric: str) -> ServiceLevelObjective | None:
    return (ServiceLevelObjective.objects
            .filter(service=service, sli_type=sli_type, metric=metric, state=SloState.ACTIVE).first())


def _retire(slo: ServiceLevelObjective, now) -> None:
    slo.state = SloState.RETIRED
    slo.retired_at = now
    slo.save(update_fields=["state", "retired_at", "updated_at"])


def _replace(*, service: Service, recommendation: SloRecommendation, values: dict, origin: str, actor: str,
             action: str, rationale: str) -> SloDecision:
    now = timezone.now()
    previous = _active(service, recommendation.sli_type, recommendation.metric)
    before = slo_snapshot(previous)
    if previous is not None:
        _retire(previous, now)
    last = (ServiceLevelObjective.objects
            .filter(service=service, sli_type=recommendation.sli_type, metric=recommendation.metric)
            .aggregate(version=Max("version"))["version"]) or 0
    slo = ServiceLevelObjective.objects.create(
        service=service, sli_type=recommendation.sli_type, metric=recommendation.metric,
        target=values["target"], threshold_ms=values["threshold_ms"], window_days=values["window_days"],
        origin=origin, recommendation=recommendation, state=SloState.ACTIVE, version=last + 1, created_by=actor,
    )
    change = SloChange.objects.create(
        service=service, slo=slo, action=action, actor=actor, rationale=rationale, before=before,
        after=slo_snapshot(slo), recommendation=recommendation,
    )
    return SloDecision(change=change, slo=slo, retired=previous)


def slo_decide(*, service: Service, action: str, recommendation_id: int, tier: str, actor: str,
               rationale: str = "", target: float | None = None, threshold_ms: float | None = None,
               window_days: int | None = None) -> SloDecision:
    """Record a decision on a recommendation's tier.

    * `accept` (and `auto_approve`): the tier as is becomes the SLO of record;
    * `modify`: the tier with the given `target` / `threshold_ms` /
      `window_days` (origin `custom`); NothingChanged if none differs;
    * `reject`: only the refusal is recorded (no SLO changes).

    A new SLO retires the active one of the same metric and takes its
    version + 1. Raises DecisionError (bad input), StaleRecommendation (not
    the active recommendation); nothing is written then.
    """
    if tier not in TIERS:
        raise DecisionError(f"tier must be one of {', '.join(TIERS)}, got {tier!r}.", field="tier")
    with transaction.atomic():
        service = _locked_service(service)
        recommendation = _recommendation(service, recommendation_id)
        values = _tier_values(recommendation, tier)
        if action == SloAction.REJECT:
            current = _active(service, recommendation.sli_type, recommendation.metric)
            change = SloChange.objects.create(
                service=service, slo=None, action=SloAction.REJECT, actor=actor, rationale=rationale,
                before=slo_snapshot(current), after={"tier": tier, "metric": recommendation.metric, **values},
                recommendation=recommendation,
            )
            return SloDecision(change=change, slo=None, retired=None)
        if action in (SloAction.ACCEPT, SloAction.AUTO_APPROVE):
            _check_target(values["target"])
            return _replace(service=service, recommendation=recommendation, values=values, origin=tier,
                            actor=actor, action=action, rationale=rationale)
        if action != SloAction.MODIFY:
            raise DecisionError(f"action must be accept, modify or reject, got {action!r}.", field="action")
        changed = dict(values)
        if target is not None:
            changed["target"] = float(target)
        if window_days is not None:
            changed["window_days"] = int(window_days)
        if threshold_ms is not None:
            if recommendation.sli_type != SloSliType.LATENCY:
                raise DecisionError("threshold_ms applies to latency SLOs only.", field="threshold_ms")
            if threshold_ms <= 0:
                raise DecisionError("threshold_ms must be positive.", field="threshold_ms")
            changed["threshold_ms"] = float(threshold_ms)
        _check_target(changed["target"])
        if changed == values:
            raise NothingChanged(f"The modification equals the {tier} tier; accept it instead, or change "
                                 "target, threshold_ms or window_days.", field="target")
        return _replace(service=service, recommendation=recommendation, values=changed, origin=SloOrigin.CUSTOM,
                        actor=actor, action=SloAction.MODIFY, rationale=rationale)


def slo_retire(*, slo: ServiceLevelObjective, actor: str, rationale: str = "") -> SloDecision:
    """Retire an active SLO (the service then has none for that metric).
    DecisionError if it is already retired."""
    with transaction.atomic():
        _locked_service(slo.service)
        slo = ServiceLevelObjective.objects.select_related("service").get(pk=slo.pk)
        if slo.state != SloState.ACTIVE:
            raise DecisionError(f"SLO {slo.pk} is already retired.", field="id")
        before = slo_snapshot(slo)
        _retire(slo, timezone.now())
        change = SloChange.objects.create(
            service=slo.service, slo=slo, action=SloAction.RETIRE, actor=actor, rationale=rationale,
            before=before, after=slo_snapshot(slo), recommendation_id=slo.recommendation_id,
        )
        return SloDecision(change=change, slo=slo, retired=slo)
