"""Walk-forward backtest of the availability tiers (DESIGN.md section 9).

Over the stored history of a fleet: at each step t, fit the fleet prior on
every service's `lookback` days before t, compute each service's tiers from
its own `lookback` days before t, and compare each tier's target with the
realised availability of days [t, t + W). A tier states a breach
probability; over many (service, window) pairs the realised breach rate
should match it: that is what calibrated means, and what a user can check
on their own fleet. Pure numpy: no Django.
"""

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field

import numpy as np

from recommendations.domain.availability import TIER_QUANTILES, availability_tiers
from recommendations.domain.fleet_prior import fit_fleet_prior, split_days

DEFAULT_LOOKBACK_DAYS = 30
DEFAULT_STEP_DAYS = 7
# A lookback or a window with fewer days of data than this share is skipped.
MIN_COMPLETENESS = 0.9
# Edges of the stated-probability bins of the reliability table.
RELIABILITY_EDGES: tuple[float, ...] = (0.0, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)


@dataclass
class TierOutcomes:
    """The (stated probability, breached) pairs of one tier."""

    stated: list[float] = field(default_factory=list)
    breached: list[bool] = field(default_factory=list)

    def summary(self) -> dict:
        """Pairs, mean stated probability, realised breach rate and the
        reliability table (non-empty bins of the stated probability)."""
        stated = np.asarray(self.stated, dtype=float)
        breached = np.asarray(self.breached, dtype=bool)
        pairs = int(stated.size)
        bins = []
        for lo, hi in zip(RELIABILITY_EDGES, RELIABILITY_EDGES[1:], strict=False):
            inside = (stated >= lo) & ((stated < hi) if hi < 1.0 else (stated <= hi))
            count = int(inside.sum())
            if count:
                bins.append({"stated_lo": lo, "stated_hi": hi, "pairs": count,
                             "mean_stated_probability": round(float(stated[inside].mean()), 6),
                             "realised_breach_rate": round(float(breached[inside].mean()), 6)})
        return {
            "pairs": pairs,
            "mean_stated_probability": round(float(stated.mean()), 6) if pairs else None,
            "realised_breach_rate": round(float(breached.mean()), 6) if pairs else None,
            "reliability": bins,
        }


@dataclass
class BacktestResult:
    window_days: int
    step_days: int
    lookback_days: int
    services: int
    tiers: dict[str, TierOutcomes]

    def as_dict(self) -> dict:
        return {"window_days": self.window_days, "step_days": self.step_days,
                "lookback_days": self.lookback_days, "services": self.services,
                "tiers": {name: outcomes.summary() for name, outcomes in self.tiers.items()}}


def window_starts(days: int, *, lookback_days: int, window_days: int, step_days: int) -> list[int]:
    """Start indices t of the evaluated windows over a calendar of `days`
    days: the last window ends on the last day, then every `step_days`
    back while a full lookback fits before t. Ascending."""
    starts = []
    t = days - window_days
    while t >= lookback_days:
        starts.append(t)
        t -= step_days
    return starts[::-1]


def walk_forward(histories: Mapping[str, tuple[np.ndarray, np.ndarray]], *, window_days: int,
                 step_days: int = DEFAULT_STEP_DAYS, lookback_days: int = DEFAULT_LOOKBACK_DAYS,
                 seed_of: Callable[[str], int] = lambda service_id: 0,
                 evaluate: Collection[str] | None = None,
                 progress: Callable[[int, int], None] | None = None) -> BacktestResult:
    """The backtest over `histories`: service_id -> (good, total), daily
    counts on one shared calendar (same length, index = day; total 0 = no
    data). Every service feeds the prior; only those in `evaluate` (all when
    None) are scored. `seed_of` gives each service's bootstrap seed;
    `progress(done, steps)` is called after each step."""
    lengths = {good.size for good, _ in histories.values()}
    if len(lengths) > 1:
        raise ValueError("histories must share one calendar")
    days = lengths.pop() if lengths else 0
    starts = window_starts(days, lookback_days=lookback_days, window_days=window_days, step_days=step_days)
    outcomes = {name: TierOutcomes() for name in TIER_QUANTILES}
    evaluated: set[str] = set()
    arrays = {sid: (np.asarray(g, dtype=float), np.asarray(t, dtype=float)) for sid, (g, t) in histories.items()}
    for done, t in enumerate(starts, start=1):
        fits, scored = {}, []
        for service_id, (good, total) in arrays.items():
            fit_valid = _valid(good[t - lookback_days:t], total[t - lookback_days:t])
            if fit_valid.sum() < MIN_COMPLETENESS * lookback_days:
                continue
            fits[service_id] = (good[t - lookback_days:t][fit_valid], total[t - lookback_days:t][fit_valid])
            window_valid = _valid(good[t:t + window_days], total[t:t + window_days])
            if (evaluate is None or service_id in evaluate) and window_valid.sum() >= MIN_COMPLETENESS * window_days:
                realised = good[t:t + window_days][window_valid].sum() / total[t:t + window_days][window_valid].sum()
                scored.append((service_id, float(realised)))
        # The prior as the daily batch would have fitted it at t: no peeking.
        prior = fit_fleet_prior(split_days(good, total) for good, total in fits.values())
        for service_id, realised in scored:
            good, total = fits[service_id]
            tiers = availability_tiers(good, total, window_days=window_days, seed=seed_of(service_id), prior=prior)
            for name, tier in tiers.items():
                outcomes[name].stated.append(tier.estimated_breach_probability)
                outcomes[name].breached.append(bool(realised < tier.target))
            evaluated.add(service_id)
        if progress:
            progress(done, len(starts))
    return BacktestResult(window_days=window_days, step_days=step_days, lookback_days=lookback_days,
                          services=len(evaluated), tiers=outcomes)


def _valid(good: np.ndarray, total: np.ndarray) -> np.ndarray:
    return np.isfinite(good) & np.isfinite(total) & (total > 0) & (good >= 0) & (good <= total)
