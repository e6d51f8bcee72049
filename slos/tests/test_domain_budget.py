"""Budget and burn-rate maths, without a database."""

import math
from datetime import UTC, datetime, timedelta

import pytest

from slos.domain.budget import (
    ALERT_CONDITIONS,
    SCORING_WINDOWS,
    Events,
    budget_score,
    burn_down,
    burn_down_points,
    burn_rate,
    exhaustion_at,
    firing_conditions,
    firing_severity,
    health,
    score,
)

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


def test_thresholds_follow_the_window():
    assert [round(c.threshold(28), 3) for c in ALERT_CONDITIONS] == [13.44, 5.6, 2.8, 0.933]
    assert [round(c.threshold(30), 3) for c in ALERT_CONDITIONS] == [14.4, 6.0, 3.0, 1.0]
    assert SCORING_WINDOWS == ("5m", "30m", "1h", "2h", "6h", "1d", "3d")


def test_burn_rate():
    assert burn_rate(Events(good=990, total=1000), 0.999) == pytest.approx(10.0)
    assert burn_rate(Events(good=1000, total=1000), 0.999) == 0.0
    assert burn_rate(Events(good=0, total=0), 0.999) is None
    assert burn_rate(None, 0.999) is None
    # Bad data (good > total) never yields a negative rate.
    assert burn_rate(Events(good=1010, total=1000), 0.999) == 0.0
    assert burn_rate(Events(good=1, total=2), 1.0) == math.inf


def test_budget_score_fractions_and_minutes():
    result = budget_score(Events(good=999_750, total=1_000_000), target=0.999, window_days=28)
    assert result.window_availability == pytest.approx(0.99975)
    assert result.budget_total == pytest.approx(0.001)
    assert result.budget_consumed == pytest.approx(0.25)
    assert result.budget_remaining == pytest.approx(0.75)
    assert result.budget_total_minutes == pytest.approx(40.32)
    assert result.budget_remaining_minutes == pytest.approx(30.24)


def test_overspent_budget_is_zero_left_and_no_data_is_unknown():
    over = budget_score(Events(good=99_000, total=100_000), target=0.999, window_days=28)
    assert over.budget_consumed == pytest.approx(10.0)
    assert over.budget_remaining == 0.0
    empty = budget_score(Events(0, 0), target=0.999, window_days=28)
    assert empty.window_availability is None and empty.budget_remaining is None


def _rates(**rates):
    base = dict.fromkeys(SCORING_WINDOWS, 0.5)
    base.update({k.replace("_", ""): v for k, v in rates.items()})
    return base


def test_fast_burn_pages_only_when_both_windows_burn():
    fired = firing_conditions(_rates(**{"1h": 14.4, "5m": 14.4}), window_days=28)
    assert [f["condition"] for f in fired] == ["page_1h_5m"]
    assert firing_severity(fired) == "page"
    # A burst that already stopped (5m calm) does not page.
    assert firing_conditions(_rates(**{"1h": 14.4, "5m": 1.0}), window_days=28) == []
    # At exactly the threshold nothing fires; on a 30-day window 14.4 is the threshold itself.
    assert firing_conditions(_rates(**{"1h": 13.44, "5m": 13.44}), window_days=28) == []
    assert firing_conditions(_rates(**{"1h": 14.4, "5m": 14.4}), window_days=30) == []


def test_slow_burn_tickets_and_missing_windows_never_fire():
    fired = firing_conditions(_rates(**{"3d": 1.0, "6h": 1.0}), window_days=28)
    assert [f["severity"] for f in fired] == ["ticket"]
    assert firing_severity(fired) == "ticket"
    assert firing_conditions({"1h": 50.0, "5m": None}, window_days=28) == []
    assert firing_severity([]) is None


@pytest.mark.parametrize("remaining,severity,expected", [
    (0.8, None, "healthy"),
    (0.5, None, "healthy"),
    (0.49, None, "warning"),
    (0.8, "ticket", "warning"),
    (0.19, None, "critical"),
    (0.9, "page", "critical"),
    (0.0, None, "exhausted"),
    (0.0, "page", "exhausted"),
    (None, None, "unknown"),
])
def test_health_bands(remaining, severity, expected):
    assert health(remaining=remaining, severity=severity) == expected


def test_exhaustion_forecast():
    # Half the budget left at burn rate 2: the budget lasts 14 days, half of it 7.
    assert exhaustion_at(remaining=0.5, daily_burn_rate=2.0, window_days=28, now=NOW) == NOW + timedelta(days=7)
    # At burn rate 0.5 the half left lasts exactly the window (still within it); 0.9 left outlasts it.
    assert exhaustion_at(remaining=0.5, daily_burn_rate=0.5, window_days=28, now=NOW) == NOW + timedelta(days=28)
    assert exhaustion_at(remaining=0.9, daily_burn_rate=0.5, window_days=28, now=NOW) is None
    assert exhaustion_at(remaining=0.5, daily_burn_rate=0.0, window_days=28, now=NOW) is None
    assert exhaustion_at(remaining=0.5, daily_burn_rate=None, window_days=28, now=NOW) is None
    assert exhaustion_at(remaining=0.0, daily_burn_rate=3.0, window_days=28, now=NOW) == NOW
    assert exhaustion_at(remaining=None, daily_burn_rate=3.0, window_days=28, now=NOW) is None


def test_burn_down_ends_at_the_budget_left_and_is_thinned():
    points = [(NOW - timedelta(hours=6 * (111 - i)), Events(good=9_999 if i % 10 else 9_990, total=10_000))
              for i in range(112)]
    curve = burn_down(points, target=0.999, max_points=50)
    window = sum((e for _, e in points), Events(0, 0))
    assert curve[-1][0] == NOW.timestamp()
    assert curve[-1][1] == pytest.approx(
        budget_score(window, target=0.999, window_days=28).budget_remaining, abs=1e-6)
    assert len(curve) <= 50
    assert burn_down_points(curve[-1:]) == [{"at": NOW.isoformat(), "budget_remaining": curve[-1][1]}]
    values = [p[1] for p in curve]
    assert values == sorted(values, reverse=True)
    assert burn_down([], target=0.999) == []


def test_score_puts_it_together():
    window = [(NOW - timedelta(days=d), Events(good=99_990, total=100_000)) for d in range(27, -1, -1)]
    recent = {w: Events(good=98_000, total=100_000) for w in SCORING_WINDOWS}
    result = score(window_points=window, recent=recent, target=0.999, window_days=28, now=NOW)
    assert result.budget_remaining == pytest.approx(0.9)
    assert result.burn_rates == {"1h": pytest.approx(20.0), "6h": pytest.approx(20.0), "1d": pytest.approx(20.0),
                                 "3d": pytest.approx(20.0)}
    assert result.firing == "page"
    assert result.health == "critical"
    # 90% of the budget at 20x lasts 0.9 x 28 / 20 days.
    assert result.exhaustion_at == NOW + timedelta(days=0.9 * 28 / 20)
    no_data = score(window_points=[], recent=dict.fromkeys(SCORING_WINDOWS), target=0.999, window_days=28, now=NOW)
    assert no_data.health == "unknown" and no_data.firing is None and no_data.burn_down == []
