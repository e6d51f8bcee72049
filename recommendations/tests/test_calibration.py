"""Calibration: the stated breach probability of each tier against the rate
of breaches on freshly simulated future windows of a known daily process,
with the fleet prior fitted on the simulated fleet's own histories."""

import numpy as np
import pytest

from recommendations.domain.availability import TIER_QUANTILES, availability_tiers, fleet_predictive
from recommendations.domain.fleet_prior import fit_fleet_prior, split_days
from recommendations.tests.simulated_fleet import incident_heavy_fleet

WINDOW = 28
FUTURES = 400  # fresh windows per service: the realised rate is exact enough

# Incident-heavy processes of different shapes: the criterion must hold for
# each and for every seed, not for one lucky draw.
PROCESSES = {
    # Like the fleet of issue 13: the service-only model breached its
    # conservative tier one window in ten there.
    "issue-13-like": {"rate_decades": (-3.2, -2.2)},
    "frequent-mild": {"gap_days": (5, 30), "severity_decades": (0.6, 1.4)},
    "rare-severe": {"gap_days": (10, 80), "severity_decades": (1.2, 2.0)},
    "absolute-incidents": {"incident_decades": (-2.3, -1.3)},
    "quiet-baseline": {"rate_decades": (-4.5, -3.0), "gap_days": (7, 120)},
}


def _fleet_outcome(process: dict, seed: int, services: int = 150) -> dict:
    rng = np.random.default_rng(seed)
    fleet = incident_heavy_fleet(rng, services, **process)
    histories = [p.days(rng, (30,)) for p in fleet]
    prior = fit_fleet_prior(split_days(good, total) for good, total in histories)
    stated = {name: [] for name in TIER_QUANTILES}
    realised = {name: [] for name in TIER_QUANTILES}
    budgets, raw_budgets, oracle_budgets, service_only_budgets = [], [], [], []
    for index, (process_, (good, total)) in enumerate(zip(fleet, histories, strict=True)):
        dist = fleet_predictive(good, total, window_days=WINDOW, seed=index, prior=prior)
        tiers = availability_tiers(good, total, window_days=WINDOW, seed=index, dist=dist)
        # The model without the prior (the method this one replaced).
        service_only_budgets.append(1 - dist.service_only.quantile(TIER_QUANTILES["balanced"]))
        future_good, future_total = process_.days(rng, (FUTURES, WINDOW))
        future = future_good.sum(axis=1) / future_total.sum(axis=1)
        targets = [tiers[name].target for name in TIER_QUANTILES]
        assert targets == sorted(targets)
        for name, tier in tiers.items():
            lo, hi = tier.confidence_interval
            assert lo <= tier.target <= hi
            stated[name].append(tier.estimated_breach_probability)
            realised[name].append(np.mean(future < tier.target))
        budgets.append(1 - tiers["balanced"].target)
        raw_budgets.append(1 - tiers["balanced"].target_raw)
        # The 5% quantile of a recommender that knew the process.
        oracle_budgets.append(1 - np.quantile(future, TIER_QUANTILES["balanced"]))
    return {"stated": {n: float(np.mean(v)) for n, v in stated.items()},
            "realised": {n: float(np.mean(v)) for n, v in realised.items()},
            "median_budget": float(np.median(budgets)), "median_raw_budget": float(np.median(raw_budgets)),
            "oracle_median_budget": float(np.median(oracle_budgets)),
            "service_only_median_budget": float(np.median(service_only_budgets))}


@pytest.mark.slow
@pytest.mark.parametrize("seed", [11, 12])
@pytest.mark.parametrize("process", sorted(PROCESSES))
def test_tiers_are_calibrated_on_incident_heavy_fleets(process, seed):
    outcome = _fleet_outcome(PROCESSES[process], seed)
    stated, realised = outcome["stated"], outcome["realised"]
    for name in ("balanced", "aggressive"):
        assert 0.5 <= realised[name] / stated[name] <= 2.0, outcome
    assert realised["conservative"] <= 0.03, outcome
    # Sharpness: calibration is not bought with loose targets. (Compared
    # before rounding: rounding 0.0101 up to 0.02 would hide any difference.)
    # Within 1.6x of what knowing the process would give, and no looser than
    # the service-only model that breached its conservative tier 1 in 10.
    assert outcome["median_raw_budget"] <= 1.6 * outcome["oracle_median_budget"], outcome
    assert outcome["median_raw_budget"] <= 1.2 * outcome["service_only_median_budget"], outcome


def test_median_balanced_budget_of_the_issue_fleet_stays_sharp():
    # A lighter variant of the issue's fleet (baselines a third lower): the
    # median balanced error budget stays at or below 0.8%.
    outcome = _fleet_outcome({"rate_decades": (-3.4, -2.4)}, seed=5, services=120)
    assert outcome["median_budget"] <= 0.008, outcome
    assert outcome["realised"]["conservative"] <= 0.03, outcome


def _steady_days(rng, *, rate, sigma, traffic, shape):
    error_rate = np.minimum(rate * np.exp(sigma * rng.normal(size=shape) - sigma**2 / 2), 1.0)
    total = np.round(traffic * np.exp(rng.normal(0, 0.2, shape)))
    return total - rng.binomial(total.astype(np.int64), error_rate), total


@pytest.mark.parametrize("history_days", [30, 90])
def test_calibrated_on_a_fleet_without_incidents(history_days):
    # The prior fitted on a quiet fleet learns that bad days are rare, and
    # does not turn every service's tiers loose.
    rng = np.random.default_rng(2024)
    processes = [{"rate": 10 ** rng.uniform(-4, -2), "sigma": rng.uniform(0.1, 0.6),
                  "traffic": 10 ** rng.uniform(4, 6)} for _ in range(160)]
    histories = [_steady_days(rng, shape=(history_days,), **p) for p in processes]
    prior = fit_fleet_prior(split_days(good, total) for good, total in histories)
    stated = {name: [] for name in TIER_QUANTILES}
    realised = {name: [] for name in TIER_QUANTILES}
    for index, (process, (good, total)) in enumerate(zip(processes, histories, strict=True)):
        tiers = availability_tiers(good, total, window_days=WINDOW, seed=index, prior=prior)
        future_good, future_total = _steady_days(rng, shape=(300, WINDOW), **process)
        future = future_good.sum(axis=1) / future_total.sum(axis=1)
        for name, tier in tiers.items():
            stated[name].append(tier.estimated_breach_probability)
            realised[name].append(np.mean(future < tier.target))
    for name in ("balanced", "aggressive"):
        ratio = np.mean(realised[name]) / np.mean(stated[name])
        assert 0.5 <= ratio <= 2.0, (name, np.mean(stated[name]), np.mean(realised[name]))
    assert np.mean(realised["conservative"]) <= 0.03
