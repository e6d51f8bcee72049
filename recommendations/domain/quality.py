"""Data-quality assessment of a daily SLI history (DESIGN.md section 9).

Pure Python + numpy: no Django. Days whose good count exceeds the total (or
is negative) are bad data: they are rejected and counted.
"""

from dataclasses import dataclass

import numpy as np

MIN_DAYS = 7
DEFAULT_LOOKBACK_DAYS = 30
COLD_START_LOOKBACK_DAYS = 90
# Below this 30-day completeness the history is a cold start: use 90 days.
COLD_START_COMPLETENESS = 0.9
# Fewer events a day than this and one failure moves the SLI visibly: alert
# on a minimum number of failures rather than on the ratio alone.
LOW_TRAFFIC_EVENTS_PER_DAY = 1000


@dataclass(frozen=True)
class CleanHistory:
    good: np.ndarray
    total: np.ndarray
    rejected_points: int


def clean_daily_events(good, total) -> CleanHistory:
    """Keep the days with traffic and 0 <= good <= total; count the rejected."""
    good = np.asarray(good, dtype=float)
    total = np.asarray(total, dtype=float)
    finite = np.isfinite(good) & np.isfinite(total)
    with_traffic = finite & (total > 0)
    valid = with_traffic & (good >= 0) & (good <= total)
    return CleanHistory(good=good[valid], total=total[valid], rejected_points=int((with_traffic & ~valid).sum()))


def is_cold_start(days_with_data: int, lookback_days: int = DEFAULT_LOOKBACK_DAYS) -> bool:
    """True when the 30-day history is too incomplete to stand alone."""
    return days_with_data / lookback_days < COLD_START_COMPLETENESS


def data_quality(*, history: CleanHistory, lookback_days: int, cold_start: bool) -> dict:
    """The `data_quality` block of a recommendation."""
    days = int(history.total.size)
    sample_count = int(history.total.sum())
    return {
        "completeness": round(days / lookback_days, 4) if lookback_days else 0.0,
        "days_with_data": days,
        "lookback_days": lookback_days,
        "is_cold_start": cold_start,
        "sample_count": sample_count,
        "low_traffic": bool(days and sample_count / days < LOW_TRAFFIC_EVENTS_PER_DAY),
        "rejected_points": history.rejected_points,
    }
