"""Additive explanation of an availability recommendation.

The gap between the observed mean availability and the balanced target is
split into five contributions that add up to it exactly (a telescoping sum):

* variance: observed mean -> 5% quantile of the plug-in distribution (what
  day-to-day variability alone costs);
* data_quality_margin: plug-in quantile -> service-only predictive quantile
  (what the uncertainty of the estimate costs: larger with less history);
* fleet_prior: service-only quantile -> quantile with the fleet prior (what
  the fleet's bad days, unseen or seen, add or take away);
* rounding: predictive quantile -> human target (budget rounded up);
* dependency_cap: human target -> target capped by the dependency ceiling.
Pure Python: no Django.
"""


def _percent(value: float) -> str:
    return f"{value * 100:.4g}%"


def feature_attributions(*, observed: float, plugin_quantile: float, service_only_quantile: float,
                         predictive_quantile: float, rounded: float, target: float) -> list[dict]:
    """Five contributions summing to observed - target, both as served (the
    last one absorbs the floating-point remainder, so the sum is exact to
    the last bit or two)."""
    gap = observed - target
    variance = observed - plugin_quantile
    margin = plugin_quantile - service_only_quantile
    prior = service_only_quantile - predictive_quantile
    rounding = predictive_quantile - rounded
    cap = gap - (variance + margin + prior + rounding)
    return [
        {"feature": "variance", "contribution": variance,
         "description": "Day-to-day variability of the service's availability over the SLO window."},
        {"feature": "data_quality_margin", "contribution": margin,
         "description": "Uncertainty of the estimate itself: the shorter or noisier the history, the larger."},
        {"feature": "fleet_prior", "contribution": prior,
         "description": "How often this fleet has bad days and how bad they are, learnt across every "
                        "service: weighs more the less history the service has."},
        {"feature": "rounding", "contribution": rounding,
         "description": "Error budget rounded up to one significant digit, so the target is a human value."},
        {"feature": "dependency_cap", "contribution": cap,
         "description": "Cap by the product of the hard synchronous dependencies' availabilities."},
    ]


def probability_text(value: float) -> str:
    """A breach probability as the summary states it (two significant digits)."""
    return f"{value * 100:.2g}%"


def availability_summary(*, service_id: str, target: float, window_days: int, budget_minutes: float,
                         breach_probability: float, observed: float, days: int, cold_start: bool,
                         bottleneck: str | None, composite: float, capped: bool, binding: bool,
                         low_traffic: bool) -> str:
    """One sentence an SRE can paste into a review; it states the served
    breach probability of the balanced target."""
    parts = [
        f"{service_id}: a balanced target of {_percent(target)} over {window_days} days "
        f"({budget_minutes:.1f} min of error budget) leaves a {probability_text(breach_probability)} "
        "chance of a breach,",
        f"from {_percent(observed)} observed over {days} days of data"
        + (" (cold start: 90-day lookback)" if cold_start else ""),
    ]
    text = " ".join(parts)
    if capped and bottleneck:
        text += f"; capped by the dependency ceiling of {_percent(composite)} (bottleneck: {bottleneck})"
    elif bottleneck and not binding and composite < 1.0:
        text += (f"; it did better than its hard dependencies' bound of {_percent(composite)}, so their "
                 "failures are absorbed and the bound does not cap the tiers")
    elif bottleneck:
        text += f"; hard dependencies allow at most {_percent(composite)} (weakest: {bottleneck})"
    if low_traffic:
        text += "; low traffic: alert on a minimum number of failures (min_failures), not the ratio alone"
    return text + "."
