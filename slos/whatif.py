"""What-if over the graph (DESIGN.md section 14): reads only, nothing is
written. The maths is `graph.domain.whatif`; this module gathers its inputs
(the hard sync graph, the availabilities the recommendations measured, the
SLOs of record) in a fixed number of queries, whatever the graph's size."""

from graph.domain.whatif import constraint_analysis, impact_analysis
from graph.models import Service
from graph.selectors import ServiceNotFound, hard_sync_graph
from recommendations.selectors import dependency_availabilities_fleet
from slos.selectors import slo_targets_active

# Decimal places of the bounds served: far below any SLO's resolution, and
# enough that a product recomputed by hand agrees.
_PLACES = 10
# Beyond this many services, reading every active SLO beats an IN list
# (Django resolves each value of one, about 0.1 ms apiece).
_SLO_IN_LIST_LIMIT = 50


def _active_or_raise(service_id: str) -> None:
    if not Service.objects.active().filter(service_id=service_id).exists():
        raise ServiceNotFound(service_id)


def _slo_targets(names: list[str]) -> dict[str, float]:
    if not names:
        return {}
    return slo_targets_active(service_ids=names if len(names) <= _SLO_IN_LIST_LIMIT else None)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, _PLACES)


def slo_target_of_record(*, service_id: str) -> float | None:
    """The target of the service's active availability SLO, if any. Raises
    ServiceNotFound for an unknown or retired service, so asking for its
    default target is a 404, not a missing target."""
    _active_or_raise(service_id)
    return slo_targets_active(service_ids=[service_id]).get(service_id)


def whatif_constraint_analysis(*, service_id: str, target: float, window_days: int) -> dict:
    """What `service_id`'s unique hard sync dependencies must provide for
    `target` over `window_days` (the response of DESIGN.md section 14).
    Raises ServiceNotFound for an unknown or retired service, ValueError
    for a target outside (0.5, 0.99999]. A handful of queries: the graph
    and the availabilities come from the cache when their inputs have not
    changed."""
    _active_or_raise(service_id)
    graph = hard_sync_graph()
    seen = dependency_availabilities_fleet()
    analysis = constraint_analysis(graph, service_id=service_id, target=target, availabilities=seen,
                                   window_days=window_days)
    slo = _slo_targets([d.service_id for d in analysis.dependencies])
    return {
        "service_id": service_id,
        "target": target,
        "window_days": window_days,
        "dependency_bound": _round(analysis.dependency_bound),
        "achievable": analysis.achievable,
        "own_budget_minutes": round(analysis.own_budget_minutes, 3),
        "dependencies": [
            {
                "service_id": dep.service_id,
                "members": list(dep.members),
                "depth": dep.depth,
                "availability": _round(dep.availability),
                "availability_basis": dep.availability_basis,
                "required_availability": _round(dep.required_availability),
                "extra_nine_availability": _round(dep.extra_nine_availability),
                "meets_required": dep.meets_required,
                "slo_target": slo.get(dep.service_id),
            }
            for dep in analysis.dependencies
        ],
        "warnings": analysis.warnings(),
    }


def whatif_impact_analysis(*, service_id: str, availability: float, max_depth: int = 10) -> dict:
    """Every service upstream of `service_id` through hard sync edges (within
    `max_depth`), with its dependency bound now and were `service_id` to run
    at `availability`, its SLO of record and whether that SLO is then above
    the bound (the response of DESIGN.md section 14). Raises ServiceNotFound
    for an unknown or retired service. A handful of queries, never one per
    service: one load of the whole hard sync graph (cached per graph
    version), the fleet's availabilities (cached under a fingerprint), the
    SLOs of record."""
    _active_or_raise(service_id)
    graph = hard_sync_graph()
    seen = dependency_availabilities_fleet()
    rows = impact_analysis(graph, service_id=service_id, availability=availability, availabilities=seen,
                           max_depth=max_depth)
    slo = _slo_targets([row.service_id for row in rows])
    impacted = []
    for row in rows:
        target = slo.get(row.service_id)
        impacted.append({
            "service_id": row.service_id,
            "depth": row.depth,
            "current_bound": _round(row.current_bound),
            "projected_bound": _round(row.projected_bound),
            "delta": _round(row.delta),
            "slo_target": target,
            "slo_at_risk": target is not None and target > row.projected_bound,
        })
    return {
        "service_id": service_id,
        "availability": availability,
        "current_availability": _round(seen.service.get(service_id)),
        "max_depth": max_depth,
        "impacted": impacted,
        "summary": {
            "impacted": len(impacted),
            "at_risk": sum(1 for row in impacted if row["slo_at_risk"]),
            "at_risk_already": sum(
                1 for row, item in zip(rows, impacted, strict=True)
                if item["slo_target"] is not None and item["slo_target"] > row.current_bound
            ),
        },
    }
