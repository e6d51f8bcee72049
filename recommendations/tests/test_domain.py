"""Pure maths of recommendations/domain (no database)."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recommendations.domain.availability import (
    availability_tiers,
    fleet_predictive,
    historical_breaches,
)
from recommendations.domain.backtest import walk_forward, window_starts
from recommendations.domain.composite import (
    dependency_budget_shares,
    dependency_ceiling,
    dependency_impact,
    own_outage_budget_minutes,
)
from recommendations.domain.explain import availability_summary, feature_attributions, probability_text
from recommendations.domain.fleet_prior import (
    DEFAULT_FLEET_PRIOR,
    FleetPriorParams,
    fit_fleet_prior,
    service_posterior,
    split_days,
)
from recommendations.domain.latency import latency_tiers, timeout_warnings
from recommendations.domain.quality import clean_daily_events, data_quality, is_cold_start
from recommendations.domain.rounding import round_target_down, round_threshold_up
from recommendations.domain.studentt import t_cdf, t_ppf
from recommendations.tests.simulated_fleet import ServiceProcess, incident_heavy_fleet


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
def test_attributions_add_up_to_the_served_gap(seed, days, ceiling):
    good, total = _history(seed, days)
    dist = fleet_predictive(good, total, window_days=28, seed=seed, replicates=500)
    balanced = availability_tiers(good, total, window_days=28, seed=seed, ceiling=ceiling, dist=dist)["balanced"]
    served_observed = round(dist.observed_mean, 8)
    served_target = balanced.as_dict()["target"]
    rows = feature_attributions(observed=served_observed,
                                plugin_quantile=float(np.quantile(dist.plugin_windows, 0.05)),
                                service_only_quantile=dist.service_only.quantile(0.05),
                                predictive_quantile=balanced.target_raw, rounded=balanced.rounded,
                                target=balanced.target)
    assert [r["feature"] for r in rows] == ["variance", "data_quality_margin", "fleet_prior", "rounding",
                                            "dependency_cap"]
    assert abs(sum(r["contribution"] for r in rows) - (served_observed - served_target)) <= 1e-12
    assert rows[3]["contribution"] >= -1e-12 and rows[4]["contribution"] >= -1e-12


def test_confidence_interval_narrows_with_more_history():
    widths = {30: [], 90: []}
    for seed in range(60):
        good, total = _history(seed, 90, rate=1e-3, sigma=0.5)
        for days in widths:
            dist = fleet_predictive(good[-days:], total[-days:], window_days=28, seed=seed)
            tier = availability_tiers(good[-days:], total[-days:], window_days=28, seed=seed, dist=dist)["balanced"]
            # Width on the raw scale (before rounding), as in the tier's interval.
            _, lo, hi = dist.interval(0.05)
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


def test_bad_days_are_told_from_normal_ones():
    good, total = _history(4, 30, rate=1e-3, sigma=0.3)
    good[[5, 17]] = total[[5, 17]] * (1 - 0.03)  # two days at 30x the usual error rate
    split = split_days(good, total)
    assert split.incidents == 2 and not split.normal[5] and not split.normal[17]
    assert split.severities == pytest.approx([np.log(30)] * 2, abs=0.5)


def test_fleet_prior_recovers_how_often_and_how_bad():
    rng = np.random.default_rng(8)
    process = dict(traffic=1e5, rate=1e-3, sigma=0.3, severity=20.0, severity_sigma=0.3)
    chances = rng.uniform(1 / 40, 1 / 10, size=400)
    fleet = [ServiceProcess(incident_chance=c, **process) for c in chances]
    prior = fit_fleet_prior(split_days(*p.days(rng, (60,))) for p in fleet)
    assert prior.services == 400
    assert prior.incident_chance == pytest.approx(chances.mean(), rel=0.2)
    assert prior.severity_mean == pytest.approx(np.log(20), abs=0.3)
    assert FleetPriorParams.from_dict(prior.as_dict()) == prior


def test_default_prior_below_twenty_services():
    rng = np.random.default_rng(1)
    few = [split_days(*p.days(rng, (30,))) for p in incident_heavy_fleet(rng, 19)]
    assert fit_fleet_prior(few) == DEFAULT_FLEET_PRIOR
    assert DEFAULT_FLEET_PRIOR.incident_chance == pytest.approx(1 / 21)


def test_long_history_leans_on_itself_short_on_the_fleet():
    prior = DEFAULT_FLEET_PRIOR
    quiet = np.ones(300, dtype=bool)
    from recommendations.domain.fleet_prior import DaySplit
    short = service_posterior(prior, DaySplit(normal=quiet[:30], center=-7.0, severities=np.array([])))
    long = service_posterior(prior, DaySplit(normal=quiet, center=-7.0, severities=np.array([])))
    short_chance = short.incident_alpha / (short.incident_alpha + short.incident_beta)
    long_chance = long.incident_alpha / (long.incident_alpha + long.incident_beta)
    assert long_chance < short_chance < prior.incident_chance
    assert long_chance < 0.2 * prior.incident_chance


def test_a_history_without_incidents_still_prices_the_fleets_bad_days():
    good, total = _history(2, 30, rate=5e-4, sigma=0.2)
    with_prior = fleet_predictive(good, total, window_days=28, seed=2, prior=DEFAULT_FLEET_PRIOR)
    assert with_prior.incidents_seen == 0
    # The service-only model never saw a bad day; the prior knows they come.
    assert with_prior.quantile(0.01) < with_prior.service_only.quantile(0.01)
    tiers = availability_tiers(good, total, window_days=28, seed=2, dist=with_prior)
    for name, tier in tiers.items():
        assert tier.estimated_breach_probability == pytest.approx(
            np.mean(1 - with_prior.window_errors < tier.target), abs=1e-12)
        assert tier.estimated_breach_probability <= {"conservative": 0.01, "balanced": 0.05, "aggressive": 0.2}[name]


def test_evidence_wins_over_the_bound():
    ceiling = dependency_ceiling("s", [("s", "a"), ("s", "b")], {"a": 0.995, "b": 0.9999})
    absorbed = dependency_impact(ceiling, observed=0.999, target=0.998, basis={"a": "edge"})
    assert absorbed["binding"] is False
    assert absorbed["absorbed_failure_share"] == pytest.approx(1 - 0.001 / (1 - 0.995 * 0.9999), abs=1e-6)
    rows = {r["service_id"]: r for r in absorbed["dependencies"]}
    assert "failures_absorbed" in rows["a"]["flags"] and "failures_absorbed" not in rows["b"]["flags"]
    assert rows["a"]["availability_basis"] == "edge" and rows["b"]["availability_basis"] == "service"
    binding = dependency_impact(ceiling, observed=0.99, target=0.99, basis={})
    assert binding["binding"] is True and binding["absorbed_failure_share"] is None
    assert all("failures_absorbed" not in r["flags"] for r in binding["dependencies"])
    alone = dependency_impact(dependency_ceiling("s", [], {}), observed=0.99, target=0.99, basis={})
    assert alone["binding"] is False and alone["absorbed_failure_share"] is None


def test_summary_states_the_served_probability():
    text = availability_summary(service_id="checkout", target=0.999, window_days=28, budget_minutes=40.32,
                                breach_probability=0.031, observed=0.9995, days=30, cold_start=False,
                                bottleneck="payment", composite=0.998, capped=False, binding=False,
                                low_traffic=False)
    assert "leaves a 3.1% chance of a breach" in text and probability_text(0.031) == "3.1%"
    assert "failures are absorbed" in text


def test_window_starts_end_with_the_last_day_and_step_back():
    assert window_starts(120, lookback_days=30, window_days=28, step_days=7) == [36, 43, 50, 57, 64, 71, 78, 85, 92]
    assert window_starts(57, lookback_days=30, window_days=28, step_days=7) == []


def test_walk_forward_is_calibrated_on_a_simulated_fleet():
    rng = np.random.default_rng(21)
    fleet = incident_heavy_fleet(rng, 60)
    histories = {f"svc-{i}": p.days(rng, (150,)) for i, p in enumerate(fleet)}
    # A gap in one service's history: the windows that need it are skipped.
    histories["svc-0"][1][60:70] = 0
    steps = []
    result = walk_forward(histories, window_days=28, step_days=14, seed_of=lambda s: len(s),
                          progress=lambda done, total: steps.append((done, total)))
    assert steps[-1][0] == steps[-1][1] == len(window_starts(150, lookback_days=30, window_days=28, step_days=14))
    summary = result.as_dict()
    assert summary["services"] == 60
    conservative, balanced, aggressive = (summary["tiers"][n] for n in ("conservative", "balanced", "aggressive"))
    assert balanced["pairs"] < 60 * len(steps)  # svc-0's gap
    assert conservative["realised_breach_rate"] <= 0.03
    assert 0.4 <= aggressive["realised_breach_rate"] / aggressive["mean_stated_probability"] <= 2.5
    assert sum(row["pairs"] for row in balanced["reliability"]) == balanced["pairs"]
    only = walk_forward(histories, window_days=28, step_days=14, evaluate={"svc-3"}).as_dict()
    assert only["services"] == 1 and only["tiers"]["balanced"]["pairs"] == len(steps)
