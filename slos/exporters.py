"""SLO-as-code: the fleet's SLOs of record as OpenSLO, Sloth or Prometheus
rules (DESIGN.md section 13), for a GitOps repository.

Built on the recommendation exporters' blocks (`recommendations.exporters`):
the same PromQL (the telemetry source's templates, `PROMQL_*` settings and
per-service `metadata.promql`), the same burn-rate windows and factors. The
difference: the target is the committed one, not a tier's, and one bundle
holds every SLO.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import groupby
from string import Template
from types import SimpleNamespace

import yaml

from recommendations.exporters import BURN_RATE_WINDOWS, ExportError, burn_rate_factor, event_queries, rfc1123_name
from slos.models import ServiceLevelObjective, SloSliType

EXPORT_FORMATS = ("openslo", "sloth", "prometheus")
__all__ = ["EXPORT_FORMATS", "ExportError", "export_file_name", "export_slos"]
ERROR_RATIO_RECORD = "slo:sli_error:ratio_rate"


def _queries(slo: ServiceLevelObjective) -> tuple[str, str, str]:
    """(good, errors, total) PromQL with `$window` open, from the
    recommendation exporter (which reads a tier's threshold: the SLO's own)."""
    as_recommendation = SimpleNamespace(service=slo.service, sli_type=slo.sli_type,
                                        tiers={"record": {"threshold_ms": slo.threshold_ms}})
    return event_queries(as_recommendation, "record")


def _with_window(query: str, window: str) -> str:
    return Template(query).safe_substitute(window=window)


def slo_name(slo: ServiceLevelObjective) -> str:
    """An RFC 1123 label (what OpenSLO names must be), as the recommendation exports name theirs."""
    return rfc1123_name(f"{slo.service.service_id}-{slo.metric.replace('_', '-')}")


def _camel(text: str) -> str:
    return "".join(part.capitalize() for part in text.replace("-", "_").split("_"))


def _description(slo: ServiceLevelObjective) -> str:
    what = (f"{slo.target:.4%} of requests under {slo.threshold_ms:g} ms" if slo.sli_type == SloSliType.LATENCY
            else f"{slo.target:.4%} availability")
    return (f"SLO of record v{slo.version} ({slo.origin}): {what} over {slo.window_days} days; "
            f"committed by {slo.created_by or 'unknown'} on {slo.created_at:%Y-%m-%d}.")


def _without_empty(labels: dict[str, str]) -> dict[str, str]:
    # The tools reject empty label values (a service without a team).
    return {key: value for key, value in labels.items() if value}


def _labels(slo: ServiceLevelObjective) -> dict[str, str]:
    return {"service": slo.service.service_id, "slo": slo.metric, "slo_version": str(slo.version)}


def openslo_documents(slos: Iterable[ServiceLevelObjective]) -> list[dict]:
    """One OpenSLO v1 `SLO` per SLO of record."""
    documents = []
    for slo in slos:
        good, _errors, total = _queries(slo)
        name = slo_name(slo)
        documents.append({
            "apiVersion": "openslo/v1",
            "kind": "SLO",
            "metadata": {"name": name, "displayName": f"{slo.service.service_id} {slo.metric}",
                         "labels": _without_empty({"team": slo.service.team or "", "managed-by": "slo-engine",
                                                   "slo-version": str(slo.version)})},
            "spec": {
                "description": _description(slo),
                "service": rfc1123_name(slo.service.service_id),
                "indicator": {
                    "metadata": {"name": f"{name}-sli"},
                    "spec": {"ratioMetric": {
                        "counter": False,
                        "good": {"metricSource": {"type": "Prometheus", "spec": {"query": _with_window(good, "5m")}}},
                        "total": {"metricSource": {"type": "Prometheus",
                                                   "spec": {"query": _with_window(total, "5m")}}},
                    }},
                },
                "timeWindow": [{"duration": f"{slo.window_days}d", "isRolling": True}],
                "budgetingMethod": "Occurrences",
                "objectives": [{"displayName": slo.origin, "target": slo.target}],
            },
        })
    return documents


def sloth_document(slos: list[ServiceLevelObjective]) -> dict:
    """A Sloth prometheus/v1 spec for one service's SLOs of record."""
    service = slos[0].service
    specs = []
    for slo in slos:
        _good, errors, total = _queries(slo)
        specs.append({
            "name": slo.metric.replace("_", "-"),
            "objective": round(slo.target * 100, 6),
            "description": _description(slo),
            "labels": {"slo_version": str(slo.version)},
            "sli": {"events": {"error_query": _with_window(errors, "{{.window}}"),
                               "total_query": _with_window(total, "{{.window}}")}},
            "alerting": {
                "name": f"{_camel(service.service_id)}{_camel(slo.metric)}SLO",
                "page_alert": {"labels": {"severity": "page"}},
                "ticket_alert": {"labels": {"severity": "ticket"}},
            },
        })
    return {"version": "prometheus/v1", "service": service.service_id,
            "labels": _without_empty({"team": service.team or "", "managed_by": "slo-engine"}), "slos": specs}


def _window_seconds(window: str) -> int:
    return int(window[:-1]) * {"m": 60, "h": 3600, "d": 86400}[window[-1]]


def prometheus_group(slo: ServiceLevelObjective) -> dict:
    """One rule group: error-ratio recording rules for every window the
    alerts use, and the multiwindow multi-burn-rate alerts (page 1h/5m and
    6h/30m, ticket 1d/2h and 3d/6h; factors scaled to the SLO window)."""
    _good, errors, total = _queries(slo)
    budget = round(1.0 - slo.target, 12)
    labels = _labels(slo)
    selector = ",".join(f'{key}="{value}"' for key, value in labels.items())
    windows = sorted({w for pair in BURN_RATE_WINDOWS for w in (pair.long, pair.short)}, key=_window_seconds)
    rules: list[dict] = [
        {"record": f"{ERROR_RATIO_RECORD}{window}",
         "expr": f"({_with_window(errors, window)})\n/\n({_with_window(total, window)})",
         "labels": labels}
        for window in windows
    ]
    for pair in BURN_RATE_WINDOWS:
        factor = burn_rate_factor(pair, window_days=slo.window_days)
        rules.append({
            "alert": f"{_camel(slo.service.service_id)}{_camel(slo.metric)}BurnRate{pair.long}",
            "expr": (f"{ERROR_RATIO_RECORD}{pair.long}{{{selector}}} > ({factor:g} * {budget:g})\n"
                     f"and\n{ERROR_RATIO_RECORD}{pair.short}{{{selector}}} > ({factor:g} * {budget:g})"),
            "labels": {"severity": pair.severity, "long_window": pair.long, "short_window": pair.short,
                       "burn_rate_factor": f"{factor:g}"},
            "annotations": {
                "summary": f"{slo.service.service_id} {slo.metric} is burning its error budget {factor:g}x too fast",
                "description": f"At this rate {pair.budget_share:.0%} of the {slo.window_days}-day error budget "
                               f"({budget:g}) is spent within {pair.long}. {_description(slo)}",
            },
        })
    return {"name": f"slo-engine-{slo_name(slo)}", "rules": rules}


def _dump_all(documents: list[dict]) -> str:
    return yaml.safe_dump_all(documents, sort_keys=False) if documents else ""


def export_slos(slos: Iterable[ServiceLevelObjective], *, export_format: str) -> str:
    """One YAML bundle of `slos` (ordered by service): OpenSLO and Sloth as
    multi-document streams, Prometheus as one rule file with a group per SLO."""
    slos = sorted(slos, key=lambda s: (s.service.service_id, s.sli_type, s.metric))
    if export_format == "openslo":
        return _dump_all(openslo_documents(slos))
    if export_format == "sloth":
        return _dump_all([sloth_document(list(group))
                          for _, group in groupby(slos, key=lambda s: s.service.service_id)])
    if export_format == "prometheus":
        return yaml.safe_dump({"groups": [prometheus_group(slo) for slo in slos]}, sort_keys=False)
    raise ValueError(f"unknown export format {export_format!r}")


def export_file_name(service_id: str, export_format: str) -> str:
    suffix = {"openslo": "openslo.yaml", "sloth": "sloth.yaml", "prometheus": "rules.yaml"}[export_format]
    return f"{service_id}.{suffix}"
