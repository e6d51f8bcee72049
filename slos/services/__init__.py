"""Writes of SLOs of record (DESIGN.md section 13): decisions, scoring, review."""

from slos.services.decisions import (
    DecisionError,
    NothingChanged,
    SloDecision,
    StaleRecommendation,
    slo_decide,
    slo_retire,
    slo_snapshot,
)
from slos.services.review import (
    AUTO_APPROVE_ACTOR,
    slo_auto_approve,
    slo_review_after_recommendations,
    slo_review_flag,
)
from slos.services.scoring import RefreshResult, slo_status_refresh

__all__ = [
    "AUTO_APPROVE_ACTOR",
    "DecisionError",
    "NothingChanged",
    "RefreshResult",
    "SloDecision",
    "StaleRecommendation",
    "slo_auto_approve",
    "slo_decide",
    "slo_retire",
    "slo_review_after_recommendations",
    "slo_review_flag",
    "slo_snapshot",
    "slo_status_refresh",
]
