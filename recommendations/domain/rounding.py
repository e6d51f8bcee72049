"""Rounding of targets and thresholds to values a human would write down.

Availability targets are rounded DOWN by rounding the error budget (1 -
target) UP to one significant digit: 0.99937 has a budget of 0.00063, which
becomes 0.0007, so the target is 0.9993. Latency thresholds are rounded UP to
the next histogram bucket bound (the only values a histogram can measure
exactly), else to a multiple of 50 ms. Pure Python: no Django.
"""

import math
from collections.abc import Sequence

# The tightest budget recommended: five nines. A history without a single
# failure does not justify promising 100%.
MIN_ERROR_BUDGET = 1e-5
LATENCY_STEP_MS = 50.0


def round_error_budget_up(budget: float) -> float:
    """Round an error budget up to one significant digit (0.00063 -> 0.0007),
    never below MIN_ERROR_BUDGET and never above 1."""
    budget = max(float(budget), MIN_ERROR_BUDGET)
    if budget >= 1.0:
        return 1.0
    exponent = math.floor(math.log10(budget))
    # round() first: 0.0007 / 1e-4 is 7.000000000000001 in floating point.
    mantissa = math.ceil(round(budget / 10.0**exponent, 9))
    return min(1.0, round(mantissa * 10.0**exponent, 12))


def round_target_down(target: float) -> float:
    """The human target at or below `target`: its budget rounded up."""
    return round(1.0 - round_error_budget_up(1.0 - float(target)), 12)


def round_threshold_up(value_ms: float, bucket_bounds_ms: Sequence[float] = ()) -> float:
    """The smallest histogram bucket bound >= value, else the next multiple of
    50 ms (also when the value lies beyond the last finite bound)."""
    value_ms = float(value_ms)
    for bound in sorted(b for b in bucket_bounds_ms if math.isfinite(b)):
        if bound >= value_ms - 1e-9:
            return float(bound)
    return max(LATENCY_STEP_MS, math.ceil(round(value_ms / LATENCY_STEP_MS, 9)) * LATENCY_STEP_MS)
