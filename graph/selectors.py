"""Reads of the catalog and the effective graph (keyword-only, no writes)."""

import networkx as nx

from graph.domain.merge import EdgeRecord, EffectiveEdge, merge_records
from graph.models import GraphVersion, ServiceDependency

_RECORD_FIELDS = (
    "source__service_id",
    "target__service_id",
    "discovery_source",
    "communication_mode",
    "criticality",
    "protocol",
    "timeout_ms",
    "retry_config",
    "confidence_score",
    "is_stale",
    "last_observed_at",
)


def edge_records(*, include_stale: bool = False, include_retired: bool = False) -> list[EdgeRecord]:
    """All stored edge records as domain objects (one query)."""
    queryset = ServiceDependency.objects.all()
    if not include_stale:
        queryset = queryset.filter(is_stale=False)
    if not include_retired:
        queryset = queryset.filter(source__retired_at__isnull=True, target__retired_at__isnull=True)
    return [EdgeRecord(*row) for row in queryset.values_list(*_RECORD_FIELDS).iterator(chunk_size=10_000)]


def effective_edges(*, include_stale: bool = False, include_retired: bool = False) -> list[EffectiveEdge]:
    """The merged effective edges of the whole graph, sorted by (source, target)."""
    records = edge_records(include_stale=include_stale, include_retired=include_retired)
    return merge_records(records, include_stale=include_stale)


def effective_graph(*, include_stale: bool = False, include_retired: bool = False) -> nx.DiGraph:
    """The effective graph as a networkx DiGraph; each edge carries its
    EffectiveEdge under the `edge` attribute."""
    graph = nx.DiGraph()
    for edge in effective_edges(include_stale=include_stale, include_retired=include_retired):
        graph.add_edge(edge.source, edge.target, edge=edge)
    return graph


def graph_version_current() -> int:
    """The graph version that caches key on; 0 before the first write."""
    row = GraphVersion.objects.filter(pk=1).values_list("version", flat=True).first()
    return row or 0
