"""`manage.py benchmark --only cycles`: seconds taken by cycle detection
(loading the edges from the database, SCCs + bounded enumeration, writing the
alerts) on generated graphs of 5,000 services / 25,000 edges and 50,000 /
250,000. Targets: 1 s and 10 s.

The graphs go into a scratch database (`<name>_bench_cycles`, created,
migrated and dropped here), so the real graph and its alerts are untouched.
"""

import time
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from graph.benchmarks.generate import generate_graph
from graph.domain.cycles import detect_cycles
from graph.models import CircularDependencyAlert, Service, ServiceDependency
from graph.services.cycles import SUMMARY_CACHE_KEY, cycle_alerts_sync, cycle_edge_pairs

SIZES = ((5_000, 25_000, 1.0), (50_000, 250_000, 10.0))  # services, edges, target seconds
_BATCH = 5_000


def run(*, progress: Callable[[str], None]) -> dict:
    """Return `{"graphs": [...]}` with one entry of figures per graph size."""
    saved_summary = cache.get(SUMMARY_CACHE_KEY)
    original_name = connection.settings_dict["NAME"]
    scratch = _scratch_database_name(original_name)
    progress(f"cycles: creating scratch database {scratch}")
    connection.settings_dict.setdefault("TEST", {})["NAME"] = scratch
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False, keepdb=False)
    try:
        graphs = [_measure(services, edges, target, progress) for services, edges, target in SIZES]
    finally:
        connection.creation.destroy_test_db(original_name, verbosity=0, keepdb=False)
        # Detection wrote its summary to the shared cache: put the real one back.
        if saved_summary is None:
            cache.delete(SUMMARY_CACHE_KEY)
        else:
            cache.set(SUMMARY_CACHE_KEY, saved_summary, timeout=None)
    return {
        "max_cycle_length": settings.CYCLE_MAX_LENGTH,
        "max_cycles_per_scc": settings.CYCLE_MAX_PER_SCC,
        "graphs": graphs,
        "all_targets_met": all(g["meets_target"] for g in graphs),
    }


def _scratch_database_name(name: str) -> str:
    if connection.vendor == "sqlite":
        return ""  # an in-memory database
    return f"{name}_bench_cycles"


def _measure(services: int, edges: int, target: float, progress: Callable[[str], None]) -> dict:
    progress(f"cycles: generating {services} services / {edges} edges")
    payload = generate_graph(services=services, edges=edges, cycles=5, seed=7)
    insert_seconds = _load(payload)
    progress(f"cycles: inserted in {insert_seconds:.1f} s; detecting")

    first = cycle_alerts_sync(now=timezone.now())  # opens every alert
    second = cycle_alerts_sync(now=timezone.now())  # steady state: refreshes them
    started = time.perf_counter()
    pairs = cycle_edge_pairs()
    load_only = time.perf_counter() - started
    started = time.perf_counter()
    detect_cycles(pairs, max_length=settings.CYCLE_MAX_LENGTH, max_per_component=settings.CYCLE_MAX_PER_SCC)
    detect_only = time.perf_counter() - started

    worst = max(first.duration_seconds, second.duration_seconds)
    figures = {
        "services": services,
        "edges": edges,
        "target_seconds": target,
        "seconds": round(worst, 3),
        "meets_target": worst <= target,
        "first_run": _run_figures(first),
        "second_run": _run_figures(second),
        "load_edges_seconds": round(load_only, 3),
        "detect_in_memory_seconds": round(detect_only, 3),
        "insert_seconds": round(insert_seconds, 3),
        "cycles": len(first.cycles),
        "sccs": first.sccs,
        "truncated_sccs": first.truncated_sccs,
        "alerts": CircularDependencyAlert.objects.count(),
    }
    progress(
        f"cycles: {services}/{edges}: {figures['cycles']} cycle(s), first run {first.duration_seconds:.2f} s, "
        f"second run {second.duration_seconds:.2f} s (target {target} s)"
    )
    _clear()
    return figures


def _run_figures(result) -> dict:
    return {
        "seconds": round(result.duration_seconds, 3),
        "load_seconds": round(result.load_seconds, 3),
        "detect_seconds": round(result.detect_seconds, 3),
        "persist_seconds": round(result.persist_seconds, 3),
        "created": result.created,
        "refreshed": result.refreshed,
    }


def _load(payload: dict) -> float:
    """Insert the generated graph with bulk_create; returns seconds taken."""
    started = time.perf_counter()
    now = timezone.now()
    services = [
        Service(service_id=node["service_id"], display_name=node["display_name"], team=node["team"],
                criticality=node["criticality"], tags=node["tags"], metadata=node["metadata"])
        for node in payload["nodes"]
    ]
    Service.objects.bulk_create(services, batch_size=_BATCH)
    by_id = {service.service_id: service.pk for service in services}
    dependencies = (
        ServiceDependency(
            source_id=by_id[e["source"]], target_id=by_id[e["target"]], discovery_source=payload["source"],
            communication_mode=e["attributes"]["communication_mode"], criticality=e["attributes"]["criticality"],
            protocol=e["attributes"]["protocol"], timeout_ms=e["attributes"]["timeout_ms"], last_observed_at=now,
        )
        for e in payload["edges"]
    )
    batch: list[ServiceDependency] = []
    for dependency in dependencies:
        batch.append(dependency)
        if len(batch) == _BATCH:
            ServiceDependency.objects.bulk_create(batch)
            batch = []
    ServiceDependency.objects.bulk_create(batch)
    return time.perf_counter() - started


def _clear() -> None:
    CircularDependencyAlert.objects.all().delete()
    ServiceDependency.objects.all().delete()
    Service.objects.all().delete()
