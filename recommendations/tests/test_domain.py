"""Pure maths of recommendations/domain (no database)."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recommendations.domain.availability import availability_tiers, historical_breaches, predictive_distribution
from recommendations.domain.composite import dependency_budget_shares, dependency_ceiling, own_outage_budget_minutes
from recommendations.domain.explain import feature_attributions
from recommendations.domain.latency import latency_tiers, timeout_warnings
from recommendations.domain.quality import clean_daily_events, data_quality, is_cold_start
from recommendations.domain.rounding import round_target_down, round_threshold_up
from recommendations.domain.studentt import t_cdf, t_ppf


def _history(seed: int, days: int, rate: float = 1e-3, sigma: float = 0.4, traffic: float = 1e5):
    rng = np.random.default_rng(seed)
    total = np.round(traffic * np.exp(rng.normal(0, 0.2, days)))
    errors = rng.binomial(total.astype(np.int64), np.minimum(rate * np.exp(sigma * rng.normal(size=days)), 1))
    return total - errors, total


@pytest.mark.parametrize(("raw", "expected"), [
    (0.99937, 0.9993), (0.999, 0.999), (0.9995, 0.9995), (0.99951, 0.9995), (0.9941, 0.994),
    (0.95, 0.95), (0.949, 0.94), (1.0, 0.99999), (0.123, 0.1),
])
def test_target_rounds_down_by_rounding_the_budget_up(raw, expected):
    assert round_target_down(raw) == pytest.approx(expected, abs=1e-12)
    assert round_target_down(raw) <= raw + 1e-12


def test_threshold_rounds_up_to_bucket_or_50ms():
    assert round_threshold_up(212, (100, 250, 500)) == 250
    assert round_threshold_up(250, (100, 250, 500)) == 250
    assert round_threshold_up(212) == 250
    assert round_threshold_up(251) == 300
    assert round_threshold_up(900, (100, 250, 500)) == 900


def test_student_t_matches_tables():
    assert t_ppf(0.975, 10) == pytest.approx(2.228, abs=1e-3)
    assert t_ppf(0.95, 29) == pytest.approx(1.699, abs=1e-3)
    assert t_cdf(-1.0, 3) == pytest.approx(0.1955, abs=1e-4)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), days=st.integers(7, 90), rate=st.floats(1e-5, 5e-2),
       sigma=st.floats(0.0, 1.2), ceiling=st.floats(0.99, 1.0))
def test_tier_invariants(seed, days, rate, sigma, ceiling):
    good, total = _history(seed, days, rate, sigma)
    tiers = availability_tiers(good, total, window_days=28, seed=seed, ceiling=ceiling, replicates=500)
    conservative, balanced, aggressive = (tiers[n] for n in ("conservative", "balanced", "aggressive"))
    assert conservative.target <= balanced.target <= aggressive.target
    for tier in tiers.values():
        assert tier.target <= ceiling
        lo, hi = tier.confidence_interval
        assert lo <= tier.target <= hi
        assert 0.0 <= tier.estimated_breach_probability <= 1.0
        assert tier.error_budget_minutes == pytest.approx((1 - tier.target) * 28 * 1440)
    again = availability_tiers(good, total, window_days=28, seed=seed, ceiling=ceiling, replicates=500)
    assert {n: t.as_dict() for n, t in again.items()} == {n: t.as_dict() for n, t in tiers.items()}


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), days=st.integers(7, 90), ceiling=st.floats(0.98, 1.0))
def test_attributions_add_up_to_the_gap(seed, days, ceiling):
    good, total = _history(seed, days)
    dist = predictive_distribution(good, total, window_days=28, seed=seed, replicates=500)
    balanced = availability_tiers(good, total, window_days=28, seed=seed, ceiling=ceiling, dist=dist)["balanced"]
    rows = feature_attributions(observed=dist.observed_mean,
                                plugin_quantile=float(np.quantile(dist.plugin_windows, 0.05)),
                                predictive_quantile=balanced.target_raw, rounded=balanced.rounded,
                                target=balanced.target)
    assert [r["feature"] for r in rows] == ["variance", "data_quality_margin", "rounding", "dependency_cap"]
    assert abs(sum(r["contribution"] for r in rows) - (dist.observed_mean - balanced.target)) < 1e-9
    assert rows[2]["contribution"] >= -1e-12 and rows[3]["contribution"] >= -1e-12


def test_confidence_interval_narrows_with_more_history():
    widths = {30: [], 90: []}
    for seed in range(60):
        good, total = _history(seed, 90, rate=1e-3, sigma=0.5)
        for days in widths:
            dist = predictive_distribution(good[-days:], total[-days:], window_days=28, seed=seed, replicates=1000)
            tier = availability_tiers(good[-days:], total[-days:], window_days=28, seed=seed, dist=dist)["balanced"]
            # Width on the raw scale (before rounding), as in the tier's interval.
            from recommendations.domain.availability import quantile_interval
            _, lo, hi = quantile_interval(dist, 0.05)
            widths[days].append(hi - lo)
            assert tier.confidence_interval[0] <= tier.target <= tier.confidence_interval[1]
    assert np.mean(widths[90]) < 0.8 * np.mean(widths[30])


def test_historical_breaches_count_rolling_windows():
    good = np.array([100.0] * 40)
    total = np.array([100.0] * 40)
    good[35] = 0  # one terrible day late in the history
    k, n = historical_breaches(good, total, window_days=28, target=0.99)
    assert n == 13
    assert k == 5  # the windows that contain day 35: starting at days 8..12
    assert historical_breaches(good[:20], total[:20], window_days=28, target=0.99) == (0, 0)


def test_calculus_paper_worked_example():
    # 99.99% service, five independent critical dependencies at 99.999% each.
    edges = [("svc", f"dep{i}") for i in range(5)]
    ceiling = dependency_ceiling("svc", edges, {f"dep{i}": 0.99999 for i in range(5)})
    assert ceiling.composite == pytest.approx(0.99999**5)
    yearly_budget = (1 - 0.9999) * 365 * 24 * 60
    own = own_outage_budget_minutes(target=0.9999, ceiling=ceiling.composite)
    assert round(yearly_budget) == 53
    assert 26 <= own <= 27.5  # "about 27 of its 53 minutes"


def test_ceiling_counts_each_dependency_once_and_an_scc_as_its_weakest_member():
    edges = [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d"), ("d", "e"), ("e", "f"), ("f", "e")]
    availability = {"b": 0.999, "c": 0.998, "d": 0.9995, "e": 0.9999, "f": 0.997}
    ceiling = dependency_ceiling("a", edges, availability)
    assert ceiling.composite == pytest.approx(0.999 * 0.998 * 0.9995 * 0.997)
    assert [u.service_id for u in ceiling.units] == ["b", "c", "d", "f"]
    assert ceiling.bottleneck.service_id == "f"
    assert dependency_ceiling("z", edges, availability).composite == 1.0


def test_budget_share_flags():
    ceiling = dependency_ceiling("s", [("s", "greedy"), ("s", "fine"), ("s", "dark")],
                                 {"greedy": 0.9993, "fine": 0.99999, "dark": None})
    rows = {r["service_id"]: r for r in dependency_budget_shares(ceiling, 0.999)}
    assert rows["greedy"]["budget_share"] == pytest.approx(0.7)
    assert rows["greedy"]["flags"] == ["over_half_of_budget", "missing_extra_nine"]
    assert rows["fine"]["flags"] == []
    assert rows["dark"]["flags"] == ["no_data"]
    assert ceiling.composite == pytest.approx(0.9993 * 0.99999)


def test_latency_tiers_order_and_rounding():
    rng = np.random.default_rng(3)
    daily = 180 * np.exp(rng.normal(0, 0.2, 30))
    tiers = latency_tiers(daily, seed=1, bucket_bounds_ms=(100, 250, 500, 1000))
    thresholds = [tiers[name]["threshold_ms"] for name in ("conservative", "balanced", "aggressive")]
    assert thresholds == sorted(thresholds, reverse=True)
    assert tiers["conservative"]["threshold_ms"] >= daily.max()
    for tier in tiers.values():
        assert tier["threshold_ms"] in (100, 250, 500, 1000)
        assert tier["target"] == 0.99 and tier["percentile"] == 99
        lo, hi = tier["confidence_interval"]
        assert lo <= tier["threshold_ms"] <= hi
    assert tiers["conservative"]["estimated_breach_probability"] < tiers["aggressive"]["estimated_breach_probability"]
    no_buckets = latency_tiers(daily, seed=1)
    assert all(t["threshold_ms"] % 50 == 0 for t in no_buckets.values())


def test_timeout_warning_when_dependency_p99_exceeds_timeout():
    warnings = timeout_warnings({"slow": [300, 900, 1200], "fast": [50, 60]}, {"slow": 1000, "fast": 1000, "x": None})
    assert [w["service_id"] for w in warnings] == ["slow"]
    assert warnings[0]["days_over"] == 1 and warnings[0]["p99_ms"] == 1200


def test_data_quality_rejects_good_above_total_and_flags_cold_start_and_low_traffic():
    clean = clean_daily_events([10, 120, 50, 0], [100, 100, 0, 40])
    assert clean.rejected_points == 1  # 120 > 100; the day without traffic is no data, not bad data
    assert list(clean.total) == [100, 40]
    quality = data_quality(history=clean, lookback_days=30, cold_start=True)
    assert quality == {"completeness": round(2 / 30, 4), "days_with_data": 2, "lookback_days": 30,
                       "is_cold_start": True, "sample_count": 140, "low_traffic": True, "rejected_points": 1}
    assert is_cold_start(26) and not is_cold_start(27)
