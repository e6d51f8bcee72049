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
from recommendations.domain.availability import TIER_QUANTILES, availability_tiers, fleet_predictive
from recommendations.domain.backtest import DEFAULT_LOOKBACK_DAYS as BACKTEST_LOOKBACK_DAYS
from recommendations.domain.backtest import DEFAULT_STEP_DAYS, walk_forward
from recommendations.domain.composite import HardDependencyGraph, bound_binds, dependency_impact
from recommendations.domain.explain import availability_summary, feature_attributions
from recommendations.domain.fleet_prior import (
    MIN_SERVICES,
    FleetPriorParams,
    fit_fleet_prior,
    split_days,
)
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
from recommendations.models import (
    FleetPrior,
    RecommendationBacktest,
    RecommendationSliType,
    RecommendationStatus,
    SloRecommendation,
)
from recommendations.selectors import fleet_prior_current, recommendations_active
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
    # The fleet prior every service of the batch uses (None: the latest stored one).
    prior: FleetPriorParams | None = None
    # (start, end) -> (client, server) -> availability of the client's calls.
    edge_availability: dict[tuple[date, date], dict[tuple[str, str], float]] = field(default_factory=dict)
    _hard: HardDependencyGraph | None = None

    def hard_dependencies(self) -> HardDependencyGraph:
        if self.graph is None:
            self.graph = effective_graph()
        if self._hard is None:
            self._hard = HardDependencyGraph(
                (u, v) for u, v, data in self.graph.edges(data=True) if data["edge"].is_hard_sync)
        return self._hard

    def fleet_prior(self, source: TelemetrySource) -> FleetPriorParams:
        """The stored prior; before the first one is stored, one fitted now
        (and stored once the fleet is big enough: see fleet_prior_ensure)."""
        if self.prior is None:
            self.prior = fleet_prior_ensure(source=source)
        return self.prior

    def edges(self, source: TelemetrySource, *, start: date, end: date) -> dict[tuple[str, str], float]:
        """Availability of each client->server edge with calls in [start, end]
        (one telemetry read per span of days per batch)."""
        key = (start, end)
        if key not in self.edge_availability:
            self.edge_availability[key] = {
                (edge.client, edge.server): edge.availability
                for edge in source.edge_traffic(start=start, end=end) if edge.availability is not None}
        return self.edge_availability[key]


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


def _dependency_availability(source: TelemetrySource, service_id: str, dependencies: Iterable[str], *,
                             start: date, end: date, context: BatchContext) -> tuple[dict, dict]:
    """(availability, basis) of each dependency as `service_id` experiences
    it: 1 - failed / total of its own calls to it over [start, end] when the
    service graph has them (`edge`), else the dependency's own availability
    over the last 30 days (`service`)."""
    dependencies = list(dependencies)
    if not dependencies:
        return {}, {}
    edges = context.edges(source, start=start, end=end)
    availability, basis = {}, {}
    for dependency in dependencies:
        experienced = edges.get((service_id, dependency))
        if experienced is not None:
            availability[dependency], basis[dependency] = experienced, "edge"
        else:
            availability[dependency] = _dependency_facts(source, dependency, end, context).availability
            basis[dependency] = "service"
    return availability, basis


@traced("recommendation.maths", {"recommendation.sli_type": "availability"})
def _availability_recommendation(*, service_id: str, clean: CleanHistory, quality: dict, window_days: int,
                                 ceiling, basis: dict, seed: int, prior: FleetPriorParams) -> tuple[dict, dict]:
    """(tiers, explanation) of the availability SLI. The dependency bound
    caps the tiers only when it binds (the service did not do better than
    it); the attributions add up to the served observed availability minus
    the served balanced target."""
    dist = fleet_predictive(clean.good, clean.total, window_days=window_days, seed=seed, prior=prior)
    # The served value: the explanation adds up to what the user reads.
    observed = round(dist.observed_mean, 8)
    cap = ceiling.composite if bound_binds(bound=ceiling.composite, observed=dist.observed_mean) else 1.0
    tiers = availability_tiers(clean.good, clean.total, window_days=window_days, seed=seed, ceiling=cap,
                               dist=dist)
    balanced = tiers["balanced"]
    served = {name: tier.as_dict() for name, tier in tiers.items()}
    impact = dependency_impact(ceiling, observed=dist.observed_mean, target=balanced.target, basis=basis)
    bottleneck = ceiling.bottleneck
    attributions = feature_attributions(
        observed=observed,
        plugin_quantile=float(np.quantile(dist.plugin_windows, balanced.probability)),
        service_only_quantile=dist.service_only.quantile(TIER_QUANTILES["balanced"]),
        predictive_quantile=balanced.target_raw,
        rounded=balanced.rounded,
        target=balanced.target,
    )
    explanation = {
        "summary": availability_summary(
            service_id=service_id, target=balanced.target, window_days=window_days,
            budget_minutes=balanced.error_budget_minutes,
            breach_probability=served["balanced"]["estimated_breach_probability"], observed=observed,
            days=quality["days_with_data"], cold_start=quality["is_cold_start"],
            bottleneck=bottleneck.service_id if bottleneck else None, composite=ceiling.composite,
            capped=balanced.target < balanced.rounded, binding=impact["binding"],
            low_traffic=quality["low_traffic"],
        ),
        "observed_availability": observed,
        "feature_attributions": attributions,
        "fleet_prior": {"incident_chance": round(prior.incident_chance, 6), "services": prior.services,
                        "incidents_seen": dist.incidents_seen},
        "dependency_impact": impact,
    }
    return served, explanation


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
    end = last_complete_day(now)
    history, clean, cold_start = _load_history(source, service, end)
    lookback_days = COLD_START_LOOKBACK_DAYS if cold_start else DEFAULT_LOOKBACK_DAYS
    quality = data_quality(history=clean, lookback_days=lookback_days, cold_start=cold_start)
    if clean.total.size < MIN_DAYS:
        raise InsufficientData(service.service_id, quality,
                               looked_for=history.looked_for if not history.days else ())

    hard = context.hard_dependencies()
    graph = context.graph
    with span("recommendation.telemetry_read", {"recommendation.telemetry.of": "dependencies"}):
        availability, basis = _dependency_availability(
            source, service.service_id, sorted(hard.direct_and_transitive(service.service_id)),
            start=end - timedelta(days=lookback_days - 1), end=end, context=context)
    ceiling = hard.ceiling(service.service_id, availability)
    seed = service_seed(service.service_id)

    tiers, explanation = _availability_recommendation(
        service_id=service.service_id, clean=clean, quality=quality, window_days=window_days,
        ceiling=ceiling, basis=basis, seed=seed, prior=context.fleet_prior(source))
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


# The prior is a fleet-wide average: a deterministic sample of this many
# services fits it as well as the whole fleet, at a bounded cost.
FLEET_PRIOR_MAX_SERVICES = 1000
# How far back the backtest reads each service's history.
BACKTEST_HISTORY_DAYS = 182


def last_complete_day(now: datetime) -> date:
    """The last UTC day that is over at `now` (the recommender uses complete days only)."""
    return (now.astimezone(UTC).date() if timezone.is_aware(now) else now.date()) - timedelta(days=1)


def _prior_sample(services: list[Service], limit: int) -> list[Service]:
    """Up to `limit` services, the same ones run after run (ordered by a hash
    of the service_id, so the sample is spread over the whole fleet)."""
    if len(services) <= limit:
        return services
    return sorted(services, key=lambda s: service_seed(s.service_id))[:limit]


def fleet_prior_ensure(*, source: TelemetrySource) -> FleetPriorParams:
    """The latest stored prior. Before the first batch has stored one, fit
    and store it now (the default when fewer than MIN_SERVICES services have
    data), so the next generation reads a row instead of the whole fleet."""
    stored = fleet_prior_current() or fleet_prior_refit(source=source)
    return FleetPriorParams.from_dict(stored.parameters)


def fleet_prior_refit(*, source: TelemetrySource | None = None, now: datetime | None = None,
                      max_services: int = FLEET_PRIOR_MAX_SERVICES) -> FleetPrior:
    """Fit the fleet prior on the last 30 complete days of every active
    service with data (a deterministic sample of `max_services` in a larger
    fleet) and store it as the current FleetPrior. Services whose telemetry
    fails are left out; fewer than MIN_SERVICES with data store the default."""
    source = source or get_telemetry_source()
    now = now or timezone.now()
    params, services_used = _fit_fleet_prior(source=source, now=now, max_services=max_services)
    row = FleetPrior.objects.create(parameters=params.as_dict(), services_used=services_used,
                                    is_default=services_used < MIN_SERVICES, fitted_at=now)
    logger.info("fleet prior fitted on %d services: %s", services_used, params.as_dict(),
                extra={"services": services_used})
    return row


@traced("recommendation.fleet_prior_fit")
def _fit_fleet_prior(*, source: TelemetrySource, now: datetime, max_services: int) -> tuple[FleetPriorParams, int]:
    """(prior, services with data it saw) over the last 30 complete days."""
    end = last_complete_day(now)
    start = end - timedelta(days=DEFAULT_LOOKBACK_DAYS - 1)
    splits = []
    for service in _prior_sample(list(Service.objects.active().order_by("service_id")), max_services):
        try:
            history = source.daily_history(service.service_id, start=start, end=end, metadata=service.metadata or {})
        except TelemetryError:
            logger.warning("fleet prior: telemetry of %s failed, left out", service.service_id, exc_info=True)
            continue
        clean = clean_daily_events(*_events(history))
        if clean.total.size >= MIN_DAYS:
            splits.append(split_days(clean.good, clean.total))
    return fit_fleet_prior(splits), len(splits)


def _calendar_arrays(history: SliHistory, start: date, days: int) -> tuple[np.ndarray, np.ndarray]:
    """Daily good/total on a calendar of `days` days from `start` (0: no data)."""
    good = np.zeros(days)
    total = np.zeros(days)
    for day in history.days:
        index = (day.day - start).days
        if 0 <= index < days:
            good[index], total[index] = day.good, day.total
    return good, total


def backtest_run(*, source: TelemetrySource | None = None, now: datetime | None = None,
                 step_days: int = DEFAULT_STEP_DAYS, history_days: int = BACKTEST_HISTORY_DAYS,
                 service_id: str | None = None, progress=None) -> RecommendationBacktest:
    """Walk forward over the stored history of the active services (the last
    `history_days` complete days; in a fleet larger than
    FLEET_PRIOR_MAX_SERVICES, the same fixed sample the prior is fitted on),
    store the result and return it. With
    `service_id`, only that service's windows are evaluated (the prior is
    still fitted on the fleet). `progress(message)` reports what is done.
    The dependency cap is not applied: the backtest measures the model."""
    source = source or get_telemetry_source()
    now = now or timezone.now()
    window_days = settings.SLO_WINDOW_DAYS
    end = last_complete_day(now)
    start = end - timedelta(days=history_days - 1)
    services = list(Service.objects.active().order_by("service_id"))
    fleet = _prior_sample(services, FLEET_PRIOR_MAX_SERVICES)
    if service_id and service_id not in {s.service_id for s in fleet}:
        fleet += [s for s in services if s.service_id == service_id]
    histories = {}
    for index, service in enumerate(fleet, start=1):
        try:
            history = source.daily_history(service.service_id, start=start, end=end, metadata=service.metadata or {})
        except TelemetryError:
            logger.warning("backtest: telemetry of %s failed, left out", service.service_id, exc_info=True)
            continue
        good, total = _calendar_arrays(history, start, history_days)
        if (total > 0).sum() >= MIN_DAYS:
            histories[service.service_id] = (good, total)
        if progress and (index % 100 == 0 or index == len(fleet)):
            progress(f"history read: {index}/{len(fleet)} services")
    result = walk_forward(
        histories, window_days=window_days, step_days=step_days, lookback_days=BACKTEST_LOOKBACK_DAYS,
        seed_of=service_seed, evaluate={service_id} if service_id else None,
        progress=(lambda done, steps: progress(f"walk forward: step {done}/{steps}")) if progress else None,
    )
    return RecommendationBacktest.objects.create(
        computed_at=now, window_days=window_days, step_days=step_days, lookback_days=result.lookback_days,
        history_days=history_days, services=result.services, tiers=result.as_dict()["tiers"])


PRUNE_BATCH_SIZE = 1000


def recommendations_prune(*, now: datetime | None = None, batch_size: int = PRUNE_BATCH_SIZE) -> int:
    """Delete superseded and expired recommendations that stopped being
    active (`updated_at`) more than RECOMMENDATION_RETENTION_DAYS ago;
    returns how many. Rows another table points at (e.g. the recommendation
    an SLO of record came from) are kept. Deletes in batches of ids found
    through recommendation_retention_idx, so no long lock on the table."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.RECOMMENDATION_RETENTION_DAYS)
    prunable = SloRecommendation.objects.filter(
        status__in=[RecommendationStatus.SUPERSEDED, RecommendationStatus.EXPIRED], updated_at__lt=cutoff)
    for relation in SloRecommendation._meta.related_objects:
        prunable = prunable.filter(**{f"{relation.name}__isnull": True})
    deleted = 0
    while ids := list(prunable.order_by().values_list("pk", flat=True)[:batch_size]):
        deleted += SloRecommendation.objects.filter(pk__in=ids).delete()[0]
    return deleted
