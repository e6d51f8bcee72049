"""The fleet prior (empirical Bayes) of the availability recommendation.

Thirty days of a service's own history often hold no incident, or one, of a
process that has them every few weeks. The fleet has seen many: this module
splits each service's days into normal days and incident days ("bad days":
an error rate far above the service's own typical day), and fits across the
fleet

* how often a service has a bad day: a Beta(alpha, beta) distribution of the
  daily incident probability (beta-binomial method of moments), and
* how bad a bad day is: the log factor by which it multiplies the service's
  typical error rate, normal with a fleet mean, a spread between services
  and a spread between one service's incidents.

A service's own days then update the prior (conjugately): a long history
leans on itself, a short one on the fleet. Pure numpy: no Django.
"""

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import numpy as np

# Fewer services with data than this and the fit is noise: use the default.
MIN_SERVICES = 20
# A day is a bad day when its error rate is above both this factor of the
# service's median day and three robust standard deviations of its log.
INCIDENT_MIN_FACTOR = 4.0
INCIDENT_ROBUST_SIGMAS = 3.0
# Bounds of the fitted overdispersion of incident probabilities (1 / (alpha + beta + 1)).
MIN_OVERDISPERSION = 0.005
MAX_OVERDISPERSION = 0.5
MIN_SEVERITY_SD = 0.25
# Weight (in bad days) of the default severity in the fitted one.
SEVERITY_PRIOR_INCIDENTS = 10


@dataclass(frozen=True)
class FleetPriorParams:
    """Fitted (or default) parameters of the fleet prior.

    `incident_alpha`/`incident_beta`: Beta prior of a service's daily chance
    of a bad day; `severity_mean`: mean log factor of a bad day over the
    service's median day; `severity_between_sd`: spread of that mean between
    services; `severity_within_sd`: spread between one service's bad days.
    `services`, `days`, `incidents`: what the fit saw (0 for the default)."""

    incident_alpha: float
    incident_beta: float
    severity_mean: float
    severity_between_sd: float
    severity_within_sd: float
    services: int = 0
    days: int = 0
    incidents: int = 0

    @property
    def incident_chance(self) -> float:
        """The fleet's mean daily chance of a bad day."""
        return self.incident_alpha / (self.incident_alpha + self.incident_beta)

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "FleetPriorParams":
        return cls(**{name: data[name] for name in cls.__dataclass_fields__ if name in data})


# The documented default (fewer than MIN_SERVICES services with data), on
# the cautious side: a bad day every three weeks on average, services
# differing widely (alpha + beta = 10.5, worth about ten days of a service's
# own history), a bad day twenty times a typical day (log factor 3.0, spread
# 1 between services and 0.6 between incidents).
DEFAULT_FLEET_PRIOR = FleetPriorParams(
    incident_alpha=0.5, incident_beta=10.0, severity_mean=math.log(20.0),
    severity_between_sd=1.0, severity_within_sd=0.6,
)


@dataclass(frozen=True)
class DaySplit:
    """A service's days split into normal and bad days.

    `normal`: boolean mask of the normal days; `center`: log error rate of the
    median day; `severities`: log factors of the bad days over the center."""

    normal: np.ndarray
    center: float
    severities: np.ndarray

    @property
    def days(self) -> int:
        return int(self.normal.size)

    @property
    def incidents(self) -> int:
        return int(self.severities.size)


def log_error_rates(good: np.ndarray, total: np.ndarray) -> np.ndarray:
    """Daily log error rates; a day without failures counts half a failure
    (it says the rate is below one in the day's events, not that it is 0)."""
    good = np.asarray(good, dtype=float)
    total = np.asarray(total, dtype=float)
    return np.log(np.maximum(1.0 - good / total, 0.5 / total))


def split_days(good: np.ndarray, total: np.ndarray) -> DaySplit:
    """Split a history (days with data, total > 0) into normal and bad days."""
    log_rate = log_error_rates(good, total)
    center = float(np.median(log_rate))
    spread = 1.4826 * float(np.median(np.abs(log_rate - center)))
    threshold = max(math.log(INCIDENT_MIN_FACTOR), INCIDENT_ROBUST_SIGMAS * spread)
    excess = log_rate - center
    bad = excess > threshold
    return DaySplit(normal=~bad, center=center, severities=excess[bad])


def fit_fleet_prior(splits: Iterable[DaySplit]) -> FleetPriorParams:
    """Fit the prior over the fleet's day splits (one per service with data);
    the default below MIN_SERVICES services. The severity's mean leans on the
    default's while the fleet has seen few bad days, its spreads are the
    default's below MIN_SERVICES bad days."""
    splits = [s for s in splits if s.days > 0]
    if len(splits) < MIN_SERVICES:
        return DEFAULT_FLEET_PRIOR
    n = np.array([s.days for s in splits], dtype=float)
    k = np.array([s.incidents for s in splits], dtype=float)
    alpha, beta = _fit_beta_binomial(k, n)
    severity = _fit_severity([s.severities for s in splits if s.incidents])
    return FleetPriorParams(incident_alpha=alpha, incident_beta=beta, **severity,
                            services=len(splits), days=int(n.sum()), incidents=int(k.sum()))


def _fit_beta_binomial(k: np.ndarray, n: np.ndarray) -> tuple[float, float]:
    """Method-of-moments Beta(alpha, beta) of per-service incident chances
    from k incidents in n days each (Kleinman's weighted estimator)."""
    mean = float(k.sum() / n.sum())
    # Half an incident over the whole fleet: never a zero chance.
    mean = min(max(mean, 0.5 / n.sum()), 0.5)
    rates = k / n
    spread = float(np.sum(n * (rates - mean) ** 2)) / max(len(n) - 1, 1)
    binomial = mean * (1.0 - mean)
    n_bar = float(n.mean())
    overdispersion = (spread - binomial) / (binomial * max(n_bar - 1.0, 1.0))
    overdispersion = min(max(overdispersion, MIN_OVERDISPERSION), MAX_OVERDISPERSION)
    concentration = 1.0 / overdispersion - 1.0
    return mean * concentration, (1.0 - mean) * concentration


def _fit_severity(per_service: list[np.ndarray]) -> dict:
    """Mean log factor of bad days, its spread between services and between
    one service's bad days (one-way random effects, moments)."""
    pooled = np.concatenate(per_service) if per_service else np.array([])
    # The fleet's mean severity, shrunk towards the default's as if the
    # default had been seen SEVERITY_PRIOR_INCIDENTS times: a handful of bad
    # days moves it a little, hundreds decide it.
    mean = ((float(pooled.sum()) + SEVERITY_PRIOR_INCIDENTS * DEFAULT_FLEET_PRIOR.severity_mean)
            / (pooled.size + SEVERITY_PRIOR_INCIDENTS))
    if pooled.size < MIN_SERVICES:
        return {"severity_mean": mean,
                "severity_between_sd": DEFAULT_FLEET_PRIOR.severity_between_sd,
                "severity_within_sd": DEFAULT_FLEET_PRIOR.severity_within_sd}
    repeated = [s for s in per_service if s.size >= 2]
    if repeated:
        within_var = sum(float(((s - s.mean()) ** 2).sum()) for s in repeated) / sum(s.size - 1 for s in repeated)
    else:
        within_var = float(pooled.var())
    means = np.array([s.mean() for s in per_service])
    counts = np.array([s.size for s in per_service], dtype=float)
    between_var = float(means.var()) - within_var * float(np.mean(1.0 / counts))
    return {"severity_mean": mean,
            "severity_between_sd": max(math.sqrt(max(between_var, 0.0)), MIN_SEVERITY_SD),
            "severity_within_sd": max(math.sqrt(within_var), MIN_SEVERITY_SD)}


@dataclass(frozen=True)
class ServicePosterior:
    """The prior updated by one service's days: Beta(alpha, beta) of its daily
    chance of a bad day, and Normal(mean, sd) of its mean log severity."""

    incident_alpha: float
    incident_beta: float
    severity_mean: float
    severity_sd: float
    severity_within_sd: float


def service_posterior(prior: FleetPriorParams, split: DaySplit) -> ServicePosterior:
    """Conjugate update of the fleet prior by a service's own days."""
    between = prior.severity_between_sd ** 2
    within = prior.severity_within_sd ** 2
    precision = 1.0 / between + split.incidents / within
    mean = (prior.severity_mean / between + float(split.severities.sum()) / within) / precision
    return ServicePosterior(
        incident_alpha=prior.incident_alpha + split.incidents,
        incident_beta=prior.incident_beta + split.days - split.incidents,
        severity_mean=mean,
        severity_sd=math.sqrt(1.0 / precision),
        severity_within_sd=prior.severity_within_sd,
    )
