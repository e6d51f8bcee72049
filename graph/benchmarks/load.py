"""Load test: the API under gunicorn, driven over loopback by async clients.

`run(*, progress)` (the `load` part of `manage.py benchmark`):

1. creates a scratch database beside the configured PostgreSQL one
   (`<name>_loadbench`, dropped at the end, so a user's data is untouched),
   migrates it and creates API keys (one read key per 10 clients, one write
   key per 40);
2. starts gunicorn (this repo's gunicorn.conf.py) with LOAD_WORKERS workers on
   it and the configured Redis (own cache key prefix), with the throttle rates
   raised so the test measures the service, not the rate limiter;
3. seeds a generated graph (LOAD_SERVICES / LOAD_EDGES) through the ingest API;
4. runs the driver in a second process (`graph.benchmarks.load_driver`,
   headless locust): LOAD_CLIENTS users for LOAD_DURATION_SECONDS, each
   picking subgraph queries (80%), service lists (15%) or small ingests (5%),
   with a random think time of mean LOAD_THINK_MS between requests; then a
   cached-subgraph phase (LOAD_CACHED_SECONDS) on warmed queries with no writes.

Every ingest bumps the graph version, which invalidates the subgraph cache,
so in the mixed phase most subgraph queries after an ingest are cache misses;
the cached-subgraph phase measures hits alone, and the server's own traversal
histogram (`slo_engine_traversal_duration_seconds{cache=...}`) gives the hit
ratio of both phases.
"""

from __future__ import annotations

import json
import math
import os
import random
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

TARGETS = {"errors": 0, "cached_subgraph_p99_ms": 250, "overall_p99_ms": 500}
MIX = (("subgraph", 0.80), ("service_list", 0.15), ("ingest", 0.05))


@dataclass(frozen=True)
class LoadConfig:
    clients: int = 200
    duration_seconds: float = 60.0
    cached_seconds: float = 15.0
    think_ms: float = 500.0
    workers: int = 4
    threads: int = 1
    services: int = 2000
    edges: int = 8000
    hot_queries: int = 300
    graph_changes_per_minute: float = 6.0
    pipeline_reported: int = 1
    seed: int = 1

    @classmethod
    def from_env(cls) -> LoadConfig:
        def number(name: str, default, kind=float):
            raw = os.environ.get(name, "")
            return kind(raw) if raw.strip() else default

        defaults = cls()
        return cls(
            clients=number("LOAD_CLIENTS", defaults.clients, int),
            duration_seconds=number("LOAD_DURATION_SECONDS", defaults.duration_seconds),
            cached_seconds=number("LOAD_CACHED_SECONDS", defaults.cached_seconds),
            think_ms=number("LOAD_THINK_MS", defaults.think_ms),
            workers=number("LOAD_WORKERS", defaults.workers, int),
            threads=number("LOAD_THREADS", defaults.threads, int),
            services=number("LOAD_SERVICES", defaults.services, int),
            edges=number("LOAD_EDGES", defaults.edges, int),
            hot_queries=number("LOAD_HOT_QUERIES", defaults.hot_queries, int),
            graph_changes_per_minute=number("LOAD_GRAPH_CHANGES_PER_MINUTE", defaults.graph_changes_per_minute),
            pipeline_reported=number("LOAD_PIPELINE_REPORTED", defaults.pipeline_reported, int),
            seed=number("LOAD_SEED", defaults.seed, int),
        )


PIPELINE_SOURCE = "service_mesh"
PIPELINE_PUSHES = 50
PIPELINE_PUSH_EDGES = 5


def pipeline_payloads(edges: list[list[str]], *, seed: int) -> list[dict]:
    """The ingests of a discovery pipeline (the service mesh) that reports
    the seeded edges in small pushes: the same PIPELINE_PUSHES payloads over
    and over, as a pipeline re-reports what it sees. The orchestrator sends
    each once before the run (unless LOAD_PIPELINE_REPORTED=0); during it
    they are re-observations."""
    rng = random.Random(seed)
    return [
        {"source": PIPELINE_SOURCE,
         "edges": [{"source": s, "target": t, "attributes": {"communication_mode": "sync"}}
                   for s, t in rng.sample(edges, k=min(PIPELINE_PUSH_EDGES, len(edges)))]}
        for _ in range(PIPELINE_PUSHES)
    ]


def graph_change_payload(push: dict, number: int) -> dict:
    """A pipeline push that really changes the graph: its first edge's
    timeout differs from every earlier change, so the ingest writes a record,
    bumps the graph version and with it invalidates every cached subgraph."""
    edges = [dict(edge, attributes=dict(edge["attributes"])) for edge in push["edges"]]
    edges[0]["attributes"]["timeout_ms"] = 1000 + number
    return {"source": push["source"], "edges": edges}


# --------------------------------------------------------------------------
# Orchestration (runs inside `manage.py benchmark`)
# --------------------------------------------------------------------------


def run(*, progress) -> dict:
    """Run the load test; returns config, seed timing, per-phase figures and
    whether each target was met. Needs PostgreSQL and Redis."""
    from django.conf import settings

    from graph.benchmarks.generate import generate_graph
    from slo_engine.processes import AppServer, app_environment, bootstrap_database

    config = LoadConfig.from_env()
    database = settings.DATABASES["default"]
    if "postgresql" not in database["ENGINE"] or not settings.REDIS_URL:
        return {"skipped": "the load test needs DATABASE_URL (PostgreSQL) and REDIS_URL"}

    scratch_name = f"{database['NAME']}_loadbench"
    scratch_url = _database_url_with_name(settings.DATABASE_URL, scratch_name)
    cache_prefix = f"loadbench-{os.getpid()}"
    progress(f"load: scratch database {scratch_name}")
    _recreate_database(database, scratch_name)
    server = None
    try:
        bootstrap_database(database_url=scratch_url)
        keys = _create_keys(scratch_url, read=max(1, config.clients // 10), write=max(1, config.clients // 40))
        env = app_environment(
            DATABASE_URL=scratch_url, REDIS_URL=settings.REDIS_URL, CACHE_KEY_PREFIX=cache_prefix,
            DEBUG="false", SECRET_KEY=secrets.token_urlsafe(40), LOG_LEVEL="WARNING", LOG_FORMAT="json",
            RATE_LIMIT_QUERY="1000000/min", RATE_LIMIT_INGEST="1000000/min", GUNICORN_THREADS=str(config.threads),
            GUNICORN_MAX_REQUESTS="0",
        )
        server = AppServer(env=env, workers=config.workers)
        progress(f"load: starting gunicorn with {config.workers} workers")
        server.start()

        payload = generate_graph(services=config.services, edges=config.edges, seed=config.seed)
        progress(f"load: seeding {config.services} services / {config.edges} edges through the ingest API")
        seed_seconds = _post_ingest(server.url, keys["write"][0], payload)
        edges = [[edge["source"], edge["target"]] for edge in payload["edges"]]
        pushes = pipeline_payloads(edges, seed=config.seed)
        if config.pipeline_reported:
            progress(f"load: the {PIPELINE_SOURCE} pipeline's first report ({len(pushes)} pushes)")
            for push in pushes:
                _post_ingest(server.url, keys["write"][0], push)

        _checkpoint(database)
        with tempfile.TemporaryDirectory(prefix="slo-load-") as workdir:
            plan_path = Path(workdir) / "plan.json"
            plan_path.write_text(json.dumps({
                "url": server.url, "read_keys": keys["read"], "write_keys": keys["write"],
                "services": [node["service_id"] for node in payload["nodes"]],
                "edges": edges,
                "config": asdict(config),
            }))
            before = _scrape(server.url)
            version_before = _graph_version(scratch_url)
            progress(f"load: driving {config.clients} clients for {config.duration_seconds:g} s "
                     f"+ {config.cached_seconds:g} s cached phase")
            driver_cpu = _children_cpu_seconds()
            result = subprocess.run(
                [sys.executable, "-m", "graph.benchmarks.load_driver", str(plan_path)],
                capture_output=True, text=True, check=False,
                timeout=config.duration_seconds + config.cached_seconds + 300,
            )
            if result.returncode != 0:
                raise RuntimeError(f"load driver failed:\n{result.stderr[-4000:]}")
            phases = json.loads(result.stdout)
            driver_cpu = _children_cpu_seconds() - driver_cpu
        after = _scrape(server.url)
        version_bumps = _graph_version(scratch_url) - version_before
        server_errors = [r for r in server.json_logs() if r.get("level") in {"ERROR", "CRITICAL"}]
    finally:
        if server is not None:
            server.stop()
            server.log_path.unlink(missing_ok=True)
        _drop_database(database, scratch_name)
        _clear_cache_prefix(settings.REDIS_URL, cache_prefix)

    hits = after["traversals"].get("hit", 0) - before["traversals"].get("hit", 0)
    misses = after["traversals"].get("miss", 0) - before["traversals"].get("miss", 0)
    mixed, cached = phases["mixed"], phases["cached_subgraph"]
    figures = {
        "config": asdict(config),
        "seed": {"services": config.services, "edges": config.edges, "ingest_seconds": round(seed_seconds, 3)},
        "mixed": mixed,
        "cached_subgraph": cached,
        "server": {"graph_version_bumps": version_bumps,
                   "traversal_cache_hits": hits, "traversal_cache_misses": misses,
                   "request_time_inside_django": bucket_quantiles(before["buckets"], after["buckets"]),
                   "error_log_lines": len(server_errors)},
        # The driver shares the machine's CPUs with the server under test.
        "driver_cpu_seconds": round(driver_cpu, 1),
        "targets": TARGETS,
    }
    figures["meets_targets"] = {
        "zero_errors": mixed["errors"] == 0 and cached["errors"] == 0,
        "cached_subgraph_p99": cached["latency_ms"]["subgraph"]["p99"] <= TARGETS["cached_subgraph_p99_ms"],
        "overall_p99": mixed["latency_ms"]["overall"]["p99"] <= TARGETS["overall_p99_ms"],
    }
    return figures


def _graph_version(database_url: str) -> int:
    import psycopg

    with psycopg.connect(database_url) as connection:
        row = connection.execute("SELECT version FROM graph_graphversion WHERE id = 1").fetchone()
    return row[0] if row else 0


def _create_keys(database_url: str, *, read: int, write: int) -> dict[str, list[str]]:
    """API keys for the run: clients share them ten (reads) or forty
    (writes) to a key, as teams' tools would."""
    from slo_engine.processes import app_environment, run_in_app

    code = "\n".join([
        "import json",
        "from slo_engine.models import ApiKey, ApiKeyScope",
        "def make_api_key(name, scope):",
        "    return ApiKey.objects.create_key(name=name, scope=scope)[1]",
        f"read = [make_api_key(f'load-read-{{i}}', ApiKeyScope.READ) for i in range({read})]",
        f"write = [make_api_key(f'load-write-{{i}}', ApiKeyScope.WRITE) for i in range({write})]",
        "print(json.dumps({'read': read, 'write': write}))",
    ])
    output = run_in_app(code, env=app_environment(DATABASE_URL=database_url, REDIS_URL=""))
    return json.loads(output.strip().splitlines()[-1])


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _database_url_with_name(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _maintenance_connection(database: dict):
    import psycopg

    return psycopg.connect(
        dbname="postgres", user=database.get("USER") or None, password=database.get("PASSWORD") or None,
        host=database.get("HOST") or None, port=database.get("PORT") or None, autocommit=True,
    )


def _checkpoint(database: dict) -> None:
    """Write dirty buffers back before measuring, so the run does not also
    measure the write-back of the seed (or of the benchmark parts before it).
    Needs a superuser or pg_checkpoint; without one the run goes on as is."""
    import psycopg

    try:
        with _maintenance_connection(database) as connection:
            connection.execute("CHECKPOINT")
    except psycopg.Error:
        pass


def _recreate_database(database: dict, name: str) -> None:
    from psycopg import sql

    with _maintenance_connection(database) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _drop_database(database: dict, name: str) -> None:
    from psycopg import sql

    with _maintenance_connection(database) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _clear_cache_prefix(redis_url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start:start + 1000])
    finally:
        client.close()


def _post_ingest(url: str, write_key: str, payload: dict) -> float:
    """POST one ingest (seeding, before the run); its seconds."""
    import httpx

    started = time.perf_counter()
    response = httpx.post(f"{url}/api/v1/services/dependencies", json=payload,
                          headers={"Authorization": f"Api-Key {write_key}"}, timeout=600)
    if response.status_code != 200:
        raise RuntimeError(f"ingest before the run failed: {response.status_code} {response.text[:2000]}")
    return time.perf_counter() - started


SERVER_LATENCY = "django_http_requests_latency_including_middlewares_seconds"


def _scrape(url: str) -> dict:
    """From the server's /metrics (summed over workers): traversal counts by
    cache outcome, and the cumulative buckets of the request latency as
    measured inside Django (excludes queueing before a worker accepts)."""
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    traversals: dict[str, float] = {}
    buckets: dict[float, float] = {}
    text = httpx.get(f"{url}/metrics", timeout=30).text
    for family in text_string_to_metric_families(text):
        if family.name == "slo_engine_traversal_duration_seconds":
            for sample in family.samples:
                if sample.name.endswith("_count"):
                    cache = sample.labels.get("cache", "")
                    traversals[cache] = traversals.get(cache, 0) + sample.value
        elif family.name == SERVER_LATENCY:
            for sample in family.samples:
                if sample.name.endswith("_bucket"):
                    bound = float(sample.labels["le"])
                    buckets[bound] = buckets.get(bound, 0) + sample.value
    return {"traversals": traversals, "buckets": buckets}


def bucket_quantiles(before: dict[float, float], after: dict[float, float]) -> dict[str, str]:
    """p50/p95/p99 of the requests between two scrapes, as the histogram
    bucket bound they fall under (`<= 0.05 s`)."""
    bounds = sorted(after)
    counts = [after[b] - before.get(b, 0) for b in bounds]
    total = counts[-1] if counts else 0
    result = {}
    for name, q in (("p50", 0.50), ("p95", 0.95), ("p99", 0.99)):
        bound = next((b for b, c in zip(bounds, counts, strict=True) if total and c >= q * total), None)
        result[name] = f"<= {bound:g} s" if bound is not None else "n/a"
    return result


# --------------------------------------------------------------------------
# Figures of the driver's records (the driver is `load_driver`; no Django)
# --------------------------------------------------------------------------


def percentiles(values: list[float]) -> dict[str, float]:
    """Nearest-rank p50/p95/p99 and max of `values` (milliseconds)."""
    if not values:
        return {"count": 0, "p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0}
    ordered = sorted(values)

    def rank(q: float) -> float:
        index = max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))
        return round(ordered[index], 2)

    return {"count": len(ordered), "p50": rank(0.50), "p95": rank(0.95), "p99": rank(0.99),
            "max": round(ordered[-1], 2)}


def summarise(records: list[tuple[str, object, float]], elapsed: float) -> dict:
    """Requests, errors (non-2xx or no answer) by kind, throughput and latency percentiles."""
    errors: dict[str, int] = {}
    by_kind: dict[str, list[float]] = {}
    for kind, status, millis in records:
        by_kind.setdefault(kind, []).append(millis)
        if not (isinstance(status, int) and 200 <= status < 300):
            key = f"{kind}:{status}"
            errors[key] = errors.get(key, 0) + 1
    latency = {"overall": percentiles([millis for _, _, millis in records])}
    latency.update({kind: percentiles(values) for kind, values in sorted(by_kind.items())})
    return {
        "requests": len(records),
        "errors": sum(errors.values()),
        "errors_by_kind_and_status": errors,
        "elapsed_seconds": round(elapsed, 2),
        "throughput_rps": round(len(records) / elapsed, 1) if elapsed else 0.0,
        "latency_ms": latency,
    }
