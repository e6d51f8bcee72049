"""Circular-dependency detection (DESIGN.md section 7). Pure Python: no Django.

Strongly connected components of the effective, non-stale graph locate every
node that sits on some cycle; simple cycles are then enumerated only inside
the non-trivial components, with a length bound and a cap per component,
because a dense component can hold exponentially many cycles. Each cycle is
reported once, in canonical form: rotated to start at its smallest
service_id, the first node not repeated at the end.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import islice

import networkx as nx


@dataclass(frozen=True)
class TruncatedComponent:
    """A component that held more cycles than the cap: only `listed` are reported."""

    services: tuple[str, ...]
    listed: int

    @property
    def size(self) -> int:
        return len(self.services)


@dataclass(frozen=True)
class CycleDetection:
    """What detection found.

    `cycles`: every canonical cycle, sorted; `components`: the non-trivial
    strongly connected components (each sorted, the list sorted);
    `component_size`: for each cycle, the size of the component holding it;
    `truncated`: the components whose enumeration hit the cap.
    """

    cycles: list[tuple[str, ...]]
    components: list[tuple[str, ...]]
    component_size: dict[tuple[str, ...], int] = field(default_factory=dict)
    truncated: list[TruncatedComponent] = field(default_factory=list)
    nodes: int = 0
    edges: int = 0


def canonical_cycle(path: Sequence[str]) -> tuple[str, ...]:
    """Rotate a cycle to start at its smallest service_id.

    Accepts the cycle with or without its first node repeated at the end
    (`[b, c, a]` or `[b, c, a, b]`); direction is kept, since a → b → a and
    b → a → b are the same cycle but a → b → c → a and a → c → b → a are not.
    """
    nodes = list(path)
    if len(nodes) > 1 and nodes[0] == nodes[-1]:
        nodes.pop()
    if not nodes:
        raise ValueError("a cycle has at least one node")
    start = nodes.index(min(nodes))
    return tuple(nodes[start:] + nodes[:start])


def build_graph(edges: Iterable[tuple[str, str]]) -> nx.DiGraph:
    """A DiGraph from (source, target) pairs; repeated pairs collapse."""
    graph = nx.DiGraph()
    graph.add_edges_from(edges)
    return graph


def nontrivial_components(graph: nx.DiGraph) -> list[tuple[str, ...]]:
    """Strongly connected components that contain a cycle: two or more nodes,
    or one node with a self-loop. Each is sorted; the list is sorted."""
    components = []
    for component in nx.strongly_connected_components(graph):
        if len(component) > 1:
            components.append(tuple(sorted(component)))
        else:
            (node,) = component
            if graph.has_edge(node, node):
                components.append((node,))
    components.sort()
    return components


def detect_cycles(edges: Iterable[tuple[str, str]], *, max_length: int, max_per_component: int) -> CycleDetection:
    """Find the simple cycles of the graph made of `edges`.

    `edges` are the (source, target) pairs of the effective, non-stale graph
    (the caller drops stale and retired edges). Cycles longer than
    `max_length` nodes are not enumerated; at most `max_per_component` cycles
    are reported per component, and a component with more is listed in
    `truncated`. The enumeration is deterministic: the subgraph is built in
    sorted order, so the same graph always yields the same capped subset.
    """
    if max_length < 1 or max_per_component < 1:
        raise ValueError("max_length and max_per_component must be positive")
    graph = build_graph(edges)
    components = nontrivial_components(graph)
    found: set[tuple[str, ...]] = set()
    component_size: dict[tuple[str, ...], int] = {}
    truncated: list[TruncatedComponent] = []
    for component in components:
        subgraph = nx.DiGraph()
        subgraph.add_nodes_from(component)
        members = set(component)
        subgraph.add_edges_from(
            (source, target)
            for source in component
            for target in sorted(graph.successors(source))
            if target in members
        )
        # One more than the cap tells a component that merely reached the cap
        # from one that has more cycles.
        enumerated = list(
            islice(nx.simple_cycles(subgraph, length_bound=max_length), max_per_component + 1)
        )
        if len(enumerated) > max_per_component:
            enumerated = enumerated[:max_per_component]
            truncated.append(TruncatedComponent(services=component, listed=max_per_component))
        for cycle in enumerated:
            canonical = canonical_cycle(cycle)
            found.add(canonical)
            component_size[canonical] = len(component)
    return CycleDetection(
        cycles=sorted(found),
        components=components,
        component_size=component_size,
        truncated=truncated,
        nodes=graph.number_of_nodes(),
        edges=graph.number_of_edges(),
    )
