"""SLO-as-code: the fleet's SLOs of record as OpenSLO, Sloth or Prometheus
rules (DESIGN.md section 13), for a GitOps repository.

Written by the recommendation exporters' builders (`recommendations.exporters`):
the same PromQL, names, label checks, Sloth period header and burn-rate
alerts. The difference: the target is the committed one, not a tier's, and
one bundle holds every SLO.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import groupby

from recommendations.exporters import (
    ExportError,
    Objective,
    dump_openslo,
    dump_prometheus_rules,
    sloth_spec,
)
from slos.models import ServiceLevelObjective, SloSliType

EXPORT_FORMATS = ("openslo", "sloth", "prometheus")
__all__ = ["EXPORT_FORMATS", "ExportError", "export_file_name", "export_slos"]


def _description(slo: ServiceLevelObjective) -> str:
    what = (f"{slo.target:.4%} of requests under {slo.threshold_ms:g} ms" if slo.sli_type == SloSliType.LATENCY
            else f"{slo.target:.4%} availability")
    return (f"SLO of record v{slo.version} ({slo.origin}): {what} over {slo.window_days} days; "
            f"committed by {slo.created_by or 'unknown'} on {slo.created_at:%Y-%m-%d}.")


def slo_objective(slo: ServiceLevelObjective) -> Objective:
    """An SLO of record as an exportable objective, labelled with its version."""
    return Objective(service=slo.service, sli_type=slo.sli_type, metric=slo.metric, target=slo.target,
                     threshold_ms=slo.threshold_ms, window_days=slo.window_days, name=slo.origin,
                     description=_description(slo), labels={"slo_version": str(slo.version)})


def export_slos(slos: Iterable[ServiceLevelObjective], *, export_format: str) -> str:
    """One YAML bundle of `slos` (ordered by service): OpenSLO and Sloth as
    multi-document streams (a Sloth spec per service, each headed by its
    `--default-slo-period`), Prometheus as one rule file with a group per SLO."""
    objectives = [slo_objective(slo) for slo in
                  sorted(slos, key=lambda s: (s.service.service_id, s.sli_type, s.metric))]
    if export_format == "openslo":
        return dump_openslo(objectives) if objectives else ""
    if export_format == "sloth":
        by_service = [list(group) for _, group in groupby(objectives, key=lambda o: o.service.service_id)]
        return "---\n".join(sloth_spec(group[0].service, group) for group in by_service)
    if export_format == "prometheus":
        return dump_prometheus_rules(objectives)
    raise ValueError(f"unknown export format {export_format!r}")


def export_file_name(service_id: str, export_format: str) -> str:
    suffix = {"openslo": "openslo.yaml", "sloth": "sloth.yaml", "prometheus": "rules.yaml"}[export_format]
    return f"{service_id}.{suffix}"
