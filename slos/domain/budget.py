"""Error budgets, burn rates and the multiwindow alert conditions (pure Python).

Definitions (Google SRE workbook, "Alerting on SLOs"): for an SLO with target
T over a rolling window of W days, the error budget is the share 1 - T of the
window's events that may be bad. A burn rate is the bad-event ratio of a
shorter window divided by 1 - T: at burn rate 1 the budget lasts exactly the
window, at 13.44 a 28-day budget loses 2% in one hour.

Nothing here imports Django; `slos.services` feeds it the events read from
the telemetry source.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

# The exported alert rules' table, so a score fires exactly when the rule would.
from recommendations.domain.burn import BURN_RATE_WINDOWS as ALERT_CONDITIONS
from recommendations.domain.burn import PAGE, TICKET, WINDOW_HOURS

BURN_RATE_WINDOWS: tuple[str, ...] = ("1h", "6h", "1d", "3d")

HEALTHY = "healthy"
WARNING = "warning"
CRITICAL = "critical"
EXHAUSTED = "exhausted"
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Events:
    """Good and total events over some span (latency: good = under the threshold)."""

    good: float
    total: float

    @property
    def bad(self) -> float:
        return min(max(self.total - self.good, 0.0), self.total)

    def __add__(self, other: Events) -> Events:
        return Events(self.good + other.good, self.total + other.total)


# Every window a score needs: the burn rates shown and the alert conditions' windows.
SCORING_WINDOWS: tuple[str, ...] = tuple(sorted(
    set(BURN_RATE_WINDOWS) | {w for c in ALERT_CONDITIONS for w in (c.long, c.short)}, key=WINDOW_HOURS.__getitem__
))


def error_budget(target: float) -> float:
    """The share of events that may be bad (1 - target), rounded off float noise."""
    if not 0.0 < target <= 1.0:
        raise ValueError(f"target must be in (0, 1], got {target}")
    return round(1.0 - target, 12)


def burn_rate(events: Events | None, target: float) -> float | None:
    """Bad-event ratio over the budget; None without traffic (no evidence
    either way), 0 for a target of 1 with no bad events, inf when it has some."""
    if events is None or events.total <= 0:
        return None
    budget = error_budget(target)
    ratio = events.bad / events.total
    if budget == 0:
        return 0.0 if ratio == 0 else math.inf
    return ratio / budget


def burn_rates(windows: Mapping[str, Events | None], target: float) -> dict[str, float | None]:
    """Burn rate of every window in `windows` (e.g. 5m ... 3d)."""
    return {window: burn_rate(events, target) for window, events in windows.items()}


def firing_conditions(rates: Mapping[str, float | None], *, window_days: int) -> list[dict]:
    """The alert conditions whose long and short windows both burn above the
    threshold, as `{"condition", "severity", "long", "short", "threshold",
    "long_rate", "short_rate"}`, page conditions first."""
    fired = []
    for condition in ALERT_CONDITIONS:
        threshold = condition.threshold(window_days)
        long_rate, short_rate = rates.get(condition.long), rates.get(condition.short)
        if long_rate is None or short_rate is None:
            continue
        if long_rate > threshold and short_rate > threshold:
            fired.append({"condition": condition.name, "severity": condition.severity, "long": condition.long,
                          "short": condition.short, "threshold": round(threshold, 4),
                          "long_rate": long_rate, "short_rate": short_rate})
    return fired


def firing_severity(fired: Iterable[dict]) -> str | None:
    """`page` if any page condition fires, else `ticket` if one does, else None."""
    severities = {item["severity"] for item in fired}
    if PAGE in severities:
        return PAGE
    if TICKET in severities:
        return TICKET
    return None


@dataclass(frozen=True)
class BudgetScore:
    window_availability: float | None
    total_events: float
    budget_total: float
    budget_consumed: float | None
    budget_remaining: float | None
    budget_total_minutes: float
    budget_remaining_minutes: float | None


def budget_score(window: Events, *, target: float, window_days: int) -> BudgetScore:
    """Availability (or share under the threshold) so far in the window and
    the share of its error budget consumed and left. Consumed may exceed 1
    (overspent); remaining never goes below 0. Minutes express the budget as
    time at zero availability (meaningful for availability SLOs)."""
    budget = error_budget(target)
    total_minutes = budget * window_days * 24 * 60
    if window.total <= 0:
        return BudgetScore(None, 0.0, budget, None, None, total_minutes, None)
    availability = window.good / window.total if window.good <= window.total else 1.0
    allowed = budget * window.total
    consumed = (window.bad / allowed) if allowed > 0 else (0.0 if window.bad == 0 else math.inf)
    remaining = max(0.0, 1.0 - consumed)
    return BudgetScore(availability, window.total, budget, consumed, remaining, total_minutes,
                       remaining * total_minutes)


def exhaustion_at(*, remaining: float | None, daily_burn_rate: float | None, window_days: int,
                  now: datetime) -> datetime | None:
    """When the budget left runs out at the 1-day burn rate: at rate b the
    whole budget lasts W/b days. None when nothing burns or the budget would
    outlast the window; `now` when it is already spent."""
    if remaining is None:
        return None
    if remaining <= 0:
        return now
    if not daily_burn_rate or daily_burn_rate <= 0:
        return None
    days_left = remaining * window_days / daily_burn_rate
    if days_left > window_days:
        return None
    return now + timedelta(days=days_left)


def health(*, remaining: float | None, severity: str | None) -> str:
    """healthy: >= 50% left and nothing firing; warning: < 50% or a ticket;
    critical: < 20% or a page; exhausted: none left; unknown: no data."""
    if remaining is None:
        return UNKNOWN
    if remaining <= 0:
        return EXHAUSTED
    if remaining < 0.2 or severity == PAGE:
        return CRITICAL
    if remaining < 0.5 or severity == TICKET:
        return WARNING
    return HEALTHY


def burn_down(points: Sequence[tuple[datetime, Events]], *, target: float, max_points: int = 200) -> list[list]:
    """The budget left over the window, point by point: 1 minus the bad
    events so far over the budget of the whole window's events, so the line
    ends at the score's `budget_remaining` (not clamped: the chart shows an
    overspend). Compact `[epoch seconds, budget left]` pairs (stored for
    every SLO every few minutes); `burn_down_points` makes them readable. At
    most `max_points` points, the last one always kept."""
    total = sum(events.total for _, events in points)
    allowed = error_budget(target) * total
    if allowed <= 0:
        return []
    curve = []
    bad = 0.0
    for at, events in points:
        bad += events.bad
        curve.append([int(at.timestamp()), round(1.0 - bad / allowed, 6)])
    if len(curve) > max_points:
        stride = math.ceil(len(curve) / max_points)
        # Counted back from the end, so the latest point is always kept.
        curve = curve[::-1][::stride][::-1]
    return curve


def burn_down_points(curve: Sequence[Sequence[float]]) -> list[dict]:
    """`burn_down` pairs as `{"at": ISO 8601 UTC, "budget_remaining"}`."""
    return [{"at": datetime.fromtimestamp(at, tz=UTC).isoformat(), "budget_remaining": value}
            for at, value in curve or ()]


@dataclass(frozen=True)
class SloScore:
    window_availability: float | None
    total_events: float
    budget_total: float
    budget_consumed: float | None
    budget_remaining: float | None
    budget_total_minutes: float
    budget_remaining_minutes: float | None
    burn_rates: dict[str, float | None]
    firing: str | None
    firing_conditions: list[dict]
    exhaustion_at: datetime | None
    health: str
    burn_down: list[dict]


def score(*, window_points: Sequence[tuple[datetime, Events]], recent: Mapping[str, Events | None], target: float,
          window_days: int, now: datetime) -> SloScore:
    """The whole score of one SLO from the window's event series (range
    query) and the recent windows' events (instant queries)."""
    window = sum((events for _, events in window_points), Events(0.0, 0.0))
    budget = budget_score(window, target=target, window_days=window_days)
    rates = burn_rates(recent, target)
    fired = firing_conditions(rates, window_days=window_days)
    severity = firing_severity(fired)
    return SloScore(
        window_availability=budget.window_availability,
        total_events=budget.total_events,
        budget_total=budget.budget_total,
        budget_consumed=budget.budget_consumed,
        budget_remaining=budget.budget_remaining,
        budget_total_minutes=budget.budget_total_minutes,
        budget_remaining_minutes=budget.budget_remaining_minutes,
        burn_rates={w: rates.get(w) for w in BURN_RATE_WINDOWS},
        firing=severity,
        firing_conditions=fired,
        exhaustion_at=exhaustion_at(remaining=budget.budget_remaining, daily_burn_rate=rates.get("1d"),
                                    window_days=window_days, now=now),
        health=health(remaining=budget.budget_remaining, severity=severity),
        burn_down=burn_down(window_points, target=target),
    )
