"""What-if benchmark (DESIGN.md section 14): the impact analysis of the hub
of a generated 5,000-service / 25,000-edge graph (target: p95 <= 1 s) and
the constraint analysis of services (target: p95 <= 200 ms), over the API.

Runs in a scratch database `<name>_bench` (the user's database is never
written; see `graph.benchmarks.traversal.scratch_database`). Every service
gets an active availability recommendation (observed availability between
99% and 99.999%, a fifth of its direct dependencies listed on an edge
basis) and half of them an availability SLO of record, so the analyses run
on the data they meet in production. Every fourth impact analysis and every
tenth constraint analysis starts with an empty cache (as after a graph write
or new recommendations: the cached inputs are dropped, nothing else), so the
p95 covers the cold path; both paths are also reported on their own. The
part lives in `slos` because it seeds SLOs of record and recommendations,
which `graph` may not import.
"""

import random
import time
from collections.abc import Callable
from datetime import timedelta

from django.core.cache import cache
from django.db import connection
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from graph.benchmarks.generate import generate_graph
from graph.benchmarks.traversal import isolated_cache, scratch_database
from graph.models import Service
from graph.queries import graph_tables_analyze
from graph.selectors import hard_sync_graph, hard_sync_graph_key
from graph.services.ingest import graph_ingest
from recommendations.models import SloRecommendation
from recommendations.selectors import dependency_availabilities_fleet_key
from slo_engine.logging import access_log_quiet
from slo_engine.models import ApiKey, ApiKeyScope
from slos.models import ServiceLevelObjective

SERVICES = 5_000
EDGES = 25_000
IMPACT_SAMPLES = 40
CONSTRAINT_SAMPLES = 200
TARGETS_MS = {"impact_hub_p95_ms": 1000.0, "constraint_p95_ms": 200.0}


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]

    return {"p50_ms": round(pick(0.50) * 1000, 3), "p95_ms": round(pick(0.95) * 1000, 3),
            "max_ms": round(ordered[-1] * 1000, 3)}


def _seed_availabilities(rng: random.Random, progress) -> None:
    """One active availability recommendation per service and an SLO of
    record for every other one, in bulk."""
    graph = hard_sync_graph()
    services = dict(Service.objects.values_list("service_id", "pk"))
    observed = {name: 1 - 10 ** rng.uniform(-5, -2) for name in services}
    now = timezone.now()
    recommendations = []
    for name, pk in services.items():
        direct = graph.direct_dependencies(name)
        dependencies = [
            {"service_id": dep, "availability": min(1.0, observed[dep] + rng.uniform(0, 0.0005)),
             "availability_basis": "edge" if rng.random() < 0.2 else "service"}
            for dep in direct
        ]
        balanced = round(max(0.9, observed[name] - 0.001), 4)
        recommendations.append(SloRecommendation(
            service_id=pk, sli_type="availability", metric="availability", window_days=28,
            tiers={"balanced": {"target": balanced}},
            explanation={"observed_availability": observed[name],
                         "dependency_impact": {"dependencies": dependencies}},
            data_quality={}, lookback_window_start=now - timedelta(days=30), lookback_window_end=now,
            generated_at=now, expires_at=now + timedelta(hours=24), status="active",
        ))
    SloRecommendation.objects.bulk_create(recommendations, batch_size=1000)
    slos = [
        ServiceLevelObjective(service_id=pk, sli_type="availability", metric="availability",
                              target=round(max(0.9, observed[name] - 0.002), 4), origin="balanced",
                              created_by="benchmark")
        for index, (name, pk) in enumerate(sorted(services.items())) if index % 2 == 0
    ]
    ServiceLevelObjective.objects.bulk_create(slos, batch_size=1000)
    progress(f"seeded {len(recommendations)} recommendations and {len(slos)} SLOs of record")


def _cold_cache() -> None:
    """Make the next analysis find neither input cached, as after a graph
    write (a new graph version) or new recommendations (a new fingerprint):
    the tokens that vouch for them go, so every process rebuilds. Nothing
    else is touched (API keys, the graph version mirror stay cached)."""
    cache.delete_many([f"{hard_sync_graph_key()}:token", f"{dependency_availabilities_fleet_key()}:token"])


def run(*, progress: Callable[[str], None]) -> dict:
    with access_log_quiet():  # thousands of requests
        return _run(progress=progress)


def _run(*, progress: Callable[[str], None]) -> dict:
    rng = random.Random(15)
    payload = generate_graph(services=SERVICES, edges=EDGES, cycles=5, seed=42)
    figures: dict = {"services": SERVICES, "edges": EDGES}
    with scratch_database(progress) as name, isolated_cache(), override_settings(RATE_LIMIT_QUERY="1000000/min"):
        figures["database"] = {"vendor": connection.vendor, "name": name}
        graph_ingest(source="manual", nodes=payload["nodes"], edges=payload["edges"])
        _seed_availabilities(rng, progress)
        graph_tables_analyze()
        graph = hard_sync_graph()
        figures["hard_sync_edges"] = graph.edge_count

        # The hub: the service the most others hard-depend on, transitively.
        candidates = sorted(graph.services, key=lambda n: -len(graph.direct_callers(n)))[:50]
        hub = max(candidates, key=lambda n: (len(graph.hops(n, upstream=True)), n))
        _, key = ApiKey.objects.create_key(name="benchmark", scope=ApiKeyScope.READ)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")

        impact, impacted, cold = [], 0, []
        for sample in range(IMPACT_SAMPLES):
            if sample % 4 == 0:  # a graph write or new recommendations invalidate the cached inputs
                _cold_cache()
            began = time.perf_counter()
            response = client.post("/api/v1/impact-analysis",
                                   {"service_id": hub, "availability": 0.99 + sample * 0.0002}, format="json")
            (cold if sample % 4 == 0 else impact).append(time.perf_counter() - began)
            if response.status_code != 200:
                raise RuntimeError(f"impact analysis failed: {response.status_code} {response.content[:300]!r}")
            impacted = response.json()["summary"]["impacted"]
        impact_all = impact + cold
        figures["impact_hub"] = {"service_id": hub, "impacted": impacted, "max_depth": 10,
                                 "api": _percentiles(impact_all), "api_cached_inputs": _percentiles(impact),
                                 "api_cold_inputs": _percentiles(cold)}
        progress(f"impact of {hub} ({impacted} services upstream): all {figures['impact_hub']['api']}, "
                 f"cold {figures['impact_hub']['api_cold_inputs']}")

        # Constraint analyses: random services, and the one with the most dependencies.
        names = sorted(graph.services)
        deepest = max(candidates[:1] + names[:200], key=lambda n: len(graph.hops(n, upstream=False)))
        constraint, sizes, cold = [], [], []
        for sample, start in enumerate([deepest] * 20 + rng.sample(names, CONSTRAINT_SAMPLES - 20)):
            if sample % 10 == 0:
                _cold_cache()
            began = time.perf_counter()
            response = client.get(f"/api/v1/services/{start}/constraint-analysis?target=0.999")
            (cold if sample % 10 == 0 else constraint).append(time.perf_counter() - began)
            if response.status_code != 200:
                raise RuntimeError(f"constraint analysis failed: {response.status_code}")
            sizes.append(len(response.json()["dependencies"]))
        figures["constraint"] = {"api": _percentiles(constraint + cold), "api_cached_inputs": _percentiles(constraint),
                                 "api_cold_inputs": _percentiles(cold),
                                 "dependencies": {"mean": round(sum(sizes) / len(sizes), 1), "max": max(sizes)},
                                 "widest_service": deepest}
        progress(f"constraint analysis: all {figures['constraint']['api']}, "
                 f"cold {figures['constraint']['api_cold_inputs']}, units {figures['constraint']['dependencies']}")

    figures["targets"] = {
        "impact_hub_p95_ms": {"target": TARGETS_MS["impact_hub_p95_ms"],
                              "measured": figures["impact_hub"]["api"]["p95_ms"],
                              "met": figures["impact_hub"]["api"]["p95_ms"] <= TARGETS_MS["impact_hub_p95_ms"]},
        "constraint_p95_ms": {"target": TARGETS_MS["constraint_p95_ms"],
                              "measured": figures["constraint"]["api"]["p95_ms"],
                              "met": figures["constraint"]["api"]["p95_ms"] <= TARGETS_MS["constraint_p95_ms"]},
    }
    return figures
