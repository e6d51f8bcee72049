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

The builders take one `Objective` (service, SLI, target, threshold, window,
labels, description), so the SLOs of record (`slos.exporters`) are written
by the same code.
"""

import hashlib
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from string import Template

import yaml
from django.conf import settings

from graph.models import Service
from recommendations.domain.burn import ALERT_WINDOWS, BURN_RATE_WINDOWS
from recommendations.models import RecommendationSliType, SloRecommendation
from telemetry.sources import TelemetryError
from telemetry.sources.prometheus import PrometheusSource, histogram_of, le_matcher

logger = logging.getLogger(__name__)

EXPORT_FORMATS = ("openslo", "sloth", "prometheus")
TIERS = ("conservative", "balanced", "aggressive")
RFC1123_MAX = 63
ERROR_RATIO_RECORD = "slo:sli_error:ratio_rate"
_NOT_RFC1123 = re.compile(r"[^a-z0-9]+")
_LABEL_VALUE = re.compile(r"^[a-zA-Z0-9]([a-zA-Z0-9._-]{0,61}[a-zA-Z0-9])?$")


class ExportError(ValueError):
    """A recommendation cannot be written in the format asked for; `field` names the cause."""

    def __init__(self, message: str, *, field: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Objective:
    """One SLO to export, whatever it comes from: a recommendation's tier or
    an SLO of record. `name` is the objective's display name (the tier or
    the origin); `labels` identify it (`tier`, `slo_version`) in the
    OpenSLO metadata and on the Prometheus rules."""

    service: Service
    sli_type: str
    metric: str
    target: float
    threshold_ms: float | None
    window_days: int
    name: str
    description: str
    labels: dict[str, str] = field(default_factory=dict)


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


def event_queries(service: Service, sli_type: str, threshold_ms: float | None) -> tuple[str, str, str]:
    """(good, errors, total) PromQL of one SLI of `service` with `$window`
    left for the caller; latency counts requests under `threshold_ms`."""
    templates = promql_templates(service)
    if sli_type == RecommendationSliType.AVAILABILITY:
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
    threshold = threshold_ms / scale
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


def slo_name(service_id: str, metric: str) -> str:
    """The RFC 1123 name of one SLO of a service (`checkout-latency-p99`)."""
    return rfc1123_name(f"{service_id}-{metric.replace('_', '-')}")


def _label_values(**values: str | None) -> dict[str, str]:
    """Labels whose values are non-empty and valid label values (OpenSLO: at
    most 63 characters, alphanumerics, `._-`); the others are left out."""
    return {key: value for key, value in values.items() if value and _LABEL_VALUE.match(value)}


def _camel(text: str) -> str:
    return "".join(part.capitalize() for part in text.replace("-", "_").split("_"))


def openslo_document(objective: Objective) -> dict:
    """One OpenSLO v1 `SLO` document."""
    service = objective.service
    good, _errors, total = event_queries(service, objective.sli_type, objective.threshold_ms)
    name = slo_name(service.service_id, objective.metric)
    return {
        "apiVersion": "openslo/v1",
        "kind": "SLO",
        "metadata": {
            "name": name,
            "displayName": f"{service.service_id} {objective.metric}",
            "labels": _label_values(service_id=service.service_id, team=service.team, **objective.labels,
                                    managed_by="slo-engine"),
        },
        "spec": {
            "description": objective.description,
            "service": rfc1123_name(service.service_id),
            "indicator": {
                "metadata": {"name": rfc1123_name(f"{name}-sli") if len(name) + 4 > RFC1123_MAX else f"{name}-sli",
                             "displayName": f"{service.service_id} {objective.metric} SLI"},
                "spec": {"ratioMetric": {
                    "counter": False,
                    "good": {"metricSource": {"type": "Prometheus", "spec": {"query": _with_window(good, "5m")}}},
                    "total": {"metricSource": {"type": "Prometheus", "spec": {"query": _with_window(total, "5m")}}},
                }},
            },
            "timeWindow": [{"duration": f"{objective.window_days}d", "isRolling": True}],
            "budgetingMethod": "Occurrences",
            "objectives": [{"displayName": objective.name, "target": objective.target}],
        },
    }


def sloth_spec(service: Service, objectives: list[Objective]) -> str:
    """A Sloth prometheus/v1 spec with one SLO per objective of `service`,
    headed by the `--default-slo-period` to generate it with."""
    slos = []
    for objective in objectives:
        _good, errors, total = event_queries(service, objective.sli_type, objective.threshold_ms)
        slos.append({
            "name": objective.metric.replace("_", "-"),
            "objective": round(objective.target * 100, 6),
            "description": objective.description,
            "sli": {"events": {"error_query": _with_window(errors, "{{.window}}"),
                               "total_query": _with_window(total, "{{.window}}")}},
            "alerting": {
                "name": f"{service.service_id}-{objective.metric}-slo".replace("_", "-"),
                "page_alert": {"labels": {"severity": "page"}},
                "ticket_alert": {"labels": {"severity": "ticket"}},
            },
        })
    # Sloth rejects a whole file over one empty label value.
    labels = {"managed_by": "slo-engine", **({"team": service.team} if service.team else {})}
    document = {"version": "prometheus/v1", "service": service.service_id, "labels": labels, "slos": slos}
    # The spec has no period field: Sloth applies --default-slo-period (30d
    # unless told) to every SLO of the file.
    windows = sorted({o.window_days for o in objectives}) or [settings.SLO_WINDOW_DAYS]
    header = "".join(
        f"# Objectives computed for a {days}-day SLO window: generate with "
        f"`sloth generate --default-slo-period={days}d -i <this file>`"
        f"{' (also the default)' if days == 30 else ''}.\n"
        for days in windows
    )
    return header + yaml.safe_dump(document, sort_keys=False)


def prometheus_group(objective: Objective) -> dict:
    """One rule group: error-ratio recording rules for every window the
    alerts use, and the multiwindow multi-burn-rate alerts."""
    service = objective.service
    _good, errors, total = event_queries(service, objective.sli_type, objective.threshold_ms)
    budget = round(1.0 - objective.target, 12)
    labels = {"service": service.service_id, "slo": objective.metric, **objective.labels}
    rules: list[dict] = [
        {"record": f"{ERROR_RATIO_RECORD}{window}",
         "expr": f"({_with_window(errors, window)})\n/\n({_with_window(total, window)})",
         "labels": labels}
        for window in ALERT_WINDOWS
    ]
    selector = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for pair in BURN_RATE_WINDOWS:
        factor = pair.threshold(objective.window_days)
        rules.append({
            "alert": f"{_camel(service.service_id)}{_camel(objective.metric)}BurnRate{pair.long}",
            "expr": (f"{ERROR_RATIO_RECORD}{pair.long}{{{selector}}} > ({factor} * {budget})\n"
                     f"and\n{ERROR_RATIO_RECORD}{pair.short}{{{selector}}} > ({factor} * {budget})"),
            "labels": {**labels, "severity": pair.severity, "long_window": pair.long,
                       "short_window": pair.short, "burn_rate_factor": f"{factor:g}"},
            "annotations": {
                "summary": f"{service.service_id} {objective.metric} is burning its error budget {factor:g}x too fast",
                "description": f"At this rate {pair.budget_share:.0%} of the {objective.window_days}-day "
                               f"error budget ({budget:g}) is spent within {pair.long}.",
            },
        })
    return {"name": f"slo-engine-{slo_name(service.service_id, objective.metric)}", "rules": rules}


def dump_openslo(objectives: Iterable[Objective]) -> str:
    """OpenSLO documents of `objectives` as one YAML stream."""
    return yaml.safe_dump_all([openslo_document(o) for o in objectives], sort_keys=False)


def dump_prometheus_rules(objectives: Iterable[Objective]) -> str:
    """One Prometheus rule file with a group per objective."""
    return yaml.safe_dump({"groups": [prometheus_group(o) for o in objectives]}, sort_keys=False)


def _description(recommendation: SloRecommendation, tier: str) -> str:
    values = recommendation.tiers[tier]
    if recommendation.sli_type == RecommendationSliType.AVAILABILITY:
        return (f"{tier} availability SLO recommended by SLO Engine on {recommendation.generated_at:%Y-%m-%d} "
                f"(estimated breach probability {values['estimated_breach_probability']:.2%})")
    return (f"{tier} latency SLO: {values['target']:.2%} of requests under {values['threshold_ms']:g} ms, "
            f"recommended by SLO Engine on {recommendation.generated_at:%Y-%m-%d}")


def recommendation_objective(recommendation: SloRecommendation, tier: str) -> Objective:
    """A recommendation's `tier` as an exportable objective."""
    values = recommendation.tiers[tier]
    return Objective(service=recommendation.service, sli_type=recommendation.sli_type, metric=recommendation.metric,
                     target=values["target"], threshold_ms=values.get("threshold_ms"),
                     window_days=recommendation.window_days, name=tier,
                     description=_description(recommendation, tier), labels={"tier": tier})


def export_recommendations(service: Service, recommendations: list[SloRecommendation], *, export_format: str,
                           tier: str) -> str:
    """YAML of `recommendations` in `export_format` for `tier`."""
    objectives = [recommendation_objective(r, tier) for r in recommendations]
    if export_format == "openslo":
        return dump_openslo(objectives)
    if export_format == "sloth":
        return sloth_spec(service, objectives)
    if export_format == "prometheus":
        return dump_prometheus_rules(objectives)
    raise ValueError(f"unknown export format {export_format!r}")
