"""Cycle detection persisted as circular-dependency alerts (DESIGN.md section 7).

`cycle_alerts_sync` loads the effective, non-stale graph, detects its cycles
and brings the alerts in line with it:

* a new cycle opens an alert (with the size of its strongly connected component);
* a cycle still present refreshes `last_seen_at` (an acknowledged alert stays acknowledged);
* an open or acknowledged alert whose cycle is gone is resolved, with a note;
* a resolved alert whose cycle is back is reopened (`reopened_at`, `reopen_count`
  + 1, acknowledgement cleared; the last resolution is kept as history).

Running it twice changes nothing but `last_seen_at`. Called after each
ingestion commit, by the `detect_cycles` command and by the daily task.
"""

import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from graph.domain.cycles import CycleDetection, detect_cycles
from graph.models import AlertStatus, CircularDependencyAlert, GraphVersion, Service, ServiceDependency
from graph.selectors import graph_version_stored
from graph.services.alerts import alerts_gauge_refresh
from slo_engine.metrics import CYCLE_DETECTION_SECONDS
from slo_engine.tracing import span_attributes, traced

logger = logging.getLogger(__name__)

AUTO_RESOLVE_NOTE = "Cycle no longer present in the dependency graph (auto-resolved)."
AUTO_RESOLVE_ACTOR = "cycle-detection"
SUMMARY_CACHE_KEY = "graph:cycles:last-detection"
# The graph may change between loading it and writing the alerts; reload a
# few times so the alerts describe one graph version, then write anyway.
_MAX_ATTEMPTS = 3
_BATCH_SIZE = 1000


@dataclass
class CycleSyncResult:
    """Outcome of one detection run.

    `cycles`: every canonical cycle the graph now contains, sorted;
    `created`/`reopened`/`resolved`/`refreshed`: alerts opened, reopened,
    auto-resolved and still present; `truncated_sccs`: components whose cycle
    enumeration hit `CYCLE_MAX_PER_SCC`.
    """

    cycles: list[list[str]] = field(default_factory=list)
    created: int = 0
    reopened: int = 0
    resolved: int = 0
    refreshed: int = 0
    sccs: int = 0
    truncated_sccs: int = 0
    nodes: int = 0
    edges: int = 0
    graph_version: int = 0
    load_seconds: float = 0.0
    detect_seconds: float = 0.0
    persist_seconds: float = 0.0
    duration_seconds: float = 0.0

    def as_dict(self) -> dict:
        return {
            "cycles": len(self.cycles), "created": self.created, "reopened": self.reopened,
            "resolved": self.resolved, "refreshed": self.refreshed, "sccs": self.sccs,
            "truncated_sccs": self.truncated_sccs, "nodes": self.nodes, "edges": self.edges,
            "graph_version": self.graph_version, "load_seconds": round(self.load_seconds, 4),
            "detect_seconds": round(self.detect_seconds, 4), "persist_seconds": round(self.persist_seconds, 4),
            "duration_seconds": round(self.duration_seconds, 4),
        }


def cycle_edge_pairs() -> list[tuple[str, str]]:
    """(source, target) service_ids of every non-stale edge record between
    active services: the topology cycle detection needs. Several records of
    one pair collapse in the graph, so this skips the attribute merge that
    `effective_edges()` does.

    Two plain scans (active services, live edge records) joined in Python:
    no join for the planner to get wrong. Right after a bulk load, with
    table statistics not yet gathered, PostgreSQL can pick a nested loop for
    the SQL join that takes seconds to minutes instead of a fraction of one.
    """
    names = dict(Service.objects.filter(retired_at__isnull=True).order_by().values_list("pk", "service_id"))
    pairs = []
    for source_pk, target_pk in (
        ServiceDependency.objects.filter(is_stale=False).order_by().values_list("source_id", "target_id")
    ):
        source, target = names.get(source_pk), names.get(target_pk)
        if source is not None and target is not None:
            pairs.append((source, target))
    return pairs


@traced("graph.cycles.detect")
def cycle_alerts_sync(
    *, now: datetime | None = None, progress: Callable[[str], None] | None = None
) -> CycleSyncResult:
    """Detect the cycles of the current effective graph and persist them as alerts.

    `now` stamps detection/last-seen/resolution times (default: the current
    time); `progress` receives human-readable progress lines. Returns the
    counts and timings; logs them and updates the alert gauge and the
    detection-duration histogram.
    """
    say = progress or (lambda message: None)
    started = time.perf_counter()
    result = CycleSyncResult()
    for attempt in range(1, _MAX_ATTEMPTS + 1):
        stamp = now or timezone.now()
        # From the database: the alerts are checked against it on persist.
        version = graph_version_stored()
        say(f"loading the effective graph (version {version})")
        load_started = time.perf_counter()
        pairs = cycle_edge_pairs()
        result.load_seconds = time.perf_counter() - load_started
        say(f"loaded {len(pairs)} live edge records in {result.load_seconds:.2f} s; detecting cycles")
        detect_started = time.perf_counter()
        detection = detect_cycles(
            pairs, max_length=settings.CYCLE_MAX_LENGTH, max_per_component=settings.CYCLE_MAX_PER_SCC
        )
        result.detect_seconds = time.perf_counter() - detect_started
        say(
            f"found {len(detection.cycles)} cycle(s) in {len(detection.components)} strongly connected "
            f"component(s) in {result.detect_seconds:.2f} s; updating alerts"
        )
        persist_started = time.perf_counter()
        persisted = _persist(
            detection=detection, expected_version=version, now=stamp,
            force=attempt == _MAX_ATTEMPTS, result=result,
        )
        result.persist_seconds = time.perf_counter() - persist_started
        if persisted:
            break
        say("the graph changed during detection; detecting again")
    result.cycles = [list(cycle) for cycle in detection.cycles]
    result.sccs = len(detection.components)
    result.truncated_sccs = len(detection.truncated)
    result.nodes = detection.nodes
    result.edges = detection.edges
    result.duration_seconds = time.perf_counter() - started

    CYCLE_DETECTION_SECONDS.observe(result.duration_seconds)
    span_attributes({"graph.cycles.edges": result.edges, "graph.cycles.sccs": result.sccs,
                     "graph.cycles.found": len(result.cycles), "graph.cycles.truncated_sccs": result.truncated_sccs,
                     "graph.cycles.created": result.created, "graph.cycles.reopened": result.reopened,
                     "graph.cycles.resolved": result.resolved})
    alerts_gauge_refresh()
    _store_summary(detection=detection, now=stamp)
    logger.info(
        "cycle detection: %d cycle(s), %d created, %d reopened, %d resolved, %d truncated component(s) in %.3f s",
        len(result.cycles), result.created, result.reopened, result.resolved, result.truncated_sccs,
        result.duration_seconds, extra={"cycle_detection": result.as_dict()},
    )
    if detection.truncated:
        logger.warning(
            "cycle enumeration capped at %d per component in %d component(s); more cycles exist",
            settings.CYCLE_MAX_PER_SCC, len(detection.truncated),
        )
    return result


def _persist(
    *, detection: CycleDetection, expected_version: int, now: datetime, force: bool, result: CycleSyncResult
) -> bool:
    """Write the alert changes in one transaction; returns False (writing
    nothing) when the graph version moved since loading and not `force`.

    Locking the graph-version row serialises concurrent runs and makes an
    ingestion that bumps the version wait for these few statements, so the
    alerts never go back to an older graph than a concurrent run wrote.
    """
    with transaction.atomic():
        version_row, _ = GraphVersion.objects.select_for_update().get_or_create(pk=1)
        current = version_row.version
        result.graph_version = current
        if current != expected_version and not force:
            return False

        present = {cycle: detection.component_size[cycle] for cycle in detection.cycles}
        known = {
            tuple(path): (pk, status)
            for pk, path, status in CircularDependencyAlert.objects.values_list("pk", "cycle_path", "status")
        }

        new = [cycle for cycle in detection.cycles if cycle not in known]
        CircularDependencyAlert.objects.bulk_create(
            [
                CircularDependencyAlert(
                    cycle_path=list(cycle), status=AlertStatus.OPEN, scc_size=present[cycle],
                    detected_at=now, last_seen_at=now,
                )
                for cycle in new
            ],
            batch_size=_BATCH_SIZE,
        )
        result.created = len(new)

        still_by_size: dict[int, list[int]] = defaultdict(list)
        back_by_size: dict[int, list[int]] = defaultdict(list)
        gone: list[int] = []
        for path, (pk, status) in known.items():
            if path in present:
                target = back_by_size if status == AlertStatus.RESOLVED else still_by_size
                target[present[path]].append(pk)
            elif status != AlertStatus.RESOLVED:
                gone.append(pk)

        active = (AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED)
        # Each UPDATE is conditional on the status read above, so an operator
        # acting at the same moment is never overwritten.
        for size, ids in still_by_size.items():
            result.refreshed += _update_in_batches(
                ids, allowed_from=active, last_seen_at=now, scc_size=size, updated_at=now
            )
        for size, ids in back_by_size.items():
            result.reopened += _update_in_batches(
                ids, allowed_from=(AlertStatus.RESOLVED,), status=AlertStatus.OPEN, last_seen_at=now,
                scc_size=size, reopened_at=now, reopen_count=F("reopen_count") + 1,
                acknowledged_by="", acknowledged_at=None, acknowledgement_notes="", updated_at=now,
            )
        result.resolved = _update_in_batches(
            gone, allowed_from=active, status=AlertStatus.RESOLVED, resolved_at=now,
            resolved_by=AUTO_RESOLVE_ACTOR, resolution_notes=AUTO_RESOLVE_NOTE, updated_at=now,
        )
    return True


def _update_in_batches(ids: list[int], *, allowed_from: tuple[str, ...], **changes) -> int:
    changed = 0
    for start in range(0, len(ids), _BATCH_SIZE):
        changed += CircularDependencyAlert.objects.filter(
            pk__in=ids[start:start + _BATCH_SIZE], status__in=allowed_from
        ).update(**changes)
    return changed


def _store_summary(*, detection: CycleDetection, now: datetime) -> None:
    """Keep what the last run found but could not list (capped components)
    for the alert list and the admin; the alerts table has no room for it."""
    cache.set(
        SUMMARY_CACHE_KEY,
        {
            "detected_at": now.isoformat(),
            "cycles": len(detection.cycles),
            "sccs": len(detection.components),
            "max_cycles_per_scc": settings.CYCLE_MAX_PER_SCC,
            "max_cycle_length": settings.CYCLE_MAX_LENGTH,
            "truncated_sccs": [
                {"size": component.size, "listed": component.listed, "services": list(component.services[:20])}
                for component in detection.truncated
            ],
        },
        timeout=None,
    )


def cycle_detection_summary() -> dict | None:
    """What the last detection run reported: `detected_at`, counts, and the
    components whose cycles were capped (`truncated_sccs`: size, how many
    cycles were listed, up to 20 member service_ids). None before any run or
    when the cache was flushed."""
    return cache.get(SUMMARY_CACHE_KEY)
