"""Graph benchmark: ingestion and subgraph traversal on a generated graph
(5,000 services, 25,000 edges, scale-free with a few cycles).

It runs in a scratch database `<name>_bench` created for the run and dropped
afterwards (the user's database is never written), with its own cache key
prefix and a lifted query rate limit. Figures:

* ingest and re-ingest seconds (the service, on an already validated payload,
  and end to end over the API: JSON parsing, validation and the write);
* subgraph p50/p99 at depth 3 and 10 in each direction: the SQL alone
  (`graph.queries.subgraph`, no cache) and over the API (DRF test client, a
  different service each request so every one misses the cache);
* the same walks in memory with networkx as the reference, and the ratio
  SQL / networkx.
"""

import gc
import random
import time
from collections.abc import Callable
from contextlib import contextmanager

import networkx as nx
from django.core.cache import cache
from django.db import connection
from django.test import override_settings
from rest_framework.test import APIClient

from graph.benchmarks.generate import generate_graph
from graph.queries import graph_tables_analyze, subgraph
from graph.selectors import effective_graph
from graph.services.ingest import graph_ingest
from slo_engine.logging import access_log_quiet
from slo_engine.models import ApiKey, ApiKeyScope

SERVICES = 5_000
EDGES = 25_000
SAMPLES = 200
DEPTHS = (3, 10)
DIRECTIONS = ("downstream", "upstream", "both")
TARGETS_MS = {"ingest_seconds": 5.0, "downstream_depth3_p99_ms": 20.0, "both_depth10_p99_ms": 150.0}


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]

    return {"p50_ms": round(pick(0.50) * 1000, 3), "p99_ms": round(pick(0.99) * 1000, 3),
            "max_ms": round(ordered[-1] * 1000, 3)}


@contextmanager
def scratch_database(progress: Callable[[str], None]):
    """Point the default connection at a fresh `<name>_bench` database with
    the schema migrated, and drop it afterwards (Django's test-database
    machinery, so only the database it created is ever destroyed)."""
    settings_dict = connection.settings_dict
    original_name = settings_dict["NAME"]
    test_settings = settings_dict.setdefault("TEST", {})
    original_test_name = test_settings.get("NAME")
    test_settings["NAME"] = f"{original_name}_bench"
    progress(f"creating scratch database {test_settings['NAME']}")
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False, keepdb=False)
    try:
        yield test_settings["NAME"]
    finally:
        connection.creation.destroy_test_db(original_name, verbosity=0, keepdb=False)
        test_settings["NAME"] = original_test_name
        progress("scratch database dropped")


@contextmanager
def isolated_cache():
    """A key prefix of its own, so benchmark entries never meet the user's."""
    original = cache.key_prefix
    cache.key_prefix = f"{original}:bench:{time.time_ns()}"
    try:
        yield
    finally:
        cache.key_prefix = original


def networkx_walk(graph: nx.DiGraph, reverse: nx.DiGraph, start: str, direction: str, depth: int) -> int:
    """The reference walk: fewest-hops depths and the walked edges, in memory."""
    nodes: dict[str, int] = {}
    edges = set()
    if direction in ("downstream", "both"):
        down = nx.single_source_shortest_path_length(graph, start, cutoff=depth)
        nodes.update(down)
        edges |= {(u, v) for u, hops in down.items() if hops < depth for v in graph.successors(u) if v in down}
    if direction in ("upstream", "both"):
        up = nx.single_source_shortest_path_length(reverse, start, cutoff=depth)
        for node, hops in up.items():
            nodes[node] = min(hops, nodes.get(node, hops))
        edges |= {(u, v) for v, hops in up.items() if hops < depth for u in reverse.successors(v) if u in up}
    return len(nodes) - 1 + len(edges)


def _time_ingest(payload: dict, figures: dict, progress) -> None:
    started = time.perf_counter()
    result = graph_ingest(source="manual", nodes=payload["nodes"], edges=payload["edges"])
    figures["ingest_seconds"] = round(time.perf_counter() - started, 3)
    progress(f"ingest: {figures['ingest_seconds']} s ({result.nodes_upserted} nodes, {result.edges_upserted} edges)")
    started = time.perf_counter()
    graph_ingest(source="manual", nodes=payload["nodes"], edges=payload["edges"])
    figures["reingest_seconds"] = round(time.perf_counter() - started, 3)
    progress(f"re-ingest: {figures['reingest_seconds']} s")


def _time_api_ingest(payload: dict, client: APIClient, figures: dict, progress) -> None:
    started = time.perf_counter()
    response = client.post("/api/v1/services/dependencies", payload, format="json")
    figures["api_reingest_seconds"] = round(time.perf_counter() - started, 3)
    if response.status_code != 200:
        raise RuntimeError(f"API ingest failed: {response.status_code} {response.content[:500]!r}")
    progress(f"re-ingest over the API: {figures['api_reingest_seconds']} s")


def run(*, progress: Callable[[str], None]) -> dict:
    with access_log_quiet():  # thousands of requests
        return _run(progress=progress)


def _run(*, progress: Callable[[str], None]) -> dict:
    payload = generate_graph(services=SERVICES, edges=EDGES, cycles=5, seed=42)
    figures: dict = {"services": SERVICES, "edges": EDGES, "samples_per_walk": SAMPLES}
    with scratch_database(progress) as name, isolated_cache(), override_settings(
        RATE_LIMIT_QUERY="1000000/min", RATE_LIMIT_INGEST="1000000/min"
    ):
        figures["database"] = {"vendor": connection.vendor, "name": name}
        _time_ingest(payload, figures, progress)
        _, key = ApiKey.objects.create_key(name="benchmark", scope=ApiKeyScope.WRITE)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
        _time_api_ingest(payload, client, figures, progress)
        # What autovacuum does after a bulk load (ingestion also does it after a large batch).
        graph_tables_analyze()

        graph = effective_graph()
        reverse = graph.reverse(copy=True)
        # The networkx reference graphs are a large, long-lived heap that a
        # web worker does not have; freezing them keeps full garbage
        # collections from re-scanning them during (and being billed to)
        # random SQL samples.
        gc.collect()
        gc.freeze()
        starts = random.Random(7).sample(sorted(n["service_id"] for n in payload["nodes"]), SAMPLES)
        walks: dict[str, dict] = {}
        for direction in DIRECTIONS:
            for depth in DEPTHS:
                label = f"{direction}_depth{depth}"
                sql, api, memory, sizes = [], [], [], []
                for start in starts:
                    began = time.perf_counter()
                    result = subgraph(service_id=start, direction=direction, depth=depth)
                    sql.append(time.perf_counter() - began)
                    sizes.append(len(result.nodes))

                    began = time.perf_counter()
                    networkx_walk(graph, reverse, start, direction, depth)
                    memory.append(time.perf_counter() - began)

                    began = time.perf_counter()
                    response = client.get(f"/api/v1/services/{start}/dependencies?direction={direction}&depth={depth}")
                    api.append(time.perf_counter() - began)
                    if response.status_code != 200:
                        raise RuntimeError(f"API subgraph failed: {response.status_code}")
                sql_p, mem_p = _percentiles(sql), _percentiles(memory)
                walks[label] = {
                    "sql": sql_p,
                    "api": _percentiles(api),
                    "networkx": mem_p,
                    "ratio_sql_to_networkx_p50": round(sql_p["p50_ms"] / max(mem_p["p50_ms"], 1e-6), 2),
                    "nodes_returned": {"mean": round(sum(sizes) / len(sizes), 1), "max": max(sizes)},
                }
                progress(f"{label}: sql p50 {sql_p['p50_ms']} ms p99 {sql_p['p99_ms']} ms, "
                         f"api p99 {walks[label]['api']['p99_ms']} ms, networkx p50 {mem_p['p50_ms']} ms")
        figures["subgraph"] = walks
        gc.unfreeze()

    figures["targets"] = {
        "ingest_seconds": {"target": TARGETS_MS["ingest_seconds"], "measured": figures["ingest_seconds"],
                           "met": figures["ingest_seconds"] <= TARGETS_MS["ingest_seconds"]},
        "downstream_depth3_p99_ms": {
            "target": TARGETS_MS["downstream_depth3_p99_ms"], "measured": walks["downstream_depth3"]["sql"]["p99_ms"],
            "met": walks["downstream_depth3"]["sql"]["p99_ms"] <= TARGETS_MS["downstream_depth3_p99_ms"],
        },
        "both_depth10_p99_ms": {
            "target": TARGETS_MS["both_depth10_p99_ms"], "measured": walks["both_depth10"]["sql"]["p99_ms"],
            "met": walks["both_depth10"]["sql"]["p99_ms"] <= TARGETS_MS["both_depth10_p99_ms"],
        },
    }
    return figures
