"""Effective edges: the non-stale records of one (source, target) pair merged
into the edge that traversal, cycle detection and recommendations use.

Attributes come from the highest-priority discovery source
(manual > service_mesh > kubernetes > backstage > otel_service_graph);
confidence is the noisy-OR of the records' confidences, 1 - prod(1 - c_i);
edge health (DESIGN.md section 8) is the busiest record's request rate and the
request-weighted failure ratio of the records that measured one.
Pure Python: no Django.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

SOURCE_PRIORITY: tuple[str, ...] = ("manual", "service_mesh", "kubernetes", "backstage", "otel_service_graph")
_RANK = {name: rank for rank, name in enumerate(SOURCE_PRIORITY)}


@dataclass(frozen=True)
class EdgeRecord:
    """One stored record: what one discovery source says about one edge."""

    source: str
    target: str
    discovery_source: str
    communication_mode: str = "sync"
    criticality: str = "hard"
    protocol: str = ""
    timeout_ms: int | None = None
    retry_config: dict = field(default_factory=dict, hash=False, compare=False)
    confidence_score: float = 1.0
    is_stale: bool = False
    last_observed_at: datetime | None = None
    request_rate: float | None = None
    failure_ratio: float | None = None


@dataclass(frozen=True)
class EffectiveEdge:
    source: str
    target: str
    communication_mode: str
    criticality: str
    protocol: str
    timeout_ms: int | None
    retry_config: dict = field(hash=False, compare=False)
    confidence_score: float
    discovery_sources: tuple[str, ...]
    last_observed_at: datetime | None = None
    request_rate: float | None = None
    failure_ratio: float | None = None

    @property
    def is_hard_sync(self) -> bool:
        return self.criticality == "hard" and self.communication_mode == "sync"

    def as_dict(self) -> dict:
        """The API representation of an effective edge."""
        return {
            "source": self.source,
            "target": self.target,
            "communication_mode": self.communication_mode,
            "criticality": self.criticality,
            "protocol": self.protocol,
            "timeout_ms": self.timeout_ms,
            "confidence_score": round(self.confidence_score, 6),
            "discovery_sources": list(self.discovery_sources),
            "request_rate": self.request_rate,
            "failure_ratio": self.failure_ratio,
        }


def source_rank(discovery_source: str) -> int:
    """Lower is higher priority; unknown sources sort last."""
    return _RANK.get(discovery_source, len(SOURCE_PRIORITY))


def noisy_or(confidences: Iterable[float]) -> float:
    """Probability that at least one independent source is right: 1 - prod(1 - c)."""
    miss = 1.0
    for confidence in confidences:
        miss *= 1.0 - min(max(confidence, 0.0), 1.0)
    return 1.0 - miss


def edge_health(measured: list[tuple[float | None, float | None]]) -> tuple[float | None, float | None]:
    """(request rate, failure ratio) of one pair from its records' (rate,
    ratio): the largest rate (every source sees the same calls), and the
    failure ratio weighted by each record's rate (an unweighted mean when no
    record has traffic). Values are rounded to 6 places."""
    rates = [rate for rate, _ in measured if rate is not None]
    with_ratio = [(rate or 0.0, ratio) for rate, ratio in measured if ratio is not None]
    ratio = None
    if with_ratio:
        weight = sum(rate for rate, _ in with_ratio)
        ratio = (sum(rate * r for rate, r in with_ratio) / weight if weight > 0
                 else sum(r for _, r in with_ratio) / len(with_ratio))
        ratio = round(min(max(ratio, 0.0), 1.0), 6)
    return (round(max(rates), 6) if rates else None), ratio


def merge_pair(records: list[EdgeRecord]) -> EffectiveEdge:
    """Merge the records of one (source, target) pair; `records` must be non-empty."""
    ordered = sorted(records, key=lambda r: source_rank(r.discovery_source))
    primary = ordered[0]
    observed = [r.last_observed_at for r in ordered if r.last_observed_at is not None]
    request_rate, failure_ratio = edge_health([(r.request_rate, r.failure_ratio) for r in ordered])
    return EffectiveEdge(
        source=primary.source,
        target=primary.target,
        communication_mode=primary.communication_mode,
        criticality=primary.criticality,
        protocol=primary.protocol,
        timeout_ms=primary.timeout_ms,
        retry_config=primary.retry_config,
        confidence_score=noisy_or(r.confidence_score for r in ordered),
        discovery_sources=tuple(r.discovery_source for r in ordered),
        last_observed_at=max(observed) if observed else None,
        request_rate=request_rate,
        failure_ratio=failure_ratio,
    )


def merge_records(records: Iterable[EdgeRecord], *, include_stale: bool = False) -> list[EffectiveEdge]:
    """Group records by (source, target) and merge each group.

    Stale records are ignored unless `include_stale`; a pair whose records are
    all stale then has no effective edge. Output is sorted by (source, target).
    """
    groups: dict[tuple[str, str], list[EdgeRecord]] = defaultdict(list)
    for record in records:
        if record.is_stale and not include_stale:
            continue
        groups[(record.source, record.target)].append(record)
    return [merge_pair(groups[key]) for key in sorted(groups)]
