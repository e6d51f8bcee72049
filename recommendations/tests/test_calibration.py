"""Calibration: the stated breach probability of each tier against the rate
of breaches on freshly simulated future windows of a known daily process."""

import numpy as np
import pytest

from recommendations.domain.availability import TIER_QUANTILES, availability_tiers

SERVICES = 240
FUTURES = 300  # fresh future windows per service: the realised rate is exact enough
WINDOW = 28


def _days(rng, *, rate, sigma, traffic, shape):
    """Daily events of a service whose daily error rate is lognormal around
    `rate` (spread `sigma`), with +/-20% traffic swings and binomial errors."""
    error_rate = np.minimum(rate * np.exp(sigma * rng.normal(size=shape) - sigma**2 / 2), 1.0)
    total = np.round(traffic * np.exp(rng.normal(0, 0.2, shape)))
    return total - rng.binomial(total.astype(np.int64), error_rate), total


@pytest.mark.parametrize("history_days", [30, 90])
def test_stated_breach_probability_matches_realised_rate(history_days):
    rng = np.random.default_rng(2024)
    stated = {name: [] for name in TIER_QUANTILES}
    realised = {name: [] for name in TIER_QUANTILES}
    raw_realised = {name: [] for name in TIER_QUANTILES}
    for service in range(SERVICES):
        process = {"rate": 10 ** rng.uniform(-4, -2), "sigma": rng.uniform(0.1, 0.6),
                   "traffic": 10 ** rng.uniform(4, 6)}
        good, total = _days(rng, shape=(history_days,), **process)
        tiers = availability_tiers(good, total, window_days=WINDOW, seed=service)
        future_good, future_total = _days(rng, shape=(FUTURES, WINDOW), **process)
        future = future_good.sum(axis=1) / future_total.sum(axis=1)
        for name, tier in tiers.items():
            stated[name].append(tier.estimated_breach_probability)
            realised[name].append(np.mean(future < tier.target))
            raw_realised[name].append(np.mean(future < tier.target_raw))
    for name in ("balanced", "aggressive"):
        ratio = np.mean(realised[name]) / np.mean(stated[name])
        assert 0.5 <= ratio <= 2.0, (name, np.mean(stated[name]), np.mean(realised[name]))
        # The raw quantile itself is calibrated against its nominal level too.
        assert 0.5 <= np.mean(raw_realised[name]) / TIER_QUANTILES[name] <= 2.0
    assert np.mean(realised["conservative"]) <= 0.03
    assert np.mean(raw_realised["conservative"]) <= 0.03
