"""Writes of recommendations: generate (gather inputs, run the maths in
`recommendations/domain/`, persist) and expire. Keyword-only, typed."""

import hashlib
import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import networkx as nx
import numpy as np
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from graph.models import Service
from graph.selectors import effective_graph
from recommendations.domain.availability import availability_tiers, predictive_distribution
from recommendations.domain.composite import HardDependencyGraph, dependency_budget_shares
from recommendations.domain.explain import availability_summary, feature_attributions
from recommendations.domain.latency import latency_tiers, timeout_warnings
from recommendations.domain.quality import (
    COLD_START_LOOKBACK_DAYS,
    DEFAULT_LOOKBACK_DAYS,
    MIN_DAYS,
    CleanHistory,
    clean_daily_events,
    data_quality,
    is_cold_start,
)
from recommendations.models import RecommendationSliType, RecommendationStatus, SloRecommendation
from recommendations.selectors import recommendations_active
from slo_engine.metrics import RECOMMENDATION_SECONDS, RECOMMENDATIONS
from slo_engine.tracing import span, span_attributes, traced
from telemetry.sources import SliHistory, TelemetryError, TelemetrySource, get_telemetry_source

logger = logging.getLogger(__name__)

LATENCY_PERCENTILE = 99


class InsufficientData(Exception):
    """Fewer than MIN_DAYS days of usable data: no recommendation.
    `data_quality` holds the facts (days with data, lookback, rejected...)."""

    def __init__(self, service_id: str, data_quality: dict, *, looked_for: tuple[str, ...] = ()):
        self.service_id = service_id
        self.data_quality = data_quality
        self.looked_for = looked_for
        # With no series at all, say what was looked for: a naming or label
        # mismatch looks exactly like silence otherwise.
        hint = f"; no series found, looked for: {', '.join(looked_for)}" if looked_for else ""
        super().__init__(
            f"{service_id} has {data_quality['days_with_data']} day(s) of usable data in the last "
            f"{data_quality['lookback_days']} days; at least {MIN_DAYS} are needed for a recommendation{hint}"
        )


@dataclass
class DependencyFacts:
    availability: float | None
    p99_ms: list[float] = field(default_factory=list)


@dataclass
class BatchContext:
    """What one batch run shares between services: the effective graph and the
    dependencies' observed facts, each fetched once."""

    graph: nx.DiGraph | None = None
    dependencies: dict[str, DependencyFacts] = field(default_factory=dict)
    _hard: HardDependencyGraph | None = None

    def hard_dependencies(self) -> HardDependencyGraph:
        if self.graph is None:
            self.graph = effective_graph()
        if self._hard is None:
            self._hard = HardDependencyGraph(
                (u, v) for u, v, data in self.graph.edges(data=True) if data["edge"].is_hard_sync)
        return self._hard


def service_seed(service_id: str) -> int:
    """A stable per-service seed (Python's hash() is salted per process)."""
    return int.from_bytes(hashlib.sha256(service_id.encode()).digest()[:8], "big")


def _events(history: SliHistory) -> tuple[np.ndarray, np.ndarray]:
    good = np.fromiter((d.good for d in history.days), dtype=float, count=len(history.days))
    total = np.fromiter((d.total for d in history.days), dtype=float, count=len(history.days))
    return good, total


def _p99(history: SliHistory) -> list[float]:
    return [d.latency_ms[LATENCY_PERCENTILE] for d in history.days
            if LATENCY_PERCENTILE in d.latency_ms and 0 <= d.good <= d.total]


@traced("recommendation.telemetry_read", {"recommendation.telemetry.of": "service"})
def _load_history(source: TelemetrySource, service: Service, end: date) -> tuple[SliHistory, CleanHistory, bool]:
    """The 30-day history, or the 90-day one on a cold start."""
    metadata = service.metadata or {}
    history = source.daily_history(service.service_id, start=end - timedelta(days=DEFAULT_LOOKBACK_DAYS - 1),
                                   end=end, metadata=metadata)
    clean = clean_daily_events(*_events(history))
    cold_start = is_cold_start(int(clean.total.size), DEFAULT_LOOKBACK_DAYS)
    if cold_start:
        history = source.daily_history(service.service_id, end=end, metadata=metadata,
                                       start=end - timedelta(days=COLD_START_LOOKBACK_DAYS - 1))
        clean = clean_daily_events(*_events(history))
    return history, clean, cold_start


def _dependency_facts(source: TelemetrySource, service_id: str, end: date, context: BatchContext) -> DependencyFacts:
    facts = context.dependencies.get(service_id)
    if facts is None:
        history = source.daily_history(service_id, start=end - timedelta(days=DEFAULT_LOOKBACK_DAYS - 1), end=end)
        clean = clean_daily_events(*_events(history))
        availability = float(clean.good.sum() / clean.total.sum()) if clean.total.size else None
        facts = DependencyFacts(availability=availability, p99_ms=_p99(history))
        context.dependencies[service_id] = facts
    return facts


@traced("recommendation.maths", {"recommendation.sli_type": "availability"})
def _availability_recommendation(*, service_id: str, clean: CleanHistory, quality: dict, window_days: int,
                                 ceiling, seed: int) -> tuple[dict, dict]:
    """(tiers, explanation) of the availability SLI."""
    dist = predictive_distribution(clean.good, clean.total, window_days=window_days, seed=seed)
    tiers = availability_tiers(clean.good, clean.total, window_days=window_days, seed=seed,
                               ceiling=ceiling.composite, dist=dist)
    balanced = tiers["balanced"]
    bottleneck = ceiling.bottleneck
    attributions = feature_attributions(
        observed=dist.observed_mean,
        plugin_quantile=float(np.quantile(dist.plugin_windows, balanced.probability)),
        predictive_quantile=balanced.target_raw,
        rounded=balanced.rounded,
        target=balanced.target,
    )
    explanation = {
        "summary": availability_summary(
            service_id=service_id, target=balanced.target, window_days=window_days,
            budget_minutes=balanced.error_budget_minutes, observed=dist.observed_mean,
            days=quality["days_with_data"], cold_start=quality["is_cold_start"],
            bottleneck=bottleneck.service_id if bottleneck else None, composite=ceiling.composite,
            capped=balanced.target < balanced.rounded, low_traffic=quality["low_traffic"],
        ),
        "observed_availability": round(dist.observed_mean, 8),
        "feature_attributions": attributions,
        "dependency_impact": {
            "composite_availability_bound": round(ceiling.composite, 8),
            "bottleneck_service": bottleneck.service_id if bottleneck else None,
            "dependencies": dependency_budget_shares(ceiling, balanced.target),
        },
    }
    return {name: tier.as_dict() for name, tier in tiers.items()}, explanation


@traced("recommendation.generate")
def recommendations_generate(*, service: Service, source: TelemetrySource | None = None,
                             now: datetime | None = None,
                             context: BatchContext | None = None) -> list[SloRecommendation]:
    """Compute the availability and latency p99 recommendations of `service`
    from its telemetry and its hard sync dependencies, and make them the
    active ones (the previous active ones are superseded in the same
    transaction). Raises InsufficientData below MIN_DAYS days of data, and
    TelemetryError when the source fails. `context` shares the graph and the
    dependencies' facts across a batch."""
    span_attributes({"service.id": service.service_id})
    started = time.perf_counter()
    try:
        rows = _build_rows(service=service, source=source or get_telemetry_source(), now=now or timezone.now(),
                           context=context or BatchContext())
        rows = _persist(service=service, rows=rows)
    except InsufficientData:
        RECOMMENDATIONS.labels(outcome="insufficient_data").inc()
        raise
    except Exception:
        RECOMMENDATIONS.labels(outcome="error").inc()
        raise
    RECOMMENDATIONS.labels(outcome="generated").inc()
    RECOMMENDATION_SECONDS.observe(time.perf_counter() - started)
    return rows


def recommendations_current(*, service: Service, force_regenerate: bool = False,
                            now: datetime | None = None) -> list[SloRecommendation]:
    """The active recommendations of `service`, (re)generated first when
    forced, when there are none, or when any has passed its expiry. Raises
    like `recommendations_generate` when it has to generate."""
    now = now or timezone.now()
    active = list(recommendations_active(service=service))
    if force_regenerate or not active or any(r.expires_at <= now for r in active):
        return recommendations_generate(service=service, now=now)
    return active


@dataclass
class BatchOutcome:
    """Counts of one `recommendations_generate_many` call."""

    generated: int = 0
    insufficient_data: int = 0
    failed: int = 0
    recommendations: int = 0

    def as_dict(self) -> dict:
        return {"generated": self.generated, "insufficient_data": self.insufficient_data,
                "failed": self.failed, "recommendations": self.recommendations}


@traced("recommendation.generate_many")
def recommendations_generate_many(*, services: Iterable[Service], source: TelemetrySource | None = None,
                                  now: datetime | None = None,
                                  context: BatchContext | None = None) -> BatchOutcome:
    """Generate recommendations for many services (a batch chunk) and persist
    them together: one transaction supersedes the active rows and inserts the
    new ones, instead of a transaction (and a commit) per service. A service
    without enough data or whose telemetry fails is counted and skipped; the
    others are still written. Returns the counts."""
    source = source or get_telemetry_source()
    now = now or timezone.now()
    context = context or BatchContext()
    outcome = BatchOutcome()
    built: dict[Service, list[SloRecommendation]] = {}
    for service in services:
        started = time.perf_counter()
        try:
            built[service] = _build_rows(service=service, source=source, now=now, context=context)
        except InsufficientData:
            RECOMMENDATIONS.labels(outcome="insufficient_data").inc()
            outcome.insufficient_data += 1
            continue
        except TelemetryError:
            logger.exception("recommendation of %s failed: telemetry", service.service_id)
            RECOMMENDATIONS.labels(outcome="error").inc()
            outcome.failed += 1
            continue
        RECOMMENDATION_SECONDS.observe(time.perf_counter() - started)
    _persist_many(built)
    outcome.generated = len(built)
    outcome.recommendations = sum(len(rows) for rows in built.values())
    RECOMMENDATIONS.labels(outcome="generated").inc(outcome.generated)
    return outcome


@traced("recommendation.build")
def _build_rows(*, service: Service, source: TelemetrySource, now: datetime,
                context: BatchContext) -> list[SloRecommendation]:
    """The unsaved recommendation rows of one service (see recommendations_generate)."""
    span_attributes({"service.id": service.service_id})
    window_days = settings.SLO_WINDOW_DAYS
    # The lookback ends with the last complete UTC day (today's is partial).
    end = (now.astimezone(UTC).date() if timezone.is_aware(now) else now.date()) - timedelta(days=1)
    history, clean, cold_start = _load_history(source, service, end)
    lookback_days = COLD_START_LOOKBACK_DAYS if cold_start else DEFAULT_LOOKBACK_DAYS
    quality = data_quality(history=clean, lookback_days=lookback_days, cold_start=cold_start)
    if clean.total.size < MIN_DAYS:
        raise InsufficientData(service.service_id, quality,
                               looked_for=history.looked_for if not history.days else ())

    hard = context.hard_dependencies()
    graph = context.graph
    with span("recommendation.telemetry_read", {"recommendation.telemetry.of": "dependencies"}):
        availability = {dep: _dependency_facts(source, dep, end, context).availability
                        for dep in hard.direct_and_transitive(service.service_id)}
    ceiling = hard.ceiling(service.service_id, availability)
    seed = service_seed(service.service_id)

    tiers, explanation = _availability_recommendation(
        service_id=service.service_id, clean=clean, quality=quality, window_days=window_days,
        ceiling=ceiling, seed=seed)
    lookback_start = datetime.combine(end - timedelta(days=lookback_days - 1), datetime.min.time(), tzinfo=UTC)
    lookback_end = datetime.combine(end + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    common = {"service": service, "window_days": window_days, "data_quality": quality,
              "lookback_window_start": lookback_start, "lookback_window_end": lookback_end,
              "generated_at": now, "expires_at": now + timedelta(hours=settings.RECOMMENDATION_TTL_HOURS),
              "status": RecommendationStatus.ACTIVE}
    rows = [SloRecommendation(sli_type=RecommendationSliType.AVAILABILITY, metric="availability",
                              tiers=tiers, explanation=explanation, **common)]

    p99 = _p99(history)
    if len(p99) >= MIN_DAYS:
        direct = {v: graph.edges[service.service_id, v]["edge"].timeout_ms
                  for v in graph.successors(service.service_id)} if service.service_id in graph else {}
        with_timeouts = {dep: timeout for dep, timeout in direct.items() if timeout}
        warnings = timeout_warnings({dep: _dependency_facts(source, dep, end, context).p99_ms
                                     for dep in with_timeouts}, with_timeouts)
        with span("recommendation.maths", {"recommendation.sli_type": "latency"}):
            latency = latency_tiers(p99, percentile=LATENCY_PERCENTILE, seed=seed,
                                    bucket_bounds_ms=history.latency_bucket_bounds_ms)
        balanced = latency["balanced"]
        summary = (f"{service.service_id}: p99 under {balanced['threshold_ms']:.0f} ms on 95% of the "
                   f"{len(p99)} days observed; median day {float(np.median(p99)):.0f} ms, worst {max(p99):.0f} ms")
        if warnings:
            summary += f"; {len(warnings)} dependency timeout warning(s)"
        rows.append(SloRecommendation(
            sli_type=RecommendationSliType.LATENCY, metric=f"latency_p{LATENCY_PERCENTILE}", tiers=latency,
            explanation={"summary": summary + ".", "percentile": LATENCY_PERCENTILE, "warnings": warnings},
            **{**common, "data_quality": {**quality, "days_with_data": len(p99),
                                          "completeness": round(len(p99) / lookback_days, 4)}},
        ))
    return rows


@traced("recommendation.persist")
def _persist(*, service: Service, rows: list[SloRecommendation]) -> list[SloRecommendation]:
    """Supersede the active rows of the same (sli_type, metric) and insert the
    new ones in one transaction. A concurrent generation that won the race
    trips the partial unique constraint: retry once, superseding its rows."""
    for attempt in range(2):
        try:
            with transaction.atomic():
                # One statement supersedes every SLI being replaced (metric
                # names the SLI: availability, latency_p99).
                SloRecommendation.objects.filter(
                    service=service, metric__in=[row.metric for row in rows], status=RecommendationStatus.ACTIVE,
                ).update(status=RecommendationStatus.SUPERSEDED, updated_at=timezone.now())
                return SloRecommendation.objects.bulk_create(rows)
        except IntegrityError:
            if attempt:
                raise
            for row in rows:
                row.pk = None
    return rows


@traced("recommendation.persist")
def _persist_many(built: dict[Service, list[SloRecommendation]]) -> None:
    """Persist the rows of many services in one transaction: one UPDATE per
    set of metrics supersedes their active rows, one bulk insert adds the new
    ones. If a concurrent generation wins a race on the partial unique
    constraint, fall back to the per-service path, which retries."""
    if not built:
        return
    by_metrics: dict[tuple[str, ...], list] = defaultdict(list)
    for service, rows in built.items():
        by_metrics[tuple(sorted(row.metric for row in rows))].append(service.pk)
    try:
        with transaction.atomic():
            stamp = timezone.now()
            for metrics, service_pks in by_metrics.items():
                SloRecommendation.objects.filter(
                    service_id__in=service_pks, metric__in=metrics, status=RecommendationStatus.ACTIVE,
                ).update(status=RecommendationStatus.SUPERSEDED, updated_at=stamp)
            SloRecommendation.objects.bulk_create([row for rows in built.values() for row in rows])
    except IntegrityError:
        for service, rows in built.items():
            for row in rows:
                row.pk = None
            _persist(service=service, rows=rows)


def recommendations_expire(*, now: datetime | None = None) -> int:
    """Mark active recommendations past `expires_at` as expired; returns how
    many. One conditional UPDATE (index recommendation_expiry_idx)."""
    now = now or timezone.now()
    return SloRecommendation.objects.filter(status=RecommendationStatus.ACTIVE, expires_at__lte=now).update(
        status=RecommendationStatus.EXPIRED, updated_at=now)
