"""A simulated incident-heavy fleet (pure numpy) for calibration tests.

Each service has a lognormal daily error rate around its own baseline plus
incident days: a day is an incident with a per-service probability (one
every one to eight weeks), and an incident multiplies that day's error rate
by a heavy, service-specific factor. With 30 days of history some services
have shown no incident yet and others several: exactly the case a
distribution built from the service's own days gets wrong. The truth of a
tier is its breach rate over many fresh windows drawn from the known process.
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ServiceProcess:
    traffic: float  # requests per day (median)
    rate: float  # median daily error rate on a normal day
    sigma: float  # lognormal spread of the daily error rate
    incident_chance: float  # chance that a day holds an incident
    severity: float  # median factor by which an incident multiplies the day's error rate
    severity_sigma: float  # lognormal spread of that factor between incidents
    # When set, an incident day's error rate is this absolute rate (times the
    # lognormal spread) whatever the baseline: incidents not tied to the service's noise.
    incident_rate: float = 0.0

    def days(self, rng: np.random.Generator, shape) -> tuple[np.ndarray, np.ndarray]:
        """(good, total) daily events of `shape` days (e.g. (30,) or (futures, 28))."""
        rate = self.rate * np.exp(self.sigma * rng.normal(size=shape))
        incident = rng.random(shape) < self.incident_chance
        factor = self.severity * np.exp(self.severity_sigma * rng.normal(size=shape))
        bad = self.incident_rate * factor / self.severity if self.incident_rate else rate * factor
        rate = np.minimum(np.where(incident, np.maximum(bad, rate), rate), 1.0)
        total = np.round(self.traffic * np.exp(rng.normal(0, 0.2, shape)))
        return total - rng.binomial(total.astype(np.int64), rate), total


def incident_heavy_fleet(rng: np.random.Generator, services: int, *, rate_decades=(-3.6, -2.6),
                         gap_days=(7, 56), severity_decades=(0.8, 1.6),
                         incident_decades: tuple[float, float] | None = None) -> list[ServiceProcess]:
    """`services` processes: baseline rates log-uniform over `rate_decades`,
    a mean gap between incidents uniform over `gap_days`, incident factors
    log-uniform over `severity_decades` (or, with `incident_decades`, incident
    error rates log-uniform over those decades whatever the baseline)."""
    fleet = []
    for _ in range(services):
        fleet.append(ServiceProcess(
            traffic=10 ** rng.uniform(4, 6),
            rate=10 ** rng.uniform(*rate_decades),
            sigma=rng.uniform(0.2, 0.6),
            incident_chance=1.0 / rng.uniform(*gap_days),
            severity=10 ** rng.uniform(*severity_decades),
            severity_sigma=rng.uniform(0.2, 0.6),
            incident_rate=10 ** rng.uniform(*incident_decades) if incident_decades else 0.0,
        ))
    return fleet


def realised_breach_rate(process: ServiceProcess, rng: np.random.Generator, target: float, *,
                         window_days: int = 28, futures: int = 400) -> float:
    """The share of `futures` fresh windows whose availability falls below `target`."""
    good, total = process.days(rng, (futures, window_days))
    return float(np.mean(good.sum(axis=1) / total.sum(axis=1) < target))
