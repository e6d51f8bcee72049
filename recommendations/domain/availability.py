"""Availability tiers from daily good/total events (DESIGN.md section 9).

The quantity an SLO is judged on is the event-weighted availability of the
next W-day window, sum(good) / sum(total). Its predictive distribution comes
from a two-level (nested) moving-block bootstrap of the daily buckets:

1. resample the history in moving blocks: a plausible "world" the history
   could have come from (this carries the uncertainty of the estimate itself,
   which with 30 days of history and a 28-day window is as large as the
   day-to-day variability);
2. draw the W future days from that world, again in moving blocks (blocks
   keep runs of bad days together, so autocorrelated incidents survive);
3. compute the event-weighted availability of those W days.

A plug-in bootstrap (step 2 straight from the history) is over-confident and
fails calibration; it is kept only to split the explanation into
"day-to-day variance" and "estimate uncertainty". Everything is vectorised
over replicates: one numpy gather per level, no Python loop over resamples.

That bootstrap only knows the days it has seen. The tiers are read from
`fleet_predictive`: the bootstrap of the service's normal days mixed with
bad days drawn from the fleet prior updated by the service's own bad days
(recommendations/domain/fleet_prior.py), so a quiet month does not hide the
incidents a process like this one has every few weeks.
Pure numpy: no Django.
"""

import math
from dataclasses import dataclass

import numpy as np

from recommendations.domain.fleet_prior import DEFAULT_FLEET_PRIOR, FleetPriorParams, service_posterior, split_days
from recommendations.domain.rounding import round_target_down
from recommendations.domain.studentt import t_ppf

# Tier -> quantile of the predictive distribution (= stated breach probability).
TIER_QUANTILES: dict[str, float] = {"conservative": 0.01, "balanced": 0.05, "aggressive": 0.20}
DEFAULT_REPLICATES = 1000
# Draws of the fleet-prior mixture: enough for a stable 1% quantile.
FLEET_DRAWS = 4000
# Two-sided level of the confidence interval of each tier target.
CI_LEVEL = 0.95
MINUTES_PER_DAY = 1440
MAX_SPREAD_RATIO = 5.0


def block_length(days: int) -> int:
    """Moving-block length: the usual n^(1/3) rule, at least one day."""
    return max(1, int(round(days ** (1.0 / 3.0))))


def block_indices(rng: np.random.Generator, *, source_len: int, out_len: int, block: int,
                  replicates: int) -> np.ndarray:
    """(replicates, out_len) indices into a series of `source_len` days made of
    circular moving blocks of `block` consecutive days."""
    blocks = -(-out_len // block)
    starts = rng.integers(0, source_len, size=(replicates, blocks), dtype=np.int32)
    indices = (starts[:, :, None] + np.arange(block, dtype=np.int32)).reshape(replicates, blocks * block)[:, :out_len]
    # Wrap around the end (circular blocks); cheaper than a modulo.
    indices[indices >= source_len] -= source_len
    return indices


@dataclass(frozen=True)
class PredictiveDistribution:
    """Bootstrap draws of the next window's availability and the fitted tail.

    `windows`: predictive draws; `plugin_windows`: plug-in draws (history
    taken as the truth); `world_means`/`world_spreads`: event-weighted mean
    and daily spread of each resampled history; `log_mean`/`log_sd`/`df`: the
    Student-t fit of log(window error rate) that tail probabilities and
    quantiles are read from."""

    windows: np.ndarray
    plugin_windows: np.ndarray
    world_means: np.ndarray
    world_spreads: np.ndarray
    observed_mean: float
    observed_spread: float
    log_mean: float
    log_sd: float
    df: float

    def quantile(self, probability: float) -> float:
        """Availability that the next window falls below with `probability`."""
        if self.log_sd <= 0:
            return 1.0 - math.exp(self.log_mean)
        return 1.0 - math.exp(self.log_mean + self.log_sd * t_ppf(1.0 - probability, self.df))


def predictive_distribution(good: np.ndarray, total: np.ndarray, *, window_days: int, seed: int,
                            replicates: int = DEFAULT_REPLICATES) -> PredictiveDistribution:
    """Nested moving-block bootstrap of the next `window_days`-day availability.

    `good`/`total`: daily event counts of the days with data, in day order
    (total > 0, 0 <= good <= total). Same inputs and seed -> same result.

    Level one resamples the history (a world with mean m_r and daily spread
    s_r); level two draws the W future days from that world. The world's
    departure from the history is studentised and reflected (bootstrap-t):
    the history stands to the truth as the world stands to the history, so
    the plausible true mean is m - (m_r - m) * s / s_r. That keeps the
    estimate's uncertainty (and the way a quiet history understates it) in
    the predictive draws. Their tail is read from a Student-t fit of the log
    window error rate with n - 1 degrees of freedom: error rates are skewed,
    and a finite resample cannot reach below the worst days it has seen."""
    good = np.asarray(good, dtype=float)
    total = np.asarray(total, dtype=float)
    days = good.size
    if days < 2:
        raise ValueError("at least two days of data are needed")
    rng = np.random.default_rng(seed)
    block = block_length(days)
    daily = good / total
    observed_mean = float(good.sum() / total.sum())
    observed_spread = float(daily.std())

    history = block_indices(rng, source_len=days, out_len=days, block=block, replicates=replicates)
    world_good, world_total = good[history], total[history]
    world_means = world_good.sum(axis=1) / world_total.sum(axis=1)
    world_spreads = daily[history].std(axis=1)
    future = block_indices(rng, source_len=days, out_len=window_days, block=block, replicates=replicates)
    future_total = np.take_along_axis(world_total, future, axis=1).sum(axis=1)
    future_in_world = np.take_along_axis(world_good, future, axis=1).sum(axis=1) / future_total

    if observed_spread > 0:
        # Capped so a resample that happened to miss every bad day cannot explode.
        ratio = np.minimum(observed_spread / np.maximum(world_spreads, 1e-12), MAX_SPREAD_RATIO)
    else:
        ratio = np.ones(replicates)
    windows = observed_mean - (world_means - observed_mean) * ratio + (future_in_world - world_means)

    plugin = block_indices(rng, source_len=days, out_len=window_days, block=block, replicates=replicates)
    plugin_windows = good[plugin].sum(axis=1) / total[plugin].sum(axis=1)

    # Half an error per window as the floor: a draw without failures says the
    # rate is below one in the window's events, not that it is zero.
    log_error = np.log(np.maximum(1.0 - windows, 0.5 / future_total))
    return PredictiveDistribution(
        windows=windows,
        plugin_windows=plugin_windows,
        world_means=world_means,
        world_spreads=world_spreads,
        observed_mean=observed_mean,
        observed_spread=observed_spread,
        log_mean=float(log_error.mean()),
        log_sd=float(log_error.std()),
        df=float(days - 1),
    )


def quantile_interval(dist: PredictiveDistribution, probability: float, *,
                      level: float = CI_LEVEL) -> tuple[float, float, float]:
    """(quantile, lo, hi): the `probability` quantile of the predictive
    distribution and a bootstrap interval for it.

    The quantile sits (m - q) below the mean, a distance proportional to the
    daily spread; each resampled history moves both, so its quantile is
    m_r + (q - m) * s_r / s. The percentiles of those give the interval, which
    narrows as the history grows. It always contains q."""
    q = dist.quantile(probability)
    if dist.observed_spread > 0:
        scale = dist.world_spreads / dist.observed_spread
    else:
        scale = np.ones_like(dist.world_means)
    resampled = dist.world_means + (q - dist.observed_mean) * scale
    tail = (1.0 - level) / 2.0
    lo, hi = np.quantile(resampled, [tail, 1.0 - tail])
    return q, float(min(lo, q)), float(min(1.0, max(hi, q)))


@dataclass(frozen=True)
class FleetPredictive:
    """The predictive distribution of the next window with the fleet prior.

    A window is a mixture of the service's normal days and its bad days:
    the normal days' share comes from the service-only model fitted on its
    normal days (`normal`), the bad days from the fleet prior updated by the
    service's own bad days (how many in the window: beta-binomial; how bad:
    lognormal over the service's median day). `window_errors` holds sorted
    draws of the window's error rate. `service_only` is the model without
    the prior (all days), kept for the explanation."""

    service_only: PredictiveDistribution
    normal: PredictiveDistribution
    window_errors: np.ndarray
    incidents_seen: int

    @property
    def observed_mean(self) -> float:
        return self.service_only.observed_mean

    @property
    def plugin_windows(self) -> np.ndarray:
        return self.service_only.plugin_windows

    def quantile(self, probability: float) -> float:
        """Availability that the next window falls below with `probability`
        (linear interpolation between the sorted draws, as np.quantile, without
        sorting them again)."""
        position = (1.0 - probability) * (self.window_errors.size - 1)
        below = int(position)
        above = min(below + 1, self.window_errors.size - 1)
        low, high = float(self.window_errors[below]), float(self.window_errors[above])
        return 1.0 - (low + (high - low) * (position - below))

    def breach_probability(self, target: float) -> float:
        """P(next window's availability < target): the share of draws whose
        error rate exceeds the target's budget."""
        within = np.searchsorted(self.window_errors, 1.0 - target, side="right")
        return 1.0 - float(within) / self.window_errors.size

    def interval(self, probability: float, *, level: float = CI_LEVEL) -> tuple[float, float, float]:
        """(quantile, lo, hi): the quantile and an interval for it. The error
        budget of the quantile is uncertain in proportion to the normal
        days' budget (their bootstrap interval, as a ratio)."""
        q = self.quantile(probability)
        normal_q, normal_lo, normal_hi = quantile_interval(self.normal, probability, level=level)
        normal_budget = 1.0 - normal_q
        if normal_budget <= 0:
            return q, q, q
        lo = 1.0 - (1.0 - q) * (1.0 - normal_lo) / normal_budget
        hi = 1.0 - (1.0 - q) * (1.0 - normal_hi) / normal_budget
        return q, float(min(lo, q)), float(min(1.0, max(hi, q)))


def fleet_predictive(good: np.ndarray, total: np.ndarray, *, window_days: int, seed: int,
                     prior: FleetPriorParams = DEFAULT_FLEET_PRIOR, replicates: int = DEFAULT_REPLICATES,
                     draws: int = FLEET_DRAWS) -> FleetPredictive:
    """The predictive distribution of the next `window_days`-day availability
    combining the service's own days with the fleet prior (see FleetPredictive).
    Same inputs and seed -> same result."""
    good = np.asarray(good, dtype=float)
    total = np.asarray(total, dtype=float)
    service_only = predictive_distribution(good, total, window_days=window_days, seed=seed, replicates=replicates)
    split = split_days(good, total)
    if split.incidents and int(split.normal.sum()) >= 2:
        normal = predictive_distribution(good[split.normal], total[split.normal], window_days=window_days,
                                         seed=seed, replicates=replicates)
    else:
        normal = service_only
    posterior = service_posterior(prior, split)
    rng = np.random.default_rng([seed, 1])
    if normal.log_sd > 0:
        normal_errors = np.exp(normal.log_mean + normal.log_sd * rng.standard_t(normal.df, size=draws))
    else:
        normal_errors = np.full(draws, math.exp(normal.log_mean))
    chance = rng.beta(posterior.incident_alpha, posterior.incident_beta, size=draws)
    bad_days = rng.binomial(window_days, chance)
    # Only the bad days drawn get a severity (a few per draw, not W): each
    # draw's own mean severity, plus the spread between its bad days.
    service_severity = posterior.severity_mean + posterior.severity_sd * rng.standard_normal(size=draws)
    owner = np.repeat(np.arange(draws), bad_days)
    severity = service_severity[owner] + posterior.severity_within_sd * rng.standard_normal(size=owner.size)
    bad_errors = np.bincount(owner, weights=np.minimum(np.exp(split.center + severity), 1.0), minlength=draws)
    errors = ((window_days - bad_days) * np.minimum(normal_errors, 1.0) + bad_errors) / window_days
    return FleetPredictive(service_only=service_only, normal=normal, window_errors=np.sort(errors),
                           incidents_seen=split.incidents)


def historical_breaches(good: np.ndarray, total: np.ndarray, *, window_days: int,
                        target: float) -> tuple[int, int]:
    """(k, n): how many of the n rolling `window_days`-day windows of the
    history had an event-weighted availability below `target`. (0, 0) when
    the history is shorter than one window."""
    good = np.asarray(good, dtype=float)
    total = np.asarray(total, dtype=float)
    if good.size < window_days:
        return 0, 0
    cum_good = np.concatenate(([0.0], np.cumsum(good)))
    cum_total = np.concatenate(([0.0], np.cumsum(total)))
    window_good = cum_good[window_days:] - cum_good[:-window_days]
    window_total = cum_total[window_days:] - cum_total[:-window_days]
    breaches = window_good < target * window_total
    return int(breaches.sum()), int(breaches.size)


@dataclass(frozen=True)
class AvailabilityTier:
    name: str
    probability: float
    target: float
    target_raw: float
    rounded: float  # after rounding, before the dependency cap
    estimated_breach_probability: float
    historical_breaches: int
    historical_windows: int
    confidence_interval: tuple[float, float]
    error_budget_minutes: float

    def as_dict(self) -> dict:
        """The tier as stored and served (DESIGN.md section 5)."""
        rate = (self.historical_breaches / self.historical_windows) if self.historical_windows else None
        return {
            "target": self.target,
            "target_raw": round(self.target_raw, 8),
            "estimated_breach_probability": round(self.estimated_breach_probability, 6),
            "historical_breach_rate": None if rate is None else round(rate, 6),
            "historical_breaches": self.historical_breaches,
            "historical_windows": self.historical_windows,
            "confidence_interval": [self.confidence_interval[0], self.confidence_interval[1]],
            "error_budget_minutes": round(self.error_budget_minutes, 3),
        }


def capped_target(value: float, ceiling: float) -> float:
    """Round `value` down to a human target, then cap it by the dependency
    ceiling (itself rounded down, so the cap is also a human value).
    Monotone non-decreasing in `value`."""
    rounded = round_target_down(value)
    if ceiling < 1.0:
        rounded = min(rounded, round_target_down(ceiling))
    return rounded


def availability_tiers(good: np.ndarray, total: np.ndarray, *, window_days: int, seed: int,
                       ceiling: float = 1.0, prior: FleetPriorParams = DEFAULT_FLEET_PRIOR,
                       replicates: int = DEFAULT_REPLICATES,
                       dist: FleetPredictive | None = None) -> dict[str, AvailabilityTier]:
    """Conservative, balanced and aggressive tiers (1%, 5%, 20% quantiles of
    the predictive distribution with the fleet `prior`), rounded down and
    capped by `ceiling` (1.0: no cap), each with its breach probability,
    history of breaches, confidence interval and error budget."""
    dist = dist or fleet_predictive(good, total, window_days=window_days, seed=seed, prior=prior,
                                    replicates=replicates)
    tiers: dict[str, AvailabilityTier] = {}
    for name, probability in TIER_QUANTILES.items():
        raw, lo, hi = dist.interval(probability)
        target = capped_target(raw, ceiling)
        k, n = historical_breaches(good, total, window_days=window_days, target=target)
        tiers[name] = AvailabilityTier(
            name=name,
            probability=probability,
            target=target,
            target_raw=raw,
            rounded=round_target_down(raw),
            estimated_breach_probability=dist.breach_probability(target),
            historical_breaches=k,
            historical_windows=n,
            # The interval of the recommended target: the same monotone
            # rounding and cap applied to the interval of the raw quantile.
            confidence_interval=(capped_target(lo, ceiling), capped_target(hi, ceiling)),
            error_budget_minutes=(1.0 - target) * window_days * MINUTES_PER_DAY,
        )
    return tiers
