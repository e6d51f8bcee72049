"""Pages for people: the service map (`/`) and a page per service.

The map is drawn in the browser from the same JSON API that clients use
(`/api/v1/graph`, the subgraph query, the alert list), authenticated by the
staff session. The service page is rendered here from the catalog, the
effective edges and the active recommendations; its SLI history chart loads
`sli-history.json` (below) so a slow telemetry backend never delays the page.
"""

from datetime import UTC, date, datetime, timedelta

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone

from graph.models import Service, ServiceCriticality
from graph.selectors import service_direct_edges
from recommendations.models import SloRecommendation
from recommendations.selectors import backtest_latest, recommendations_active
from recommendations.services import last_complete_day
from telemetry.sources import TelemetryError, get_telemetry_source
from web.slo_pages import SLO_HEALTH_BANDS, service_slo_context

# History shown when a service has no recommendation to take a lookback from.
DEFAULT_HISTORY_DAYS = 30
MAX_HISTORY_DAYS = 180
TIER_NAMES = ("conservative", "balanced", "aggressive")
EXPORT_FORMATS = (("openslo", "OpenSLO"), ("sloth", "Sloth"), ("prometheus", "Prometheus rules"))


def metric_label(metric: str) -> str:
    """"latency_p99" -> "Latency p99", "availability" -> "Availability"."""
    return metric.replace("_", " ").capitalize()


def percent(value: float | None, *, digits: int = 3) -> str:
    """0.99953 -> "99.953%"; trailing zeros dropped; "–" for no value."""
    if value is None:
        return "–"
    text = f"{value * 100:.{digits}f}".rstrip("0").rstrip(".")
    return f"{text}%"


def _interval(values) -> str:
    """A confidence interval as text; availabilities as percentages, else ms."""
    if not isinstance(values, list | tuple) or len(values) != 2 or None in values:
        return "–"
    low, high = values
    if 0 <= low <= 1 and 0 <= high <= 1:
        return f"{percent(low)} – {percent(high)}"
    return f"{low:,.0f} – {high:,.0f} ms"


def _tier_rows(recommendation: SloRecommendation) -> list[dict]:
    """The three tiers in display order, with their numbers as text."""
    rows = []
    for name in TIER_NAMES:
        tier = (recommendation.tiers or {}).get(name)
        if not isinstance(tier, dict):
            continue
        row = {
            "name": name,
            "target": percent(tier.get("target")),
            "breach_probability": percent(tier.get("estimated_breach_probability"), digits=1),
            "interval": _interval(tier.get("confidence_interval")),
        }
        if tier.get("threshold_ms") is not None:
            row["threshold"] = f"p{tier.get('percentile', 99):g} ≤ {tier['threshold_ms']:,.0f} ms"
        if tier.get("error_budget_minutes") is not None:
            row["error_budget"] = f"{tier['error_budget_minutes']:,.0f} min"
        if tier.get("historical_windows"):
            row["history"] = f"{tier.get('historical_breaches', 0)} of {tier['historical_windows']} past windows"
        rows.append(row)
    return rows


def _explanation(recommendation: SloRecommendation) -> dict:
    """The explanation with its numbers as text: attributions and the
    dependency budget table."""
    explanation = recommendation.explanation or {}
    attributions = [
        {
            "feature": str(item.get("feature", "")).replace("_", " ").capitalize(),
            "contribution": f"{item.get('contribution', 0) * 100:+.4f} pp",
            "description": item.get("description", ""),
        }
        for item in explanation.get("feature_attributions") or []
    ]
    impact = explanation.get("dependency_impact") or {}
    dependencies = [
        {
            "service_id": item.get("service_id", ""),
            "availability": percent(item.get("availability")),
            "basis": {"edge": "its calls", "service": "own"}.get(item.get("availability_basis") or "", ""),
            "budget_share": percent(item.get("budget_share"), digits=1),
            "flags": [flag.replace("_", " ") for flag in item.get("flags") or []],
        }
        for item in impact.get("dependencies") or []
    ]
    return {
        "summary": explanation.get("summary", ""),
        "observed": percent(explanation.get("observed_availability")),
        "attributions": attributions,
        "bound": percent(impact.get("composite_availability_bound")) if impact else "",
        "bottleneck": impact.get("bottleneck_service") or "",
        "binding_text": _binding_text(impact),
        "dependencies": dependencies,
        "warnings": [str(w) for w in explanation.get("warnings") or []],
    }


def _binding_text(impact: dict) -> str:
    """In words: does the dependency ceiling cap the tiers (`binding`)?"""
    if "binding" not in impact:
        return ""
    bound = percent(impact.get("composite_availability_bound"))
    if impact["binding"]:
        return (f"The dependency ceiling binds: the service did not do better than its hard dependencies' "
                f"product ({bound}), so no tier is set above it.")
    share = impact.get("absorbed_failure_share")
    if share is None:
        return "No dependency ceiling: no hard synchronous dependency has data."
    return (f"The dependency ceiling does not bind: the service did better than its hard dependencies' "
            f"product ({bound}), so their failures are absorbed (retries, fallbacks: "
            f"{percent(share, digits=1)} of them) and the ceiling does not cap the tiers.")


def _quality_badges(recommendations: list[SloRecommendation]) -> list[dict]:
    """Badges a reader should notice before trusting the numbers."""
    badges = []
    for recommendation in recommendations:
        quality = recommendation.data_quality or {}
        label = metric_label(recommendation.metric)
        if quality.get("is_cold_start"):
            days = quality.get("days_with_data")
            badges.append({"kind": "cold-start", "text": f"Cold start ({days} days of data)", "metric": label})
        if quality.get("low_traffic"):
            badges.append({"kind": "low-traffic", "text": "Low traffic", "metric": label})
        if quality.get("rejected_points"):
            badges.append(
                {"kind": "rejected", "text": f"{quality['rejected_points']} rejected points", "metric": label}
            )
    unique = {(b["kind"], b["text"]): b for b in badges}
    return list(unique.values())


@staff_member_required
def service_map(request: HttpRequest) -> HttpResponse:
    """The interactive map; `?focus=<service_id>` opens focused on one service."""
    return render(
        request,
        "pages/service_map.html",
        {
            "focus": request.GET.get("focus", ""),
            "criticalities": ServiceCriticality.values,
            "depths": range(1, 11),
            "slo_health_bands": SLO_HEALTH_BANDS,
        },
    )


@staff_member_required
def service_detail(request: HttpRequest, service_id: str) -> HttpResponse:
    """Catalog facts, edges and the active recommendations of one service."""
    service = get_object_or_404(Service, service_id=service_id)
    dependencies, dependents = service_direct_edges(service=service)
    recommendations = list(recommendations_active(service=service))
    api_base = f"/api/v1/services/{service.service_id}"
    return render(
        request,
        "pages/service_detail.html",
        {
            "service": service,
            "dependencies": dependencies,
            "dependents": dependents,
            "recommendations": [
                {"object": r, "label": metric_label(r.metric), "tiers": _tier_rows(r), "explanation": _explanation(r)}
                for r in recommendations
            ],
            "badges": _quality_badges(recommendations),
            "tier_names": TIER_NAMES,
            "export_formats": EXPORT_FORMATS,
            "admin_url": reverse("admin:graph_service_change", args=[service.pk]),
            **service_slo_context(service=service, recommendations=recommendations),
            "page_data": {
                "service_id": service.service_id,
                "api_base": api_base,
                "history_url": reverse("page-service-sli-history", args=[service.service_id]),
                "recommendations": [
                    {
                        "sli_type": r.sli_type,
                        "metric": r.metric,
                        "tiers": r.tiers,
                        "explanation": r.explanation,
                        "data_quality": r.data_quality,
                    }
                    for r in recommendations
                ],
            },
        },
    )


def _history_window(recommendations: list[SloRecommendation]) -> tuple[date, date]:
    """The days the recommendations looked at (so the chart shows what they
    saw; their lookback end is an exclusive midnight), else the last
    DEFAULT_HISTORY_DAYS complete days (up to yesterday, like the recommender)."""
    windows = [(r.lookback_window_start, r.lookback_window_end) for r in recommendations]
    if windows:
        start_day = _as_day(min(w[0] for w in windows))
        end_day = _as_day(max(w[1] for w in windows) - timedelta(microseconds=1))
        if end_day >= start_day:
            return max(start_day, end_day - timedelta(days=MAX_HISTORY_DAYS - 1)), end_day
    end_day = last_complete_day(timezone.now())
    return end_day - timedelta(days=DEFAULT_HISTORY_DAYS - 1), end_day


def _as_day(value: datetime) -> date:
    return value.astimezone(UTC).date() if timezone.is_aware(value) else value.date()


@staff_member_required
def service_sli_history(request: HttpRequest, service_id: str) -> JsonResponse:
    """Daily availability and p99 latency of one service, for the chart.

    Out: `{"service_id", "start", "end", "days_with_data", "lookback_days",
    "days": [{"day", "availability", "total", "latency_p99_ms"}], "error"}`;
    `error` is a sentence when the telemetry source failed (status 503).
    """
    service = get_object_or_404(Service, service_id=service_id)
    start, end = _history_window(list(recommendations_active(service=service)))
    payload = {
        "service_id": service.service_id,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "lookback_days": (end - start).days + 1,
        "days_with_data": 0,
        "days": [],
        "error": None,
    }
    try:
        history = get_telemetry_source().daily_history(
            service.service_id, start=start, end=end, metadata=service.metadata
        )
    except TelemetryError as exc:
        payload["error"] = f"Telemetry is unavailable: {exc}"
        return JsonResponse(payload, status=503)
    by_day = {point.day: point for point in history.days}
    days = []
    # One entry per calendar day, so gaps in the data show as gaps in the chart.
    for offset in range((end - start).days + 1):
        day = start + timedelta(days=offset)
        point = by_day.get(day)
        # Days with good > total are bad data that the recommender rejects too.
        valid = point is not None and point.total > 0 and point.good <= point.total
        days.append(
            {
                "day": day.isoformat(),
                "availability": point.good / point.total if valid else None,
                "total": point.total if point else None,
                "latency_p99_ms": point.latency_ms.get(99) if point and point.latency_ms else None,
            }
        )
    payload["days"] = days
    payload["days_with_data"] = len(by_day)
    return JsonResponse(payload)


@staff_member_required
def calibration(request: HttpRequest) -> HttpResponse:
    """The latest walk-forward backtest: per tier the headline figures and a
    reliability diagram (drawn in the browser from the embedded run)."""
    backtest = backtest_latest()
    tiers = []
    if backtest is not None:
        for name in TIER_NAMES:
            tier = backtest.tiers.get(name) or {}
            tiers.append({"name": name, "pairs": tier.get("pairs", 0),
                          "stated": percent(tier.get("mean_stated_probability"), digits=2),
                          "realised": percent(tier.get("realised_breach_rate"), digits=2)})
    return render(request, "pages/calibration.html", {
        "backtest": backtest,
        "tiers": tiers,
        "page_data": {"tiers": backtest.tiers if backtest else {}, "tier_names": TIER_NAMES},
    })
