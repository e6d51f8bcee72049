"""What-if over the hard sync graph (DESIGN.md section 14): what a target
requires of a service's dependencies, and what one service's degradation (or
improvement) does to the dependency bound of everything upstream.

The bound of a service is the product of the availabilities of its unique
hard sync dependencies, direct and transitive, each counted once however many
paths reach it; a strongly connected component counts as one unit at its
weakest member ("The Calculus of Service Availability", Treynor et al.), so
cycles never loop. A member's availability is the one the service experiences
when the caller's own calls to it were measured (edge basis), else the
member's own (service basis); a member with no data is left out of the bound.

Pure Python, networkx and numpy: no Django.
"""

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from math import exp, log

import numpy as np

MINUTES_PER_DAY = 24 * 60
# Targets the analysis accepts: (0.5, 0.99999].
TARGET_MIN_EXCLUSIVE = 0.5
TARGET_MAX = 0.99999
# Rows of ancestors whose reach bits are unpacked at a time (bounds memory:
# a chunk costs CHUNK x components bytes).
_CHUNK = 256


@dataclass(frozen=True)
class Availabilities:
    """What the bound multiplies. `service`: each service's own availability;
    `edge`: (caller, dependency) -> the availability the caller experiences
    of that dependency, where measured. A missing entry means no data."""

    service: Mapping[str, float] = field(default_factory=dict)
    edge: Mapping[tuple[str, str], float] = field(default_factory=dict)

    def seen_by(self, caller: str | None, dependency: str) -> tuple[float | None, str | None]:
        """(availability of `dependency` as `caller` experiences it, basis);
        no caller: the service basis only."""
        value = self.edge.get((caller, dependency)) if caller is not None else None
        if value is not None:
            return value, "edge"
        value = self.service.get(dependency)
        if value is not None:
            return value, "service"
        return None, None


class HardSyncGraph:
    """The effective hard sync edges (caller -> dependency) with their strongly
    connected components condensed once. Services are numbered, adjacency is
    kept in lists and the components come from an iterative Tarjan pass, so a
    25,000-edge graph is ready in tens of milliseconds."""

    def __init__(self, edges: Iterable[tuple[str, str]]):
        # Number the services in order of appearance; pairs deduplicated.
        pairs = {(caller, dependency) for caller, dependency in edges if caller != dependency}
        index: dict[str, int] = {}
        for caller, dependency in pairs:
            index.setdefault(caller, len(index))
            index.setdefault(dependency, len(index))
        self.index = index
        self.names: list[str] = list(index)
        self.out: list[list[int]] = [[] for _ in self.names]
        self.into: list[list[int]] = [[] for _ in self.names]
        for caller, dependency in pairs:
            a, b = index[caller], index[dependency]
            self.out[a].append(b)
            self.into[b].append(a)
        self.edge_count = len(pairs)
        component_of_index = self._components()
        self.component_of: dict[str, int] = dict(zip(self.names, component_of_index, strict=True))
        count = max(component_of_index, default=-1) + 1
        members: list[list[str]] = [[] for _ in range(count)]
        successors: list[set[int]] = [set() for _ in range(count)]
        for i, name in enumerate(self.names):
            own = component_of_index[i]
            members[own].append(name)
            targets = successors[own]
            for j in self.out[i]:
                other = component_of_index[j]
                if other != own:
                    targets.add(other)
        self.members: list[tuple[str, ...]] = [tuple(sorted(m)) for m in members]
        self.successors: list[list[int]] = [sorted(s) for s in successors]
        # Tarjan completes a component after every component it reaches, so
        # numbering in completion order puts dependencies first; callers
        # come first in the topological order.
        self.topological_position: list[int] = [count - 1 - c for c in range(count)]

    def _components(self) -> list[int]:
        """Tarjan's strongly connected components, iteratively (no recursion
        limit on long chains): the component number of each service."""
        size = len(self.names)
        order = [-1] * size
        low = [0] * size
        component = [-1] * size
        on_stack = [False] * size
        stack: list[int] = []
        counter = 0
        components = 0
        for root in range(size):
            if order[root] != -1:
                continue
            work = [(root, 0)]
            order[root] = low[root] = counter
            counter += 1
            stack.append(root)
            on_stack[root] = True
            while work:
                node, position = work[-1]
                neighbours = self.out[node]
                if position < len(neighbours):
                    work[-1] = (node, position + 1)
                    nxt = neighbours[position]
                    if order[nxt] == -1:
                        order[nxt] = low[nxt] = counter
                        counter += 1
                        stack.append(nxt)
                        on_stack[nxt] = True
                        work.append((nxt, 0))
                    elif on_stack[nxt]:
                        low[node] = min(low[node], order[nxt])
                    continue
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == order[node]:
                    while True:
                        member = stack.pop()
                        on_stack[member] = False
                        component[member] = components
                        if member == node:
                            break
                    components += 1
        return component

    def __contains__(self, service_id: str) -> bool:
        return service_id in self.index

    @property
    def services(self) -> list[str]:
        return list(self.names)

    def edges(self) -> list[tuple[str, str]]:
        """Every (caller, dependency) pair, sorted."""
        return sorted((self.names[a], self.names[b]) for a, targets in enumerate(self.out) for b in targets)

    def direct_dependencies(self, service_id: str) -> list[str]:
        number = self.index.get(service_id)
        return [] if number is None else sorted(self.names[b] for b in self.out[number])

    def direct_callers(self, service_id: str) -> list[str]:
        number = self.index.get(service_id)
        return [] if number is None else sorted(self.names[a] for a in self.into[number])

    def reachable_components(self, starts: Iterable[int]) -> set[int]:
        """The components reachable from `starts` (included)."""
        seen = set(starts)
        stack = list(seen)
        while stack:
            for nxt in self.successors[stack.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        return seen

    def hops(self, service_id: str, *, upstream: bool, max_depth: int | None = None) -> dict[str, int]:
        """Fewest hops from `service_id` to each service it reaches through
        hard sync edges (downstream: what it depends on; upstream: what
        depends on it), within `max_depth`; the start itself is left out."""
        start = self.index.get(service_id)
        if start is None:
            return {}
        neighbours = self.into if upstream else self.out
        depth = {start: 0}
        queue = deque([start])
        while queue:
            node = queue.popleft()
            if max_depth is not None and depth[node] >= max_depth:
                continue
            for nxt in neighbours[node]:
                if nxt not in depth:
                    depth[nxt] = depth[node] + 1
                    queue.append(nxt)
        del depth[start]
        return {self.names[node]: hops for node, hops in depth.items()}

    def unit_availability(
        self, caller: str | None, component: int, availabilities: Availabilities,
        override: tuple[str, float] | None = None,
    ) -> tuple[float | None, str | None, str | None]:
        """The unit `component` as `caller` sees it: (availability of its
        weakest member, that member, basis), `caller` itself left out of its
        own component. `override` = (service, availability) replaces what is
        known of that one service on every basis. No caller: every member on
        the service basis. (None, None, None) when no member has data or the
        unit is the caller alone."""
        worst: tuple[float, str, str] | None = None
        for member in self.members[component]:
            if member == caller:
                continue
            if override is not None and member == override[0]:
                value, basis = override[1], "projected"
            else:
                value, basis = availabilities.seen_by(caller, member)
            if value is not None and (worst is None or (value, member) < worst[:2]):
                worst = (value, member, basis)
        return worst if worst is not None else (None, None, None)


@dataclass(frozen=True)
class DependencyRequirement:
    """One unit of a constraint analysis: a dependency, or a cycle of them
    named by its weakest member."""

    service_id: str
    members: tuple[str, ...]
    depth: int
    availability: float | None
    availability_basis: str | None
    required_availability: float
    extra_nine_availability: float

    @property
    def meets_required(self) -> bool | None:
        if self.availability is None:
            return None
        return self.availability >= self.required_availability


@dataclass(frozen=True)
class ConstraintAnalysis:
    service_id: str
    target: float
    window_days: int
    dependency_bound: float
    own_budget_minutes: float
    dependencies: tuple[DependencyRequirement, ...]

    @property
    def achievable(self) -> bool:
        return self.dependency_bound >= self.target

    @property
    def blocking(self) -> list[DependencyRequirement]:
        """The dependencies that make the target unachievable: those below
        their equal share, weakest first. When the bound is below the target
        at least one is (N units all at 1 - b/(N+1) multiply to more than
        1 - b), so this list is never empty then."""
        if self.achievable:
            return []
        short = [d for d in self.dependencies if d.meets_required is False]
        return sorted(short, key=lambda d: (d.availability, d.service_id))

    @property
    def without_data(self) -> list[str]:
        return [d.service_id for d in self.dependencies if d.availability is None]

    def warnings(self) -> list[str]:
        """Sentences for the operator: why the target is out of reach, and
        which dependencies the bound could not count."""
        messages = []
        if not self.achievable:
            named = ", ".join(f"{d.service_id} ({_percent(d.availability)})" for d in self.blocking)
            messages.append(
                f"{_percent(self.target)} is not achievable for {self.service_id}: its hard sync dependencies "
                f"bound it at {_percent(self.dependency_bound)}; below their equal share of "
                f"{_percent(self.dependencies[0].required_availability)}: {named}"
            )
        if self.without_data:
            messages.append(
                "no availability data for " + ", ".join(self.without_data) + ": left out of the bound, "
                "which may therefore be optimistic"
            )
        return messages


def _percent(value: float) -> str:
    return f"{value * 100:.4g}%"


def required_availability(target: float, units: int) -> float:
    """The equal split of the error budget between the service and its
    `units` unique hard dependencies: 1 - (1 - target) / (units + 1)."""
    return 1.0 - (1.0 - target) / (units + 1)


def extra_nine_availability(target: float) -> float:
    """The rule of the extra nine: a dependency ten times as reliable as the
    target, 1 - (1 - target) / 10."""
    return 1.0 - (1.0 - target) / 10.0


def own_budget_minutes(*, target: float, bound: float, window_days: int) -> float:
    """Minutes of the window left for the service's own outages once its
    dependencies have spent theirs: (bound - target) x window, never below 0."""
    return max(0.0, bound - target) * window_days * MINUTES_PER_DAY


def constraint_analysis(
    graph: HardSyncGraph, *, service_id: str, target: float, availabilities: Availabilities, window_days: int = 28,
) -> ConstraintAnalysis:
    """What `service_id`'s hard sync dependencies must provide for `target`
    over a `window_days` window: the bound they set, each unit's required
    (equal split) and extra-nine availability. Raises ValueError for a
    target outside (0.5, 0.99999]."""
    if not TARGET_MIN_EXCLUSIVE < target <= TARGET_MAX:
        raise ValueError(f"target must be in ({TARGET_MIN_EXCLUSIVE}, {TARGET_MAX}]")
    units: list[tuple[int, float | None, str | None, str | None]] = []
    if service_id in graph:
        own = graph.component_of[service_id]
        for component in sorted(graph.reachable_components([own])):
            if graph.members[component] == (service_id,):
                continue
            units.append((component, *graph.unit_availability(service_id, component, availabilities)))
    depth = graph.hops(service_id, upstream=False)
    required = required_availability(target, len(units))
    extra_nine = extra_nine_availability(target)
    rows = []
    bound = 1.0
    for component, value, weakest, basis in units:
        members = tuple(m for m in graph.members[component] if m != service_id)
        if value is not None:
            bound *= value
        rows.append(DependencyRequirement(
            service_id=weakest or members[0], members=members, depth=min(depth[m] for m in members),
            availability=value, availability_basis=basis, required_availability=required,
            extra_nine_availability=extra_nine,
        ))
    rows.sort(key=lambda r: (r.depth, r.service_id))
    return ConstraintAnalysis(
        service_id=service_id, target=target, window_days=window_days, dependency_bound=bound,
        own_budget_minutes=own_budget_minutes(target=target, bound=bound, window_days=window_days),
        dependencies=tuple(rows),
    )


@dataclass(frozen=True)
class ImpactRow:
    service_id: str
    depth: int
    current_bound: float
    projected_bound: float

    @property
    def delta(self) -> float:
        return self.projected_bound - self.current_bound


def _log(value: float | None) -> float:
    """Log of a unit's availability; a unit without data multiplies by 1.
    A unit at 0 is clamped so the bound comes out as 0.0, not an error."""
    if value is None:
        return 0.0
    return log(max(value, 1e-300))


def _byte_tables(log_values: np.ndarray) -> np.ndarray:
    """For bitsets packed 8 components a byte (most significant bit first,
    as np.packbits): table[j, b] = the sum of `log_values` over the
    components whose bits are set in byte value b at byte position j. A
    row's sum is then one gather per byte instead of one term per bit."""
    width = (log_values.size + 7) // 8
    padded = np.zeros(width * 8)
    padded[:log_values.size] = log_values
    bits = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1).astype(float)  # (256, 8)
    return (bits @ padded.reshape(width, 8).T).T  # (width, 256)


def impact_analysis(
    graph: HardSyncGraph, *, service_id: str, availability: float, availabilities: Availabilities,
    max_depth: int = 10,
) -> list[ImpactRow]:
    """Every service that depends on `service_id` through hard sync edges,
    within `max_depth` hops upstream, with its bound now and its bound were
    `service_id` to run at `availability` (on every basis), sorted by delta
    (most harmed first), then depth and service_id.

    The bounds of all impacted services come from one pass: the reach of
    each component as a bitset (sinks first, a component's reach is its own
    bit or-ed with its successors'), then the sum of the components'
    log-availabilities over each bitset, read from per-byte tables. A
    caller's own component (itself left out) and the units it sees on an
    edge basis are corrected one by one, so the cost is
    O(edges x components / 8) plus O(edges)."""
    ancestors = graph.hops(service_id, upstream=True, max_depth=max_depth)
    if not ancestors:
        return []
    names = sorted(ancestors)
    starts = {graph.component_of[name] for name in names}
    reached = sorted(graph.reachable_components(starts), key=lambda c: graph.topological_position[c])
    index = {component: i for i, component in enumerate(reached)}
    size = len(reached)
    reach = np.zeros((size, (size + 7) // 8), dtype=np.uint8)
    for component in reversed(reached):  # sinks first
        row = index[component]
        successors = [index[s] for s in graph.successors[component]]
        if len(successors) == 1:
            reach[row] = reach[successors[0]]
        elif successors:
            np.bitwise_or.reduce(reach[successors], axis=0, out=reach[row])
        reach[row, row >> 3] |= np.uint8(0x80 >> (row & 7))

    # Each component at its weakest member on the service basis; a caller's
    # view differs only for its own component and its edge-basis units.
    log_base = np.array([_log(graph.unit_availability(None, c, availabilities)[0]) for c in reached])
    tables = _byte_tables(log_base)
    byte_positions = np.arange(reach.shape[1])

    edge_units: dict[str, set[int]] = {}
    for caller, dependency in availabilities.edge:
        if caller in ancestors and dependency in graph:
            edge_units.setdefault(caller, set()).add(graph.component_of[dependency])

    target_component = graph.component_of[service_id]
    target_alone = len(graph.members[target_component]) == 1
    projected_log = _log(availability)
    rows = []
    for start in range(0, len(names), _CHUNK):
        chunk = names[start:start + _CHUNK]
        packed = reach[[index[graph.component_of[n]] for n in chunk]]
        sums = tables[byte_positions, packed].sum(axis=1)
        for name, total in zip(chunk, sums.tolist(), strict=True):
            own = graph.component_of[name]
            corrections = edge_units.get(name)
            if len(graph.members[own]) == 1 and not corrections:
                total -= log_base[index[own]]  # alone in its component: it is no dependency of itself
            else:
                for component in {own, *(corrections or ())}:
                    seen = graph.unit_availability(name, component, availabilities)[0]
                    total += _log(seen) - log_base[index[component]]
            if target_alone:  # the usual case: the degraded service is in no cycle
                current_unit = availabilities.seen_by(name, service_id)[0]
                projected_unit = availability
            else:
                current_unit = graph.unit_availability(name, target_component, availabilities)[0]
                projected_unit = graph.unit_availability(
                    name, target_component, availabilities, override=(service_id, availability))[0]
            projected = total - _log(current_unit) + (projected_log if target_alone else _log(projected_unit))
            rows.append(ImpactRow(service_id=name, depth=ancestors[name], current_bound=exp(total),
                                  projected_bound=exp(projected)))
    rows.sort(key=lambda r: (r.delta, r.depth, r.service_id))
    return rows
