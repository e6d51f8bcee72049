"""Latency tiers from the daily percentile history (DESIGN.md section 9).

Per percentile (default p99): conservative = the history's maximum, balanced
= its 95th percentile, aggressive = its median, each rounded UP to a histogram
bucket bound when the buckets are known (else to 50 ms). The tier target is
the share of requests under the threshold (0.99 for p99). Pure numpy.
"""

from collections.abc import Sequence

import numpy as np

from recommendations.domain.availability import CI_LEVEL, block_indices, block_length
from recommendations.domain.rounding import round_threshold_up

# Tier -> quantile of the daily percentile history (1.0 = its maximum).
LATENCY_TIER_QUANTILES: dict[str, float] = {"conservative": 1.0, "balanced": 0.95, "aggressive": 0.5}
DEFAULT_REPLICATES = 400


def latency_tiers(daily_ms: Sequence[float], *, percentile: float = 99, seed: int,
                  bucket_bounds_ms: Sequence[float] = (), replicates: int = DEFAULT_REPLICATES) -> dict[str, dict]:
    """Tiers `{"percentile", "threshold_ms", "target", "estimated_breach_probability",
    "confidence_interval"}` from the daily `percentile` latencies (ms).

    The breach probability is the chance that a day's percentile exceeds the
    threshold (days above it in the history, with half a day of prior so a
    maximum never claims zero). The interval comes from a moving-block
    bootstrap of the daily series, rounded like the threshold."""
    values = np.asarray(daily_ms, dtype=float)
    days = values.size
    if days == 0:
        raise ValueError("no latency history")
    rng = np.random.default_rng(seed)
    resampled = values[block_indices(rng, source_len=days, out_len=days, block=block_length(days),
                                     replicates=replicates)]
    tail = (1.0 - CI_LEVEL) / 2.0
    quantiles = list(LATENCY_TIER_QUANTILES.values())
    # One pass each over the history and the resamples, for all three tiers.
    raws = np.quantile(values, quantiles)
    bounds = np.quantile(np.quantile(resampled, quantiles, axis=1), [tail, 1.0 - tail], axis=1)
    tiers = {}
    for index, name in enumerate(LATENCY_TIER_QUANTILES):
        raw = float(raws[index])
        lo, hi = float(bounds[0, index]), float(bounds[1, index])
        threshold = round_threshold_up(raw, bucket_bounds_ms)
        exceeded = int((values > threshold).sum())
        tiers[name] = {
            "percentile": percentile,
            "threshold_ms": threshold,
            "target": round(percentile / 100.0, 6),
            "estimated_breach_probability": round((exceeded + 0.5) / (days + 1.0), 6),
            "confidence_interval": [round_threshold_up(min(lo, raw), bucket_bounds_ms),
                                    round_threshold_up(max(hi, raw), bucket_bounds_ms)],
        }
    return tiers


def timeout_warnings(dependency_latency_ms: dict[str, Sequence[float]],
                     timeouts_ms: dict[str, int | None]) -> list[dict]:
    """Direct dependencies whose daily p99 exceeded the caller's timeout on
    some day: those calls time out, whatever the dependency's own SLO says."""
    warnings = []
    for service_id in sorted(timeouts_ms):
        timeout = timeouts_ms[service_id]
        history = np.asarray(dependency_latency_ms.get(service_id, ()), dtype=float)
        if not timeout or history.size == 0:
            continue
        days_over = int((history > timeout).sum())
        if days_over:
            worst = float(history.max())
            warnings.append({
                "service_id": service_id, "timeout_ms": timeout, "p99_ms": round(worst, 3), "days_over": days_over,
                "message": f"{service_id}'s p99 reached {worst:.0f} ms, over the {timeout} ms timeout, "
                           f"on {days_over} of {history.size} days",
            })
    return warnings
