"""Domain metrics exposed at /metrics, named `slo_engine_*`.

Labels never carry service ids, so cardinality stays bounded: only enums
(direction, depth bucket, outcome, source, task name).

State gauges (open alerts, stale edges) are refreshed from COUNT queries each
time /metrics is served: the app owning the rows registers a refresher with
`on_scrape` (graph/metrics.py), so they are fresh at scrape time whoever last
changed the rows. Under gunicorn with several
workers, PROMETHEUS_MULTIPROC_DIR aggregates every process's samples (see
gunicorn.conf.py); the gauges then report the most recently written value.
"""

from collections.abc import Callable

from prometheus_client import Counter, Gauge, Histogram

INGEST_REQUESTS = Counter(
    "slo_engine_ingest_requests_total", "Graph ingestion requests by discovery source and outcome",
    ["source", "outcome"],
)
INGEST_ROWS = Counter(
    "slo_engine_ingest_rows_total", "Rows written by graph ingestion", ["kind"]  # services|edges|edges_removed
)
TRAVERSAL_SECONDS = Histogram(
    "slo_engine_traversal_duration_seconds", "Subgraph traversal duration", ["direction", "depth_bucket", "cache"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
CYCLE_DETECTION_SECONDS = Histogram(
    "slo_engine_cycle_detection_duration_seconds", "Cycle detection duration (load + detect + persist)",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
OPEN_ALERTS = Gauge(
    "slo_engine_open_alerts", "Circular-dependency alerts by status", ["status"], multiprocess_mode="mostrecent"
)
RECOMMENDATION_SECONDS = Histogram(
    "slo_engine_recommendation_duration_seconds", "Recommendation generation duration per service",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5),
)
RECOMMENDATIONS = Counter(
    "slo_engine_recommendations_total", "Recommendation generations by outcome",
    ["outcome"],  # generated|insufficient_data|error
)
DISCOVERY_RUNS = Counter("slo_engine_discovery_runs_total", "OTel discovery runs by outcome", ["outcome"])
DISCOVERED_EDGES = Counter("slo_engine_discovered_edges_total", "Edges upserted by OTel discovery")
STALE_EDGES = Gauge("slo_engine_stale_edges", "Edge records currently stale", multiprocess_mode="mostrecent")
TASK_FAILURES = Counter("slo_engine_task_failures_total", "Celery task failures", ["task"])


def depth_bucket(depth: int) -> str:
    """Bounded label for a traversal depth: 1, 2-3, 4-6, 7-10."""
    if depth <= 1:
        return "1"
    if depth <= 3:
        return "2-3"
    if depth <= 6:
        return "4-6"
    return "7-10"


SCRAPE_REFRESHERS: list[Callable[[], None]] = []


def on_scrape(refresher: Callable[[], None]) -> Callable[[], None]:
    """Register `refresher` to run before each /metrics scrape (decorator)."""
    if refresher not in SCRAPE_REFRESHERS:
        SCRAPE_REFRESHERS.append(refresher)
    return refresher
