"""Bulk ingestion of dependency graphs (DESIGN.md section 5, ingest request).

`graph_ingest` takes nodes and edges that have already been validated (by
`graph.api.serializers.IngestRequestSerializer`, which the API, `ingest_graph`
and discovery share) and writes them in one transaction:

1. every named service is inserted if absent, sorted by service_id
   (INSERT ... ON CONFLICT DO NOTHING), then all of them are locked with
   SELECT ... FOR UPDATE in service_id order. Two ingestions touching the same
   services therefore queue on the same first row instead of deadlocking, and
   an edge is only ever written by the holder of both its endpoints' locks;
2. catalog fields of services given as nodes are updated where they changed;
3. edge records are upserted in bulk, a few thousand rows per
   INSERT ... ON CONFLICT DO UPDATE (`graph.queries.dependency_records_upsert`),
   when new or changed; unchanged ones only get `last_observed_at` refreshed,
   so a re-sent payload changes nothing else;
4. `mode="replace"` deletes the source's records missing from the payload;
5. when anything but `last_observed_at` changed, the graph version is bumped
   (which invalidates cached traversals); when the live topology may have
   changed (a pair no source reported live, or records removed), cycle
   detection runs once after the commit. The response lists the cycles the
   graph contains.
"""

import logging
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from graph.models import DiscoverySource, GraphVersion, Service, ServiceDependency
from graph.queries import dependency_records_reobserve, dependency_records_upsert, graph_tables_analyze
from graph.selectors import cycles_current, graph_version_current, graph_version_publish
from graph.signals import services_created
from slo_engine.metrics import INGEST_REQUESTS, INGEST_ROWS
from slo_engine.tracing import span_attributes, traced

logger = logging.getLogger(__name__)

INGEST_MODES = ("merge", "replace")

# Sources that describe a catalog (a person or a catalog file wrote them down);
# services first named by any other source were discovered from telemetry.
CATALOG_SOURCES = frozenset({DiscoverySource.MANUAL, DiscoverySource.BACKSTAGE})

NODE_FIELDS = ("display_name", "team", "criticality", "tags", "metadata")
EDGE_DEFAULTS = {
    "communication_mode": "sync",
    "criticality": "hard",
    "protocol": "",
    "timeout_ms": None,
    "retry_config": {},
    "confidence_score": 1.0,
}
EDGE_FIELDS = tuple(EDGE_DEFAULTS)

# Keeps each statement's bound parameters under SQLite's limit.
_BATCH = 2000
# An ingestion writing this many rows refreshes the planner's statistics.
ANALYZE_AFTER_ROWS = 5000
# Above this many source services, an ingestion reads all of its source's
# records at once instead of filtering by thousands of bound ids.
_ALL_RECORDS_ABOVE = 1000


@dataclass
class IngestResult:
    """What one ingestion did; the fields are the API response keys."""

    nodes_upserted: int = 0
    edges_upserted: int = 0
    edges_removed: int = 0
    services_auto_created: list[str] = field(default_factory=list)
    circular_dependencies_detected: list[list[str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    graph_version: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def graph_version_bump() -> int:
    """Increment the graph version inside the caller's transaction and return it.

    Every graph write calls this, so caches keyed on the version miss after
    it. The new version reaches the cache mirror once the transaction commits.
    """
    updated = GraphVersion.objects.filter(pk=1).update(version=F("version") + 1, updated_at=timezone.now())
    if not updated:  # the row is created by a migration; a flushed test database lacks it
        GraphVersion.objects.get_or_create(pk=1, defaults={"version": 1})
    version = GraphVersion.objects.values_list("version", flat=True).get(pk=1)
    transaction.on_commit(lambda: graph_version_publish(version))
    return version


def _normalise_nodes(nodes: list[dict], warnings: list[str]) -> dict[str, dict]:
    """Nodes by service_id with the original service's metadata fallbacks
    applied; a service given twice keeps its last occurrence."""
    out: dict[str, dict] = {}
    for node in nodes:
        service_id = node["service_id"]
        if service_id in out:
            warnings.append(f"node {service_id!r} appears more than once; the last one was kept")
        values = {key: node[key] for key in NODE_FIELDS if key in node}
        metadata = node.get("metadata") or {}
        for key, meta_key in (("display_name", "service_name"), ("team", "team"), ("criticality", "criticality")):
            if key not in values and metadata.get(meta_key) not in (None, ""):
                values[key] = metadata[meta_key]
        out[service_id] = values
    return out


def _normalise_edges(edges: list[dict], warnings: list[str]) -> dict[tuple[str, str], dict]:
    """Edge attributes by (source, target), defaults filled; a pair repeated
    in one request is one edge (the last occurrence wins)."""
    out: dict[tuple[str, str], dict] = {}
    for edge in edges:
        pair = (edge["source"], edge["target"])
        if pair in out:
            warnings.append(f"edge {pair[0]} -> {pair[1]} appears more than once; the last one was kept")
        attributes = edge.get("attributes") or {}
        values = {key: attributes.get(key, default) for key, default in EDGE_DEFAULTS.items()}
        values["retry_config"] = values["retry_config"] or {}
        values["confidence_score"] = float(values["confidence_score"])
        out[pair] = values
    return out


def _lock_services(
    *, node_values: dict[str, dict], service_ids: list[str], source: str, actor: str
) -> tuple[dict[str, Service], list[str]]:
    """Insert absent services, then lock all of `service_ids` (sorted) FOR UPDATE.

    Returns the locked services by service_id and the ids this call created
    (a row whose pk is the one we generated was inserted by us).
    """
    discovered_by_source = source not in CATALOG_SOURCES
    attempted: dict[str, uuid.UUID] = {}
    candidates = []
    for service_id in service_ids:
        values = node_values.get(service_id)
        pk = uuid.uuid4()
        attempted[service_id] = pk
        candidates.append(
            Service(
                id=pk,
                service_id=service_id,
                display_name=(values or {}).get("display_name") or service_id,
                team=(values or {}).get("team"),
                criticality=(values or {}).get("criticality") or "medium",
                tags=(values or {}).get("tags") or [],
                metadata=(values or {}).get("metadata") or {},
                discovered=values is None or discovered_by_source,
                created_by=actor,
                updated_by=actor,
            )
        )
    # Only services not seen yet are inserted: a re-sent payload skips the
    # insert entirely. Missing ones are still inserted in service_id order.
    existing = set()
    for start in range(0, len(service_ids), _BATCH):
        existing.update(
            Service.objects.filter(service_id__in=service_ids[start:start + _BATCH]).values_list(
                "service_id", flat=True
            )
        )
    missing = [candidate for candidate in candidates if candidate.service_id not in existing]
    if missing:
        Service.objects.bulk_create(missing, ignore_conflicts=True, batch_size=_BATCH)

    services: dict[str, Service] = {}
    for start in range(0, len(service_ids), _BATCH):
        chunk = service_ids[start:start + _BATCH]
        # Locks in service_id order, the same order every ingestion uses.
        locked = Service.objects.select_for_update().filter(service_id__in=chunk).order_by("service_id")
        services.update((service.service_id, service) for service in locked)
    created = [sid for sid in service_ids if services[sid].pk == attempted[sid]]
    return services, created


def _update_catalog(
    *, services: dict[str, Service], node_values: dict[str, dict], created: set[str], actor: str, now: datetime
) -> int:
    """Apply node fields to existing services; rows that would not change are
    not written. Metadata is merged key by key, other fields replaced.
    Returns how many services changed."""
    changed = []
    for service_id, values in node_values.items():
        if service_id in created:
            continue
        service = services[service_id]
        before = {key: getattr(service, key) for key in NODE_FIELDS}
        for key, value in values.items():
            if key == "metadata":
                value = {**(service.metadata or {}), **(value or {})}
            setattr(service, key, value)
        if any(getattr(service, key) != before[key] for key in NODE_FIELDS):
            service.updated_by = actor
            service.updated_at = now
            changed.append(service)
    if changed:
        Service.objects.bulk_update(changed, [*NODE_FIELDS, "updated_by", "updated_at"], batch_size=_BATCH)
    return len(changed)


def _write_edges(
    *, services: dict[str, Service], edge_values: dict[tuple[str, str], dict], source: str, observed_at: datetime
) -> tuple[int, bool]:
    """Upsert the edge records of `source`: new, changed or stale ones in
    bulk, unchanged ones only re-observed. Returns how many were upserted and
    whether a (source, target) pair joined the live topology."""
    pk_to_sid = {service.pk: sid for sid, service in services.items()}
    source_pks = sorted({services[s].pk for s, _ in edge_values}, key=str)
    existing: dict[tuple[str, str], tuple] = {}
    columns = ("id", "source_id", "target_id", *EDGE_FIELDS, "is_stale")
    records = ServiceDependency.objects.filter(discovery_source=source)
    if len(source_pks) > _ALL_RECORDS_ABOVE:
        # A large batch covers most of its source's records: reading them all
        # costs less than binding thousands of ids.
        chunks = [records.values_list(*columns)]
    else:
        chunks = [
            records.filter(source_id__in=source_pks[start:start + _BATCH]).values_list(*columns)
            for start in range(0, len(source_pks), _BATCH)
        ]
    for rows in chunks:
        for row in rows:
            source_sid, target = pk_to_sid.get(row[1]), pk_to_sid.get(row[2])
            if source_sid is not None and target is not None:
                existing[(source_sid, target)] = row

    upserts, unchanged_ids, not_live = [], [], []
    for pair in sorted(edge_values):
        values = edge_values[pair]
        row = existing.get(pair)
        if row is not None and not row[-1] and tuple(row[3:-1]) == tuple(values[key] for key in EDGE_FIELDS):
            unchanged_ids.append(row[0])
            continue
        source_pk, target_pk = services[pair[0]].pk, services[pair[1]].pk
        if row is None or row[-1]:
            not_live.append((source_pk, target_pk))
        upserts.append({"source_pk": source_pk, "target_pk": target_pk, "discovery_source": source, **values})
    joins_topology = _pairs_join_topology(pairs=not_live)
    dependency_records_upsert(records=upserts, observed_at=observed_at, now=timezone.now())
    dependency_records_reobserve(record_ids=unchanged_ids, observed_at=observed_at)
    return len(upserts), joins_topology


# Above this many pairs new to their source, an ingestion is assumed to
# change the topology rather than checking each pair.
_TOPOLOGY_CHECK_MAX_PAIRS = 500


def _pairs_join_topology(*, pairs: list[tuple]) -> bool:
    """Whether any (source pk, target pk) pair, about to get a live record of
    the ingesting source, has no live record yet: then the set of edges
    cycle detection walks grows. A pair another source already reports live
    (a second discovery source confirming an edge) leaves it as it was. The
    ingesting source's own record of each pair is absent or stale, so any
    live record found is another source's."""
    if not pairs:
        return False
    if len(pairs) > _TOPOLOGY_CHECK_MAX_PAIRS:
        return True
    live = set(
        ServiceDependency.objects.filter(
            is_stale=False, source_id__in={s for s, _ in pairs}, target_id__in={t for _, t in pairs}
        ).values_list("source_id", "target_id")
    )
    return any(pair not in live for pair in pairs)


def _remove_missing(*, source: str, services: dict[str, Service], edge_values: dict) -> int:
    """Delete `source`'s records whose pair is not in the payload (replace mode)."""
    keep = {(services[s].pk, services[t].pk) for s, t in edge_values}
    stale_ids = [
        pk for pk, source_pk, target_pk in
        ServiceDependency.objects.filter(discovery_source=source).values_list("id", "source_id", "target_id")
        if (source_pk, target_pk) not in keep
    ]
    for start in range(0, len(stale_ids), _BATCH):
        ServiceDependency.objects.filter(pk__in=stale_ids[start:start + _BATCH]).delete()
    return len(stale_ids)


@traced("graph.ingest")
def graph_ingest(
    *, source: str, nodes: list[dict], edges: list[dict], mode: str = "merge",
    observed_at: datetime | None = None, actor: str = "",
) -> IngestResult:
    """Write one ingestion batch, all or nothing.

    `nodes` are dicts with `service_id` and any of display_name, team,
    criticality, tags, metadata (absent fields keep their stored value);
    `edges` are `{"source", "target", "attributes": {...}}` with the edge
    attributes and an optional `confidence_score` (default 1.0). `source` is
    the discovery source of every edge record written; `mode="replace"` also
    deletes that source's records missing from `edges`. `observed_at` (default
    now) becomes `last_observed_at`. Returns the counts for the response.
    """
    if mode not in INGEST_MODES:
        raise ValueError(f"mode must be one of {INGEST_MODES}")
    if source not in DiscoverySource.values:
        raise ValueError(f"source must be one of {DiscoverySource.values}")
    span_attributes({"graph.ingest.source": source, "graph.ingest.mode": mode})
    now = timezone.now()
    observed_at = observed_at or now
    warnings: list[str] = []
    node_values = _normalise_nodes(nodes, warnings)
    edge_values = _normalise_edges(edges, warnings)
    service_ids = sorted(set(node_values) | {sid for pair in edge_values for sid in pair})

    detected: list[list[str]] = []

    def detect_cycles_after_commit() -> None:
        # Once per ingestion, after its commit: the response lists the cycles
        # the graph now contains. A failure here cannot undo the committed
        # write, so it becomes a warning; the daily detection run retries.
        from graph.services.cycles import cycle_alerts_sync

        try:
            if len(edge_values) + len(node_values) >= ANALYZE_AFTER_ROWS:
                graph_tables_analyze()
            detected[:] = cycle_alerts_sync().cycles
        except Exception:
            logger.exception("cycle detection after ingestion failed")
            warnings.append("cycle detection failed after the write; the next detection run will retry")

    try:
        with transaction.atomic():
            services, created = _lock_services(
                node_values=node_values, service_ids=service_ids, source=source, actor=actor
            )
            catalog_changed = _update_catalog(
                services=services, node_values=node_values, created=set(created), actor=actor, now=now
            )
            records_written, joins_topology = _write_edges(
                services=services, edge_values=edge_values, source=source, observed_at=observed_at
            )
            removed = 0
            if mode == "replace":
                removed = _remove_missing(source=source, services=services, edge_values=edge_values)
            if created:
                created_ids = list(created)
                transaction.on_commit(lambda: services_created.send(sender=graph_ingest, service_ids=created_ids))
            if created or catalog_changed or records_written or removed:
                version = graph_version_bump()
                if joins_topology or removed:
                    transaction.on_commit(detect_cycles_after_commit)
                else:
                    # Catalog fields or edge attributes changed, or another
                    # source confirmed known edges: the edges detection walks
                    # are the same, so are its cycles.
                    detected[:] = cycles_current()
            else:
                # A re-observation (only last_observed_at moved) changes no
                # effective edge: cached traversals stay valid, and the cycles
                # are the ones already on record.
                version = graph_version_current()
                detected[:] = cycles_current()
    except Exception:
        INGEST_REQUESTS.labels(source=source, outcome="error").inc()
        raise

    retired = sorted(sid for sid, service in services.items() if service.retired_at is not None)
    if retired:
        warnings.append(f"retired services are hidden from traversals until restored: {', '.join(retired)}")
    auto_created = [sid for sid in created if sid not in node_values]
    INGEST_REQUESTS.labels(source=source, outcome="ok").inc()
    INGEST_ROWS.labels(kind="services").inc(len(node_values) + len(auto_created))
    INGEST_ROWS.labels(kind="edges").inc(len(edge_values))
    INGEST_ROWS.labels(kind="edges_removed").inc(removed)
    span_attributes({"graph.ingest.nodes": len(node_values), "graph.ingest.edges": len(edge_values),
                     "graph.ingest.services_created": len(created), "graph.ingest.records_written": records_written,
                     "graph.ingest.records_removed": removed, "graph.ingest.cycles": len(detected)})
    return IngestResult(
        nodes_upserted=len(node_values),
        edges_upserted=len(edge_values),
        edges_removed=removed,
        services_auto_created=auto_created,
        circular_dependencies_detected=detected,
        warnings=warnings,
        graph_version=version,
    )
