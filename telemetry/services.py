"""Writes driven by telemetry: OTel service-graph discovery and SLI aggregates
(DESIGN.md section 8). Keyword-only services named `<entity>_<action>`."""

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

logger = logging.getLogger(__name__)

DISCOVERY_ACTOR = "otel-discovery"
# The service-graph connector's name for callers it cannot see (the ingress).
VIRTUAL_CLIENT = "user"
VIRTUAL_NODE = "virtual_node"
MESSAGING = "messaging_system"
DATABASE = "database"
_SERVICE_ID = re.compile(r"^[-a-zA-Z0-9_]{1,128}$")


@dataclass
class DiscoveryResult:
    """One discovery run: `edges_seen` pairs read from Prometheus,
    `edges_upserted` written as otel_service_graph records, `edges_skipped`
    (virtual nodes, the `user` ingress, self-calls, names that are not valid
    service_ids), `databases` marked `metadata.kind=database`."""

    edges_seen: int = 0
    edges_upserted: int = 0
    edges_skipped: int = 0
    databases: list[str] = field(default_factory=list)
    services_auto_created: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    graph_version: int = 0
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


def otel_graph_discover(*, source: TelemetrySource | None = None, lookback: str | None = None) -> DiscoveryResult:
    """Read the OTel service graph over the trailing `lookback` (default
    OTEL_GRAPH_LOOKBACK) and merge it into the graph as `otel_service_graph`
    edge records through `graph_ingest`.

    `messaging_system` edges are async; `database` targets get
    `metadata.kind=database`; the `user` client and `virtual_node` peers are
    not services and are skipped. Calls of one pair under several connection
    types are one edge: their requests are added up, it is async only when
    all of them are messaging. Raises TelemetryError when Prometheus fails.
    """
    from graph.api.serializers import IngestRequestSerializer
    from graph.services.ingest import graph_ingest

    source = source or get_telemetry_source()
    lookback = lookback or settings.OTEL_GRAPH_LOOKBACK
    result = DiscoveryResult()
    try:
        observed = source.service_graph_edges(lookback=lookback)
    except TelemetryError:
        DISCOVERY_RUNS.labels(outcome="error").inc()
        raise

    pairs: dict[tuple[str, str], dict] = {}
    databases: set[str] = set()
    for edge in observed:
        result.edges_seen += 1
        if edge.client == VIRTUAL_CLIENT or edge.connection_type == VIRTUAL_NODE or edge.client == edge.server:
            result.edges_skipped += 1
            continue
        invalid = [name for name in (edge.client, edge.server) if not _valid_service_id(name)]
        if invalid:
            result.edges_skipped += 1
            result.warnings.append(f"skipped {edge.client} -> {edge.server}: not a valid service_id: {invalid[0]!r}")
            continue
        pair = pairs.setdefault((edge.client, edge.server), {"requests": 0.0, "all_messaging": True})
        pair["requests"] += edge.request_count
        pair["all_messaging"] &= edge.connection_type == MESSAGING
        if edge.connection_type == DATABASE:
            databases.add(edge.server)

    edges = [
        {
            "source": client,
            "target": server,
            "attributes": {
                "communication_mode": CommunicationMode.ASYNC if pair["all_messaging"] else CommunicationMode.SYNC,
                "confidence_score": confidence_from_requests(pair["requests"]),
            },
        }
        for (client, server), pair in sorted(pairs.items())
    ]
    nodes = [{"service_id": name, "metadata": {"kind": "database"}} for name in sorted(databases)]
    if not edges:
        DISCOVERY_RUNS.labels(outcome="empty").inc()
        logger.info("otel discovery: %d edge(s) seen, none to ingest", result.edges_seen)
        return result

    # The same validation as the API, so discovery cannot write what a client could not.
    serializer = IngestRequestSerializer(
        data={"source": DiscoverySource.OTEL_SERVICE_GRAPH, "mode": "merge", "nodes": nodes, "edges": edges}
    )
    serializer.is_valid(raise_exception=True)
    ingest = graph_ingest(**serializer.ingest_arguments(), actor=DISCOVERY_ACTOR)
    result.edges_upserted = ingest.edges_upserted
    result.databases = sorted(databases)
    result.services_auto_created = ingest.services_auto_created
    result.warnings.extend(ingest.warnings)
    result.graph_version = ingest.graph_version
    DISCOVERY_RUNS.labels(outcome="success").inc()
    DISCOVERED_EDGES.inc(ingest.edges_upserted)
    # graph_ingest ran cycle detection once, after its commit.
    result.cycles = ingest.circular_dependencies_detected
    logger.info(
        "otel discovery: %d edge(s) seen, %d upserted, %d skipped, %d database(s), %d service(s) created",
        result.edges_seen, result.edges_upserted, result.edges_skipped, len(result.databases),
        len(result.services_auto_created), extra={"otel_discovery": result.as_dict()},
    )
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
