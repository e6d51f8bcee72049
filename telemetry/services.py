"""Writes driven by telemetry: OTel service-graph and service-mesh discovery, and SLI aggregates
(DESIGN.md section 8). Keyword-only services named `<entity>_<action>`."""

import hashlib
import logging
import math
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from graph.models import RESERVED_SERVICE_IDS, CommunicationMode, DiscoverySource, Service
from slo_engine.metrics import DISCOVERED_EDGES, DISCOVERY_RUNS
from telemetry.models import SliAggregate, SliType, TimeWindow
from telemetry.sources import TelemetryError, TelemetrySource, TelemetryUnavailable, get_telemetry_source
from telemetry.sources.mesh import MeshSource

logger = logging.getLogger(__name__)

DISCOVERY_ACTOR = "otel-discovery"
MESH_DISCOVERY_ACTOR = "mesh-discovery"
# The service-graph connector's name for callers it cannot see (the ingress).
VIRTUAL_CLIENT = "user"
# The name a virtual server gets when the span carries no peer attribute.
UNKNOWN_PEER = "unknown"
VIRTUAL_NODE = "virtual_node"
MESSAGING = "messaging_system"
DATABASE = "database"
EXTERNAL = "external"
_SERVICE_ID = re.compile(r"^[-a-zA-Z0-9_]{1,128}$")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_MAX_SERVICE_ID = 128


@dataclass
class DiscoveryResult:
    """One discovery run: `edges_seen` pairs read from Prometheus,
    `edges_upserted` written as edge records, `edges_skipped` (the ingress,
    `unknown` peers, self-calls, names that are not valid service_ids),
    `databases` marked `metadata.kind=database`, `externals` marked
    `metadata.kind=external`, `peers_renamed` (peer name -> service_id),
    `health_changed` records whose request rate or failure ratio moved."""

    edges_seen: int = 0
    edges_upserted: int = 0
    edges_skipped: int = 0
    databases: list[str] = field(default_factory=list)
    externals: list[str] = field(default_factory=list)
    peers_renamed: dict[str, str] = field(default_factory=dict)
    services_auto_created: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    graph_version: int = 0
    health_changed: int = 0
    cycles: list[list[str]] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def confidence_from_requests(requests: float, *, scale: float | None = None) -> float:
    """Confidence of an observed edge: 1 - exp(-requests / scale), rounded to
    4 places. With the default scale of 100 requests per lookback: 10 requests
    give 0.095, 100 give 0.63, 300 give 0.95, 700 or more give 0.999+ —
    a single stray call is weak evidence, steady traffic is near-certain."""
    scale = scale or settings.OTEL_CONFIDENCE_REQUESTS
    return round(min(1.0, max(0.0, 1.0 - math.exp(-max(requests, 0.0) / scale))), 4)


def _valid_service_id(name: str) -> bool:
    return bool(_SERVICE_ID.match(name)) and name not in RESERVED_SERVICE_IDS


def peer_service_id(name: str) -> str:
    """The service_id of a peer that tracing names by host or address
    (`redis.cart.svc.cluster.local`, `10.0.3.7:5432`, `api.stripe.com`).

    The rule: a name that already is a valid service_id is kept as it is;
    any other is lowercased and every run of characters other than a-z and
    0-9 becomes one `-`, without leading or trailing `-`
    (`redis-cart-svc-cluster-local`, `10-0-3-7-5432`, `api-stripe-com`).
    A result longer than 128 characters keeps its first 119 and ends with `-`
    and 8 hex digits of the SHA-256 of the name; a reserved word gets `-peer`.
    """
    if _valid_service_id(name):
        return name
    slug = _NOT_SLUG.sub("-", name.lower()).strip("-")
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    if not slug:
        return f"peer-{digest}"
    if len(slug) > _MAX_SERVICE_ID:
        slug = f"{slug[:_MAX_SERVICE_ID - 9].rstrip('-')}-{digest}"
    return f"{slug}-peer" if slug in RESERVED_SERVICE_IDS else slug


@dataclass
class _Pair:
    """What one discovery run saw of one (client, server) pair; `requests` is
    None for a mesh TCP edge (bytes, not requests)."""

    requests: float | None = 0.0
    failed: float = 0.0
    window_seconds: float = 0.0
    all_messaging: bool = True
    protocol: str = ""


def _instrumented_services(observed) -> set[str]:
    """Names that have spans of their own: clients of any non-virtual edge,
    servers of non-virtual edges to a service, what the ingress calls, and
    services of the catalog that are not peers."""
    names = set()
    for edge in observed:
        if edge.connection_type != VIRTUAL_NODE:
            names.add(edge.client)
            if edge.connection_type != DATABASE:
                names.add(edge.server)
        elif edge.client == VIRTUAL_CLIENT:
            names.add(edge.server)
    peers = Service.objects.filter(metadata__kind__in=[DATABASE, EXTERNAL]).values_list("service_id", flat=True)
    catalog = Service.objects.filter(
        service_id__in={e.client for e in observed} | {e.server for e in observed}
    ).exclude(service_id__in=peers).values_list("service_id", flat=True)
    return names | set(catalog)


def otel_graph_discover(*, source: TelemetrySource | None = None, lookback: str | None = None) -> DiscoveryResult:
    """Read the OTel service graph over the trailing `lookback` (default
    OTEL_GRAPH_LOOKBACK) and merge it into the graph as `otel_service_graph`
    edge records through `graph_ingest`, with each record's health.

    `messaging_system` edges are async; `database` targets get
    `metadata.kind=database`. A `virtual_node` edge has one side without
    spans: a virtual client (`user`, or Tempo's peer-named caller) is the
    ingress and is skipped, a virtual server named `unknown` is skipped, any
    other virtual server becomes a service with `metadata.kind=external`.
    Database and external peers whose names are not service_ids get one by
    `peer_service_id` (the name kept in `metadata.peer_name`). Calls of one
    pair under several connection types are one edge: their requests are
    added up, it is async only when all of them are messaging. Raises
    TelemetryError when Prometheus fails.
    """
    source = source or get_telemetry_source()
    lookback = lookback or settings.OTEL_GRAPH_LOOKBACK
    result = DiscoveryResult()
    try:
        observed = source.service_graph_edges(lookback=lookback)
    except TelemetryError:
        DISCOVERY_RUNS.labels(outcome="error").inc()
        raise

    instrumented = _instrumented_services(observed)
    pairs: dict[tuple[str, str], _Pair] = {}
    peers: dict[str, dict] = {}
    for edge in observed:
        result.edges_seen += 1
        client, server, kind = edge.client, edge.server, None
        if edge.connection_type == VIRTUAL_NODE:
            if client == VIRTUAL_CLIENT or client not in instrumented:
                result.edges_skipped += 1  # the ingress: callers without spans are not services
                continue
            if server in ("", UNKNOWN_PEER):
                result.edges_skipped += 1
                result.warnings.append(f"skipped {client} -> {server or '(empty)'}: the peer has no name")
                continue
            if server not in instrumented:
                kind = EXTERNAL
        elif edge.connection_type == DATABASE:
            kind = DATABASE
        if kind is not None:
            server = peer_service_id(edge.server)
            peers[server] = {"kind": kind, **({"peer_name": edge.server} if server != edge.server else {})}
            if server != edge.server:
                result.peers_renamed[edge.server] = server
        if client == server:
            result.edges_skipped += 1
            continue
        invalid = [name for name in (client, server) if not _valid_service_id(name)]
        if invalid:
            result.edges_skipped += 1
            result.warnings.append(f"skipped {client} -> {server}: not a valid service_id: {invalid[0]!r}")
            continue
        pair = pairs.setdefault((client, server), _Pair())
        pair.requests += edge.request_count
        pair.failed += edge.failed_count
        pair.window_seconds = edge.window_seconds
        pair.all_messaging &= edge.connection_type == MESSAGING

    used = {name for pair in pairs for name in pair}
    nodes = [{"service_id": name, "metadata": metadata} for name, metadata in sorted(peers.items()) if name in used]
    result.databases = sorted(n["service_id"] for n in nodes if n["metadata"]["kind"] == DATABASE)
    result.externals = sorted(n["service_id"] for n in nodes if n["metadata"]["kind"] == EXTERNAL)
    edges = [
        {
            "source": client,
            "target": server,
            "attributes": {
                "communication_mode": CommunicationMode.ASYNC if pair.all_messaging else CommunicationMode.SYNC,
                "confidence_score": confidence_from_requests(pair.requests),
            },
        }
        for (client, server), pair in sorted(pairs.items())
    ]
    if not edges:
        DISCOVERY_RUNS.labels(outcome="empty").inc()
        logger.info("otel discovery: %d edge(s) seen, none to ingest", result.edges_seen)
        return result
    _ingest_observed(result, DiscoverySource.OTEL_SERVICE_GRAPH, nodes, edges, pairs, actor=DISCOVERY_ACTOR)
    logger.info(
        "otel discovery: %d edge(s) seen, %d upserted, %d skipped, %d database(s), %d external(s), "
        "%d service(s) created", result.edges_seen, result.edges_upserted, result.edges_skipped,
        len(result.databases), len(result.externals), len(result.services_auto_created),
        extra={"otel_discovery": result.as_dict()},
    )
    return result


def _ingest_observed(result: DiscoveryResult, discovery_source: str, nodes: list[dict], edges: list[dict],
                     pairs: dict, *, actor: str) -> None:
    """Ingest discovered nodes and edges (validated like the API, so
    discovery cannot write what a client could not), then store each
    record's health."""
    from graph.api.serializers import IngestRequestSerializer
    from graph.services.health import EdgeHealth, dependency_health_record
    from graph.services.ingest import graph_ingest

    serializer = IngestRequestSerializer(
        data={"source": discovery_source, "mode": "merge", "nodes": nodes, "edges": edges}
    )
    serializer.is_valid(raise_exception=True)
    ingest = graph_ingest(**serializer.ingest_arguments(), actor=actor)
    # Health needs requests counted over a known span (not TCP bytes, not a
    # source that cannot say over how long it counted).
    measurements = [
        EdgeHealth(source=client, target=server, request_rate=pair.requests / pair.window_seconds,
                   failure_ratio=min(pair.failed / pair.requests, 1.0) if pair.requests > 0 else None)
        for (client, server), pair in sorted(pairs.items())
        if pair.requests is not None and pair.window_seconds > 0
    ]
    result.health_changed = dependency_health_record(discovery_source=discovery_source, measurements=measurements)
    result.edges_upserted = ingest.edges_upserted
    result.services_auto_created = ingest.services_auto_created
    result.warnings.extend(ingest.warnings)
    result.graph_version = ingest.graph_version
    DISCOVERY_RUNS.labels(outcome="success").inc()
    DISCOVERED_EDGES.inc(ingest.edges_upserted)
    # graph_ingest ran cycle detection once, after its commit.
    result.cycles = ingest.circular_dependencies_detected


def mesh_graph_discover(
    *, source: MeshSource | None = None, mesh: str | None = None, lookback: str | None = None
) -> DiscoveryResult:
    """Read the service mesh's request metrics over the trailing `lookback`
    (default OTEL_GRAPH_LOOKBACK) and merge them as `service_mesh` edge
    records with their health (request rate, failure ratio from 5xx or
    Linkerd's failure classification). The service_id is the workload name;
    its namespace is kept in `metadata.namespace`. `mesh` defaults to
    MESH_DISCOVERY; with `off` (and no `source`) nothing is read. Raises
    TelemetryError when Prometheus fails."""

    result = DiscoveryResult()
    if source is None:
        mesh = mesh or settings.MESH_DISCOVERY
        if mesh == "off":
            result.warnings.append("MESH_DISCOVERY is off: nothing read")
            return result
        source = MeshSource(get_telemetry_source("prometheus"), mesh)
    lookback = lookback or settings.OTEL_GRAPH_LOOKBACK
    try:
        observed, notes = source.mesh_edges(lookback=lookback)
    except TelemetryError:
        DISCOVERY_RUNS.labels(outcome="error").inc()
        raise
    result.edges_seen = len(observed) + len(notes)
    result.edges_skipped = len(notes)
    result.warnings.extend(notes)
    pairs: dict[tuple[str, str], _Pair] = {}
    namespaces: dict[str, str] = {}
    for edge in observed:
        invalid = [name for name in (edge.source, edge.destination) if not _valid_service_id(name)]
        if invalid or edge.source == edge.destination:
            result.edges_skipped += 1
            if invalid:
                result.warnings.append(
                    f"skipped {edge.source} -> {edge.destination}: not a valid service_id: {invalid[0]!r}")
            continue
        namespaces.setdefault(edge.source, edge.source_namespace)
        namespaces.setdefault(edge.destination, edge.destination_namespace)
        pair = pairs.setdefault((edge.source, edge.destination), _Pair(requests=None, protocol=edge.protocol))
        if edge.requests is not None:
            pair.requests = (pair.requests or 0.0) + edge.requests
            pair.failed += edge.failed
            pair.protocol = edge.protocol
        pair.window_seconds = edge.window_seconds
    if not pairs:
        DISCOVERY_RUNS.labels(outcome="empty").inc()
        return result
    nodes = [{"service_id": name, "metadata": {"namespace": namespace}}
             for name, namespace in sorted(namespaces.items()) if namespace]
    edges = [
        {"source": client, "target": server,
         "attributes": {"communication_mode": CommunicationMode.SYNC, "protocol": pair.protocol,
                        "confidence_score": confidence_from_requests(pair.requests) if pair.requests is not None
                        else 1.0}}
        for (client, server), pair in sorted(pairs.items())
    ]
    _ingest_observed(result, DiscoverySource.SERVICE_MESH, nodes, edges, pairs, actor=MESH_DISCOVERY_ACTOR)
    logger.info("mesh discovery (%s): %d edge(s) seen, %d upserted, %d skipped", source.mesh, result.edges_seen,
                result.edges_upserted, result.edges_skipped, extra={"mesh_discovery": result.as_dict()})
    return result


@dataclass
class AggregateResult:
    """One aggregate run: services read, rows written, services whose source
    failed (logged) and services without any data."""

    services: int = 0
    rows_written: int = 0
    services_failed: list[str] = field(default_factory=list)
    services_without_data: list[str] = field(default_factory=list)
    rows_pruned: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


_QUANTUM = Decimal("0.000000001")  # SliAggregate.value has 9 decimal places
_MAX_VALUE = Decimal("99999999999")  # and 11 digits before the point


def _decimal(value: float) -> Decimal | None:
    if not math.isfinite(value):
        return None
    number = Decimal(repr(value)).quantize(_QUANTUM)
    return number if abs(number) <= _MAX_VALUE else None


def sli_aggregates_compute(
    *,
    source: TelemetrySource | None = None,
    now: datetime | None = None,
    services: list[str] | None = None,
) -> AggregateResult:
    """Compute SLI aggregates of every active service (or the given
    service_ids) for each window (1h, 1d, 7d, 28d, 90d) and insert them,
    stamped `now`, in one bulk insert per service.

    A service whose query fails (bad per-service PromQL, bad data) is logged
    and counted in `services_failed`; the others go on. An unreachable source
    (TelemetryUnavailable) stops the run and is raised so the task retries;
    services already done keep their rows.
    """
    source = source or get_telemetry_source()
    now = now or timezone.now()
    queryset = Service.objects.active().only("id", "service_id", "metadata").order_by("service_id")
    if services is not None:
        queryset = queryset.filter(service_id__in=services)
    result = AggregateResult()
    known_types = set(SliType.values)
    for service in list(queryset):
        result.services += 1
        rows = []
        try:
            for window in TimeWindow.values:
                sli = source.window_sli(service.service_id, window=window, metadata=service.metadata)
                for sli_type, raw in sorted(sli.values.items()):
                    value = _decimal(raw)
                    if sli_type not in known_types or value is None:
                        continue
                    rows.append(
                        SliAggregate(
                            service=service, sli_type=sli_type, time_window=window, value=value,
                            sample_count=max(int(sli.sample_count), 0), computed_at=now,
                        )
                    )
        except TelemetryUnavailable:
            raise
        except TelemetryError as exc:
            result.services_failed.append(service.service_id)
            logger.warning("sli aggregates: %s failed: %s", service.service_id, exc)
            continue
        if not rows:
            result.services_without_data.append(service.service_id)
            continue
        SliAggregate.objects.bulk_create(rows)
        result.rows_written += len(rows)
    result.rows_pruned = sli_aggregates_prune(now=now)
    logger.info(
        "sli aggregates: %d service(s), %d row(s), %d failed, %d without data, %d old row(s) pruned",
        result.services, result.rows_written, len(result.services_failed), len(result.services_without_data),
        result.rows_pruned, extra={"sli_aggregates": result.as_dict()},
    )
    return result


def sli_aggregates_prune(*, now: datetime | None = None, retention_days: int | None = None) -> int:
    """Delete aggregates computed more than `retention_days` (default
    SLI_AGGREGATE_RETENTION_DAYS) before `now`: the hourly run adds about 35
    rows per service, and only the latest of each is served. Returns how many
    rows were deleted."""
    now = now or timezone.now()
    days = retention_days if retention_days is not None else settings.SLI_AGGREGATE_RETENTION_DAYS
    deleted, _ = SliAggregate.objects.filter(computed_at__lt=now - timedelta(days=days)).delete()
    return deleted
