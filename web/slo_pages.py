"""The SLO pages: `/slos/` (the fleet's SLOs of record) and the SLO panel of
the service page (the SLO of record, its burn-down, burn rates and trail,
and the decision controls beside each recommendation's tiers)."""

from django.contrib.admin.views.decorators import staff_member_required
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from graph.models import Service, ServiceCriticality
from recommendations.models import SloRecommendation
from slos.domain.budget import BURN_RATE_WINDOWS, burn_down_points
from slos.filtersets import ORDERINGS, SloFilterSet
from slos.models import TARGET_MAX, TARGET_MIN, ServiceLevelObjective, SloHealth
from slos.selectors import slo_history, slo_list_active, slos_of_service

FLEET_PAGE_SIZE = 100
TRAIL_LENGTH = 20
SLO_HEALTH_BANDS = tuple(SloHealth.values)


def _burn(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}×"


def _status(slo: ServiceLevelObjective):
    # A reverse one-to-one with no row raises an AttributeError subclass.
    return getattr(slo, "status", None)


def slo_row(slo: ServiceLevelObjective) -> dict:
    """One SLO with its status as text, for the tables."""
    from web.views import metric_label, percent  # web.views imports this module
    status = _status(slo)
    rates = (status.burn_rates if status else {}) or {}
    row = {
        "object": slo,
        "service_id": slo.service.service_id,
        "metric": metric_label(slo.metric),
        "objective": (f"{percent(slo.target)} under {slo.threshold_ms:g} ms" if slo.threshold_ms is not None
                      else percent(slo.target)),
        "health": status.health if status else SloHealth.UNKNOWN,
        "scored": status is not None,
        "stale": bool(status and status.stale),
        "budget_left": percent(status.budget_remaining, digits=1) if status else "–",
        "budget_left_value": status.budget_remaining if status else None,
        "minutes_left": (f"{status.budget_remaining_minutes:,.0f} of {status.budget_total_minutes:,.0f} min"
                         if status and status.budget_remaining_minutes is not None and slo.threshold_ms is None
                         else ""),
        "window_availability": percent(status.window_availability, digits=4) if status else "–",
        "burn_rates": [{"window": w, "value": _burn(rates.get(w)),
                        "hot": rates.get(w) is not None and rates[w] > 1} for w in BURN_RATE_WINDOWS],
        "firing": status.firing if status else None,
        "exhaustion_at": status.exhaustion_at if status else None,
        "computed_at": status.computed_at if status else None,
        "error": status.error if status else "",
    }
    return row


@staff_member_required
def slo_fleet(request: HttpRequest) -> HttpResponse:
    """Every active SLO with its status; filters and ordering as the API's."""
    params = request.GET.copy()
    params.pop("page", None)
    filterset = SloFilterSet(data={k: v for k, v in params.items() if v != ""},
                             queryset=slo_list_active())
    valid = filterset.is_valid()
    rows = filterset.qs if valid else ServiceLevelObjective.objects.none()
    page = Paginator(rows, FLEET_PAGE_SIZE).get_page(request.GET.get("page"))
    counts = dict.fromkeys(SloHealth.values, 0)
    for item in slo_list_active().order_by().values("status__health").annotate(n=Count("pk")):
        counts[item["status__health"] or SloHealth.UNKNOWN] += item["n"]
    ordering = params.get("ordering", "")
    base = params.copy()
    base.pop("ordering", None)

    def sort_link(field: str) -> str:
        query = base.copy()
        query["ordering"] = field if ordering != field else f"-{field}"
        return "?" + query.urlencode()

    return render(request, "pages/slos.html", {
        "rows": [slo_row(slo) for slo in page.object_list],
        "page": page,
        "page_query": params.urlencode(),
        "filters": {k: params.get(k, "") for k in ("health", "team", "criticality", "review_due")},
        "errors": {} if valid else filterset.errors,
        "healths": SloHealth.values,
        "counts": counts,
        "teams": sorted(t for t in Service.objects.active().exclude(team__isnull=True)
                        .values_list("team", flat=True).distinct() if t),
        "criticalities": ServiceCriticality.values,
        "ordering": ordering,
        "orderings": list(ORDERINGS),
        "sort_budget": sort_link("budget_remaining"),
        "sort_exhaustion": sort_link("exhaustion_at"),
    })


def trail_row(change) -> dict:
    """One audit-trail row with what changed as a sentence fragment."""
    from web.views import percent  # web.views imports this module
    before, after = change.before or {}, change.after or {}
    metric = (after.get("metric") or before.get("metric") or "").replace("_", " ")
    if before.get("target") is not None and after.get("target") is not None and change.action != "retire":
        what = f"{percent(before['target'])} → {percent(after['target'])}"
    else:
        what = percent(after.get("target", before.get("target")))
    if after.get("threshold_ms"):
        what += f" under {after['threshold_ms']:g} ms"
    if after.get("version"):
        what += f" (v{after['version']})"
    if after.get("tier"):
        what += f", {after['tier']} tier"
    return {"at": change.at, "action": change.action, "actor": change.actor, "what": f"{metric} {what}".strip(),
            "rationale": change.rationale}


def service_slo_context(*, service: Service, recommendations: list[SloRecommendation]) -> dict:
    """What the service page's SLO panel and decision controls need."""
    slos = slos_of_service(service=service)
    by_metric = {(slo.sli_type, slo.metric): slo for slo in slos}
    return {
        "slo_rows": [slo_row(slo) for slo in slos],
        "slo_trail": [trail_row(change) for change in slo_history(service=service)[:TRAIL_LENGTH]],
        "slo_of_record": {r.pk: by_metric.get((r.sli_type, r.metric)) for r in recommendations},
        "slo_target_bounds": {"min": TARGET_MIN * 100, "max": TARGET_MAX * 100},
        "slo_page_data": {
            "service_id": service.service_id,
            "slos_url": f"/api/v1/services/{service.service_id}/slos",
            "burn_down": {str(slo.pk): burn_down_points(slo.status.burn_down if _status(slo) else [])
                          for slo in slos},
        },
    }
