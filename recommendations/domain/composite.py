"""The dependency ceiling of "The Calculus of Service Availability"
(Treynor, Dahlin, Rau, Beyer; ACM Queue 2017).

A service cannot be more available than the product of the availabilities
of the things it hard-depends on synchronously. Each unique dependency counts
once however many paths reach it (transitively); a strongly connected
component counts as one unit at its weakest member (a failure anywhere in a
cycle takes the cycle down). Pure Python + networkx: no Django.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import networkx as nx

MINUTES_PER_YEAR = 365 * 24 * 60


@dataclass(frozen=True)
class DependencyUnit:
    """One unit of the ceiling: a dependency, or an SCC of them, named by its
    weakest member. `availability` is None when none of them has data."""

    service_id: str
    members: tuple[str, ...]
    availability: float | None


@dataclass(frozen=True)
class Ceiling:
    composite: float
    units: tuple[DependencyUnit, ...]

    @property
    def bottleneck(self) -> DependencyUnit | None:
        known = [unit for unit in self.units if unit.availability is not None]
        return min(known, key=lambda u: (u.availability, u.service_id)) if known else None


class HardDependencyGraph:
    """The hard sync edges of a graph with their strongly connected
    components condensed once, so the ceiling of many services (a batch)
    costs one walk of the condensed DAG each."""

    def __init__(self, hard_sync_edges: Iterable[tuple[str, str]]):
        graph = nx.DiGraph(list(hard_sync_edges))
        self.condensed = nx.condensation(graph)
        self.component_of: dict[str, int] = self.condensed.graph["mapping"]

    def direct_and_transitive(self, service_id: str) -> set[str]:
        """Every service `service_id` hard-depends on, directly or not."""
        component = self.component_of.get(service_id)
        if component is None:
            return set()
        reachable = nx.descendants(self.condensed, component) | {component}
        members = set()
        for node in reachable:
            members |= self.condensed.nodes[node]["members"]
        return members - {service_id}

    def ceiling(self, service_id: str, availability: Mapping[str, float | None]) -> Ceiling:
        """The ceiling of `service_id`; `availability` maps a dependency to its
        observed availability (None or missing: no data, left out)."""
        component = self.component_of.get(service_id)
        if component is None:
            return Ceiling(composite=1.0, units=())
        units: list[DependencyUnit] = []
        for node in nx.descendants(self.condensed, component) | {component}:
            members = sorted(self.condensed.nodes[node]["members"] - {service_id})
            if not members:
                continue
            known = [(availability[m], m) for m in members if availability.get(m) is not None]
            if known:
                worst, name = min(known)
                units.append(DependencyUnit(service_id=name, members=tuple(members), availability=float(worst)))
            else:
                units.append(DependencyUnit(service_id=members[0], members=tuple(members), availability=None))
        units.sort(key=lambda u: u.service_id)
        composite = 1.0
        for unit in units:
            if unit.availability is not None:
                composite *= unit.availability
        return Ceiling(composite=composite, units=tuple(units))


def dependency_ceiling(service_id: str, hard_sync_edges: Iterable[tuple[str, str]],
                       availability: Mapping[str, float | None]) -> Ceiling:
    """The ceiling of `service_id` over the graph of its hard sync edges."""
    return HardDependencyGraph(hard_sync_edges).ceiling(service_id, availability)


def dependency_budget_shares(ceiling: Ceiling, target: float) -> list[dict]:
    """Each unit's share of the error budget of `target`, (1 - a) / (1 - target),
    with the flags `over_half_of_budget` (share > 0.5) and `missing_extra_nine`
    (the dependency is not ten times as reliable as the target), or `no_data`."""
    budget = max(1.0 - target, 1e-12)
    rows = []
    for unit in ceiling.units:
        if unit.availability is None:
            rows.append({"service_id": unit.service_id, "availability": None, "budget_share": None,
                         "flags": ["no_data"]})
            continue
        unavailability = 1.0 - unit.availability
        share = unavailability / budget
        flags = []
        if share > 0.5:
            flags.append("over_half_of_budget")
        if unavailability > budget / 10.0:
            flags.append("missing_extra_nine")
        rows.append({"service_id": unit.service_id, "availability": round(unit.availability, 8),
                     "budget_share": round(share, 6), "flags": flags})
    return rows


def own_outage_budget_minutes(*, target: float, ceiling: float, period_minutes: float = MINUTES_PER_YEAR) -> float:
    """Minutes per period left for the service's own outages once its hard
    dependencies have spent theirs: (ceiling - target) * period, never below 0.
    The Calculus paper's example: 99.99% with five 99.999% dependencies
    leaves about 26 of 53 minutes a year."""
    return max(0.0, ceiling - target) * period_minutes


def bound_binds(*, bound: float, observed: float) -> bool:
    """True when the dependency bound caps the tiers: there is a bound (some
    dependency has data) and the service did not do better than it."""
    return bound < 1.0 and observed <= bound


def dependency_impact(ceiling: Ceiling, *, observed: float, target: float,
                      basis: Mapping[str, str]) -> dict:
    """The `dependency_impact` block of an explanation.

    Evidence wins over the model: when the service's `observed` availability
    is above the bound, its dependencies' failures are demonstrably absorbed
    (retries, fallbacks, caches), so the bound is not `binding` (it does not
    cap the tiers), `absorbed_failure_share` = 1 - (1 - observed) / (1 -
    bound), and each dependency that failed more than the service did is
    flagged `failures_absorbed`. A bound of 1 (no dependency with data)
    binds nothing either. `basis` maps a dependency to `edge` (measured on
    this service's calls) or `service` (its own availability)."""
    bound = ceiling.composite
    binding = bound_binds(bound=bound, observed=observed)
    absorbed = None
    if bound < 1.0 and not binding:
        absorbed = 1.0 - (1.0 - observed) / (1.0 - bound)
    rows = dependency_budget_shares(ceiling, target)
    for row in rows:
        row["availability_basis"] = basis.get(row["service_id"], "service") if row["availability"] is not None else None
        if not binding and row["availability"] is not None and row["availability"] < observed:
            row["flags"].append("failures_absorbed")
    bottleneck = ceiling.bottleneck
    return {
        "composite_availability_bound": round(bound, 8),
        "bottleneck_service": bottleneck.service_id if bottleneck else None,
        "binding": binding,
        "absorbed_failure_share": None if absorbed is None else round(absorbed, 6),
        "dependencies": rows,
    }
