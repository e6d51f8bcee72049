"""Exports of active recommendations as YAML for SLO tooling.

* OpenSLO `openslo/v1` `SLO` documents (ratioMetric good/total, rolling
  timeWindow, budgetingMethod Occurrences, objective target in 0-1);
* Sloth `prometheus/v1` specs (objective in percent, events queries with
  `{{.window}}`);
* Prometheus rule groups: error-ratio recording rules and multiwindow
  multi-burn-rate alerts (Google SRE workbook, ch. 5) whose factors follow
  the SLO window: budget share x period / long window.

Queries are the ones the recommendations were computed from: the telemetry
source's PromQL templates for the service (the detected Collector or Tempo
naming; settings `PROMQL_*` and per-service `metadata.promql` win). Latency
SLOs count requests under the threshold from the same histogram, its `le`
bound written in the histogram's own unit.

Names meet what the tools accept: OpenSLO `metadata.name` and `spec.service`
are RFC 1123 labels (lowercase, at most 63 characters, a hash suffix when
shortened), the service_id kept in `displayName` and labels; Sloth gets no
empty label values and a header naming the `--default-slo-period` its
objectives were computed for.
"""

import hashlib
import logging
import re
from dataclasses import dataclass
from string import Template

import yaml
from django.conf import settings

from graph.models import Service
from recommendations.models import RecommendationSliType, SloRecommendation
from telemetry.sources import TelemetryError
from telemetry.sources.prometheus import PrometheusSource, histogram_of, le_matcher

logger = logging.getLogger(__name__)

EXPORT_FORMATS = ("openslo", "sloth", "prometheus")
TIERS = ("conservative", "balanced", "aggressive")
RFC1123_MAX = 63
_NOT_RFC1123 = re.compile(r"[^a-z0-9]+")
_LABEL_VALUE = re.compile(r"^[a-zA-Z0-9]([a-zA-Z0-9._-]{0,61}[a-zA-Z0-9])?$")


class ExportError(ValueError):
    """A recommendation cannot be written in the format asked for; `field` names the cause."""

    def __init__(self, message: str, *, field: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class BurnRateWindow:
    long: str
    short: str
    long_hours: float
    budget_share: float
    severity: str


# Share of the budget a burn spends before alerting, per (long, short) pair.
BURN_RATE_WINDOWS: tuple[BurnRateWindow, ...] = (
    BurnRateWindow("1h", "5m", 1, 0.02, "page"),
    BurnRateWindow("6h", "30m", 6, 0.05, "page"),
    BurnRateWindow("1d", "2h", 24, 0.10, "ticket"),
    BurnRateWindow("3d", "6h", 72, 0.10, "ticket"),
)


def burn_rate_factor(window: BurnRateWindow, *, window_days: int) -> float:
    """Budget share x SLO period / long window (28 d, 1h: 0.02 x 672 = 13.44)."""
    return round(window.budget_share * window_days * 24 / window.long_hours, 3)


def promql_templates(service: Service) -> dict[str, str]:
    """The PromQL templates the telemetry source uses for this service. With
    the demo source, or Prometheus unreachable and its naming never seen,
    the Collector's naming stands in."""
    # A short timeout: an export waits on Prometheus only for a naming it has not seen yet.
    source = PrometheusSource(base_url=settings.PROMETHEUS_URL, timeout=min(settings.PROMETHEUS_TIMEOUT_SECONDS, 2.0),
                              retries=0)
    detect = settings.TELEMETRY_SOURCE == "prometheus"
    try:
        return source.templates(service.metadata, detect=detect)
    except TelemetryError as exc:
        logger.warning("export of %s: span-metric naming unknown (%s); using the Collector's", service.service_id, exc)
        return source.templates(service.metadata, detect=False)


def event_queries(recommendation: SloRecommendation, tier: str) -> tuple[str, str, str]:
    """(good, errors, total) PromQL with `$window` left for the caller."""
    service = recommendation.service
    templates = promql_templates(service)
    if recommendation.sli_type == RecommendationSliType.AVAILABILITY:
        total = Template(templates["total"]).safe_substitute(service=service.service_id)
        errors = Template(templates["errors"]).safe_substitute(service=service.service_id)
        return f"({total}) - ({errors})", errors, total
    histogram = histogram_of(templates["latency"]) or histogram_of(templates["latency_buckets"])
    if histogram is None:
        raise ExportError(f"{service.service_id}: its latency query names no histogram (*_bucket) to count "
                          "requests under the threshold from", field="metadata.promql.latency")
    metric, selector, scale = histogram
    labels = Template(selector.strip("{}")).safe_substitute(service=service.service_id)
    prefix = f"{labels}," if labels.strip() else ""
    threshold = recommendation.tiers[tier]["threshold_ms"] / scale
    total = f'sum(increase({metric}{{{prefix}le="+Inf"}}[$window]))'
    good = f"sum(increase({metric}{{{prefix}{le_matcher(threshold)}}}[$window]))"
    return good, f"({total}) - ({good})", total


def _with_window(query: str, window: str) -> str:
    return Template(query).safe_substitute(window=window)


def rfc1123_name(text: str) -> str:
    """`text` as an RFC 1123 label (what OpenSLO names must be): lowercase,
    runs of other characters as `-`, at most 63 characters; when cut, the
    end is `-` and 8 hex digits of the SHA-256 of `text`, so two long ids
    sharing a prefix stay distinct."""
    slug = _NOT_RFC1123.sub("-", text.lower()).strip("-") or "slo"
    if len(slug) <= RFC1123_MAX:
        return slug
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return f"{slug[:RFC1123_MAX - 9].rstrip('-')}-{digest}"


def slo_name(recommendation: SloRecommendation) -> str:
    return rfc1123_name(f"{recommendation.service.service_id}-{recommendation.metric.replace('_', '-')}")


def _label_values(**values: str | None) -> dict[str, str]:
    """Labels whose values are non-empty and valid label values (OpenSLO: at
    most 63 characters, alphanumerics, `._-`); the others are left out."""
    return {key: value for key, value in values.items() if value and _LABEL_VALUE.match(value)}


def _description(recommendation: SloRecommendation, tier: str) -> str:
    values = recommendation.tiers[tier]
    if recommendation.sli_type == RecommendationSliType.AVAILABILITY:
        return (f"{tier} availability SLO recommended by SLO Engine on {recommendation.generated_at:%Y-%m-%d} "
                f"(estimated breach probability {values['estimated_breach_probability']:.2%})")
    return (f"{tier} latency SLO: {values['target']:.2%} of requests under {values['threshold_ms']:g} ms, "
            f"recommended by SLO Engine on {recommendation.generated_at:%Y-%m-%d}")


def to_openslo(recommendations: list[SloRecommendation], *, tier: str) -> str:
    """One OpenSLO v1 SLO document per recommendation (a YAML stream)."""
    documents = []
    for recommendation in recommendations:
        good, _errors, total = event_queries(recommendation, tier)
        name = slo_name(recommendation)
        documents.append({
            "apiVersion": "openslo/v1",
            "kind": "SLO",
            "metadata": {
                "name": name,
                "displayName": f"{recommendation.service.service_id} {recommendation.metric}",
                "labels": _label_values(service_id=recommendation.service.service_id,
                                        team=recommendation.service.team, tier=tier, managed_by="slo-engine"),
            },
            "spec": {
                "description": _description(recommendation, tier),
                "service": rfc1123_name(recommendation.service.service_id),
                "indicator": {
                    "metadata": {"name": rfc1123_name(f"{name}-sli") if len(name) + 4 > RFC1123_MAX
                                 else f"{name}-sli",
                                 "displayName": f"{recommendation.service.service_id} {recommendation.metric} SLI"},
                    "spec": {"ratioMetric": {
                        "counter": False,
                        "good": {"metricSource": {"type": "Prometheus",
                                                  "spec": {"query": _with_window(good, "5m")}}},
                        "total": {"metricSource": {"type": "Prometheus",
                                                   "spec": {"query": _with_window(total, "5m")}}},
                    }},
                },
                "timeWindow": [{"duration": f"{recommendation.window_days}d", "isRolling": True}],
                "budgetingMethod": "Occurrences",
                "objectives": [{"displayName": tier, "target": recommendation.tiers[tier]["target"]}],
            },
        })
    return yaml.safe_dump_all(documents, sort_keys=False)


def to_sloth(service: Service, recommendations: list[SloRecommendation], *, tier: str) -> str:
    """A Sloth prometheus/v1 spec with one SLO per recommendation."""
    slos = []
    for recommendation in recommendations:
        _good, errors, total = event_queries(recommendation, tier)
        slos.append({
            "name": recommendation.metric.replace("_", "-"),
            "objective": round(recommendation.tiers[tier]["target"] * 100, 6),
            "description": _description(recommendation, tier),
            "sli": {"events": {"error_query": _with_window(errors, "{{.window}}"),
                               "total_query": _with_window(total, "{{.window}}")}},
            "alerting": {
                "name": f"{service.service_id}-{recommendation.metric}-slo".replace("_", "-"),
                "page_alert": {"labels": {"severity": "page"}},
                "ticket_alert": {"labels": {"severity": "ticket"}},
            },
        })
    # Sloth rejects a whole file over one empty label value.
    labels = {"managed_by": "slo-engine", **({"team": service.team} if service.team else {})}
    document = {"version": "prometheus/v1", "service": service.service_id, "labels": labels, "slos": slos}
    # The spec has no period field: Sloth applies --default-slo-period (30d
    # unless told) to every SLO of the file.
    windows = sorted({r.window_days for r in recommendations}) or [settings.SLO_WINDOW_DAYS]
    header = "".join(
        f"# Objectives computed for a {days}-day SLO window: generate with "
        f"`sloth generate --default-slo-period={days}d -i <this file>`"
        f"{' (also the default)' if days == 30 else ''}.\n"
        for days in windows
    )
    return header + yaml.safe_dump(document, sort_keys=False)


def to_prometheus_rules(service: Service, recommendations: list[SloRecommendation], *, tier: str) -> str:
    """Prometheus rule groups: error-ratio recording rules for every window
    the alerts use, and multiwindow multi-burn-rate alerts."""
    groups = []
    for recommendation in recommendations:
        _good, errors, total = event_queries(recommendation, tier)
        target = recommendation.tiers[tier]["target"]
        budget = round(1.0 - target, 12)
        labels = {"service": service.service_id, "slo": recommendation.metric, "tier": tier}
        windows = sorted({w for pair in BURN_RATE_WINDOWS for w in (pair.long, pair.short)},
                         key=lambda w: _window_seconds(w))
        record = "slo:sli_error:ratio_rate"
        rules: list[dict] = [
            {"record": f"{record}{window}",
             "expr": f"({_with_window(errors, window)})\n/\n({_with_window(total, window)})",
             "labels": labels}
            for window in windows
        ]
        selector = ",".join(f'{k}="{v}"' for k, v in labels.items())
        for pair in BURN_RATE_WINDOWS:
            factor = burn_rate_factor(pair, window_days=recommendation.window_days)
            rules.append({
                "alert": f"{_camel(service.service_id)}{_camel(recommendation.metric)}BurnRate{pair.long}",
                "expr": (f"{record}{pair.long}{{{selector}}} > ({factor} * {budget})\n"
                         f"and\n{record}{pair.short}{{{selector}}} > ({factor} * {budget})"),
                "labels": {**labels, "severity": pair.severity, "long_window": pair.long,
                           "short_window": pair.short, "burn_rate_factor": f"{factor:g}"},
                "annotations": {
                    "summary": f"{service.service_id} {recommendation.metric} is burning its error budget "
                               f"{factor:g}x too fast",
                    "description": f"At this rate {pair.budget_share:.0%} of the {recommendation.window_days}-day "
                                   f"error budget ({budget:g}) is spent within {pair.long}.",
                },
            })
        groups.append({"name": f"slo-engine-{slo_name(recommendation)}", "rules": rules})
    return yaml.safe_dump({"groups": groups}, sort_keys=False)


def _camel(text: str) -> str:
    return "".join(part.capitalize() for part in text.replace("-", "_").split("_"))


def _window_seconds(window: str) -> int:
    return int(window[:-1]) * {"m": 60, "h": 3600, "d": 86400}[window[-1]]


def export_recommendations(service: Service, recommendations: list[SloRecommendation], *, export_format: str,
                           tier: str) -> str:
    """YAML of `recommendations` in `export_format` for `tier`."""
    if export_format == "openslo":
        return to_openslo(recommendations, tier=tier)
    if export_format == "sloth":
        return to_sloth(service, recommendations, tier=tier)
    if export_format == "prometheus":
        return to_prometheus_rules(service, recommendations, tier=tier)
    raise ValueError(f"unknown export format {export_format!r}")
