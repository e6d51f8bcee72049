"""Reads of the catalog and the effective graph (keyword-only, no writes)."""

import json
import logging
import time

import networkx as nx
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q

from graph.domain.merge import EdgeRecord, EffectiveEdge, merge_records
from graph.domain.whatif import HardSyncGraph
from graph.models import AlertStatus, CircularDependencyAlert, GraphVersion, Service, ServiceDependency
from graph.queries import hard_sync_edges, subgraph
from slo_engine.cache_atomic import cache_set_if_greater
from slo_engine.cache_local import cache_get_or_build
from slo_engine.metrics import TRAVERSAL_SECONDS, depth_bucket
from slo_engine.tracing import span_attributes, traced

logger = logging.getLogger(__name__)

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
    "request_rate",
    "failure_ratio",
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


# The committed graph version is mirrored in the cache, so a cached read
# costs no database round trip. Writers publish each bump after its commit
# (`graph_version_publish`); readers that miss publish what they read. Both
# only ever raise the mirror, so writers and readers finishing out of order
# cannot move it back. The mirror expires quickly: should a publish fail
# (Redis unreachable for that instant), reads are stale for at most this long.
GRAPH_VERSION_CACHE_KEY = "graph:version"
GRAPH_VERSION_CACHE_SECONDS = 10


def graph_version_publish(version: int) -> None:
    """Raise the cached mirror of the graph version to `version` (committed)."""
    if cache_set_if_greater(GRAPH_VERSION_CACHE_KEY, version, GRAPH_VERSION_CACHE_SECONDS) is None:
        logger.warning("graph version %s not published to the cache; cached reads may lag for up to %s s",
                       version, GRAPH_VERSION_CACHE_SECONDS)


def graph_version_stored() -> int:
    """The graph version as the database holds it (no cache); 0 before the
    first write."""
    return GraphVersion.objects.filter(pk=1).values_list("version", flat=True).first() or 0


def graph_version_current() -> int:
    """The graph version that caches key on; 0 before the first write.

    Outside a transaction this is the committed version, read from the cache
    mirror when present. Inside one (which may have bumped the version and
    not committed yet) it is read from the database and not published: other
    processes must never see, and cache results under, an uncommitted version."""
    in_transaction = transaction.get_connection().in_atomic_block
    if not in_transaction:
        cached = cache.get(GRAPH_VERSION_CACHE_KEY)
        if cached is not None:
            return int(cached)
    version = graph_version_stored()
    if not in_transaction:
        graph_version_publish(version)
    return version


class ServiceNotFound(Exception):
    """No service has this service_id."""


class ServiceRetired(Exception):
    """The service is retired: hidden from traversals until restored."""


# Cached reads key on the graph version, so entries of an older graph are
# never read again and simply expire.
GRAPH_CACHE_SECONDS = 600


@traced("graph.traversal")
def service_subgraph_json(
    *, service_id: str, direction: str = "downstream", depth: int = 3, include_stale: bool = False,
    min_confidence: float = 0.0, use_cache: bool = True,
) -> bytes:
    """The subgraph response of DESIGN.md section 5 for a non-retired service
    (see `graph.queries.subgraph`), as compact UTF-8 JSON, served from the
    cache for the current graph version when present. Raises
    ServiceNotFound or ServiceRetired.

    The cache holds the rendered body, so a hit costs neither decoding nor
    encoding a structure. An entry is only ever cached for a service that
    was active at that graph version (creating, retiring and restoring a
    service bump it), so a hit needs no lookup of the service: no database
    query at all while the version's mirror is cached."""
    started = time.perf_counter()
    span_attributes({"service.id": service_id, "graph.traversal.direction": direction,
                     "graph.traversal.depth": depth, "graph.traversal.include_stale": include_stale})
    key = (
        f"graph:subgraph-json:v{graph_version_current()}:{service_id}:{direction}:{depth}:"
        f"{int(include_stale)}:{min_confidence!r}"
    )
    body = cache.get(key) if use_cache else None
    outcome = "hit"
    if body is None:
        outcome = "miss"
        found = Service.objects.filter(service_id=service_id).values_list("retired_at", flat=True)
        if not found:
            raise ServiceNotFound(service_id)
        if found[0] is not None:
            raise ServiceRetired(service_id)
        result = subgraph(
            service_id=service_id, direction=direction, depth=depth, include_stale=include_stale,
            min_confidence=min_confidence,
        ).as_dict()
        # The same bytes DRF's JSONRenderer writes (compact, UTF-8, no NaN).
        body = json.dumps(result, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
        if use_cache:
            cache.set(key, body, GRAPH_CACHE_SECONDS)
    span_attributes({"graph.traversal.cache_hit": outcome == "hit"})
    TRAVERSAL_SECONDS.labels(direction=direction, depth_bucket=depth_bucket(depth), cache=outcome).observe(
        time.perf_counter() - started
    )
    return body


def graph_map(*, include_stale: bool = False) -> dict:
    """The whole effective graph for the service map: every non-retired
    service as a node and the effective edges between them (cached per
    graph version)."""
    version = graph_version_current()
    key = f"graph:map:v{version}:{int(include_stale)}"
    result = cache.get(key)
    if result is None:
        nodes = [
            {"service_id": sid, "display_name": name, "team": team, "criticality": crit, "discovered": found,
             "tags": tags}
            for sid, name, team, crit, found, tags in Service.objects.active().values_list(
                "service_id", "display_name", "team", "criticality", "discovered", "tags"
            )
        ]
        edges = [edge.as_dict() for edge in effective_edges(include_stale=include_stale)]
        result = {"graph_version": version, "nodes": nodes, "edges": edges}
        cache.set(key, result, GRAPH_CACHE_SECONDS)
    return result


def cycles_current() -> list[list[str]]:
    """The cycles the graph contains as of the last detection: the paths of
    open and acknowledged alerts (resolved ones are gone), sorted."""
    paths = CircularDependencyAlert.objects.exclude(status=AlertStatus.RESOLVED).values_list("cycle_path", flat=True)
    return sorted(list(path) for path in paths)


def service_direct_edges(*, service: Service) -> tuple[list[EffectiveEdge], list[EffectiveEdge]]:
    """The effective, non-stale edges of one service between active services:
    (what it calls, sorted by target; what calls it, sorted by source)."""
    records = (
        ServiceDependency.objects.filter(Q(source=service) | Q(target=service), is_stale=False)
        .filter(source__retired_at__isnull=True, target__retired_at__isnull=True)
        .values_list(*_RECORD_FIELDS)
    )
    edges = merge_records(EdgeRecord(*row) for row in records)
    dependencies = sorted((e for e in edges if e.source == service.service_id), key=lambda e: e.target)
    dependents = sorted((e for e in edges if e.target == service.service_id), key=lambda e: e.source)
    return dependencies, dependents


def hard_sync_graph() -> HardSyncGraph:
    """The effective hard sync graph the what-if analyses walk (DESIGN.md
    section 14), its cycles condensed: built from one query and cached for
    the current graph version (every graph write bumps it), decoded once per
    process (`slo_engine.cache_local`), so an analysis neither re-reads
    25,000 edges nor unpickles them each time."""
    return cache_get_or_build(hard_sync_graph_key(), lambda: HardSyncGraph(hard_sync_edges()), GRAPH_CACHE_SECONDS)


def hard_sync_graph_key() -> str:
    """The cache key of the hard sync graph of the current graph version."""
    return f"graph:hard-sync:v{graph_version_current()}"
