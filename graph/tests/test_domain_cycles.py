"""Cycle detection on hand-made graphs, checked against what networkx reports."""

from datetime import UTC, datetime

import networkx as nx
import pytest

from graph.domain.cycles import canonical_cycle, detect_cycles, nontrivial_components
from graph.domain.merge import EdgeRecord, merge_records


def networkx_cycles(edges, *, max_length=None) -> set[tuple[str, ...]]:
    """Every simple cycle of the graph per networkx, canonicalised."""
    graph = nx.DiGraph(edges)
    return {canonical_cycle(c) for c in nx.simple_cycles(graph, length_bound=max_length)}


def networkx_components(edges) -> list[tuple[str, ...]]:
    graph = nx.DiGraph(edges)
    return sorted(tuple(sorted(c)) for c in nx.strongly_connected_components(graph) if len(c) > 1)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (["c", "a", "b"], ("a", "b", "c")),
        (["b", "c", "a", "b"], ("a", "b", "c")),
        (["b", "a"], ("a", "b")),
        (["a", "c", "b"], ("a", "c", "b")),  # direction is kept: not the same cycle as a → b → c
        (["solo"], ("solo",)),
    ],
)
def test_canonical_cycle_rotates_to_the_smallest_service_and_drops_the_repeated_node(path, expected):
    assert canonical_cycle(path) == expected


def test_canonical_cycle_rejects_an_empty_path():
    with pytest.raises(ValueError):
        canonical_cycle([])


def test_self_contained_two_cycles_are_each_reported_once():
    edges = [
        ("checkout", "payment"), ("payment", "checkout"),
        ("search", "catalog"), ("catalog", "search"),
        ("frontend", "checkout"), ("frontend", "search"),  # feed the cycles, are not on them
    ]

    detection = detect_cycles(edges, max_length=10, max_per_component=100)

    assert detection.cycles == [("catalog", "search"), ("checkout", "payment")]
    assert set(detection.cycles) == networkx_cycles(edges)
    assert detection.components == networkx_components(edges) == [("catalog", "search"), ("checkout", "payment")]
    assert detection.component_size == {("catalog", "search"): 2, ("checkout", "payment"): 2}
    assert detection.truncated == []
    assert (detection.nodes, detection.edges) == (5, 6)


def test_overlapping_cycles_sharing_nodes_are_all_found_in_one_component():
    # a → b → a, a → b → c → a and b → c → d → b overlap on a, b and c.
    edges = [("a", "b"), ("b", "a"), ("b", "c"), ("c", "a"), ("c", "d"), ("d", "b"), ("d", "e")]

    detection = detect_cycles(edges, max_length=10, max_per_component=100)

    assert detection.cycles == [("a", "b"), ("a", "b", "c"), ("b", "c", "d")]
    assert set(detection.cycles) == networkx_cycles(edges)
    assert detection.components == networkx_components(edges) == [("a", "b", "c", "d")]
    assert set(detection.component_size.values()) == {4}


def test_repeated_pairs_from_several_sources_do_not_duplicate_cycles():
    edges = [("a", "b"), ("b", "a"), ("a", "b"), ("b", "a")]

    assert detect_cycles(edges, max_length=10, max_per_component=100).cycles == [("a", "b")]


def test_the_length_bound_skips_long_cycles_but_keeps_their_component():
    ring = [(f"n{i}", f"n{(i + 1) % 6}") for i in range(6)]  # one 6-node cycle
    edges = [*ring, ("n0", "n1"), ("x", "y"), ("y", "x")]

    detection = detect_cycles(edges, max_length=5, max_per_component=100)

    assert detection.cycles == [("x", "y")]
    assert set(detection.cycles) == networkx_cycles(edges, max_length=5)
    assert ("n0", "n1", "n2", "n3", "n4", "n5") in detection.components


def test_a_large_component_is_capped_and_reported_as_truncated():
    # A complete digraph on 7 nodes holds 1,172 simple cycles: far over the cap.
    nodes = [f"svc-{i}" for i in range(7)]
    edges = [(s, t) for s in nodes for t in nodes if s != t]
    all_cycles = networkx_cycles(edges)
    assert len(all_cycles) > 1000

    detection = detect_cycles(edges, max_length=10, max_per_component=25)

    assert len(detection.cycles) == 25
    assert set(detection.cycles) <= all_cycles
    assert detection.components == networkx_components(edges)
    assert len(detection.truncated) == 1
    assert detection.truncated[0].services == tuple(nodes)
    assert (detection.truncated[0].size, detection.truncated[0].listed) == (7, 25)
    # Same graph, same capped subset: alerts do not churn between runs.
    assert detect_cycles(reversed(edges), max_length=10, max_per_component=25).cycles == detection.cycles


def test_a_component_with_exactly_the_cap_is_not_truncated():
    edges = [("a", "b"), ("b", "a"), ("b", "c"), ("c", "b")]  # two cycles in one component

    detection = detect_cycles(edges, max_length=10, max_per_component=2)

    assert detection.cycles == [("a", "b"), ("b", "c")]
    assert detection.truncated == []


def test_a_stale_edge_breaks_a_cycle():
    observed = datetime(2025, 1, 1, tzinfo=UTC)
    records = [
        EdgeRecord("api", "auth", "manual", last_observed_at=observed),
        EdgeRecord("auth", "users", "otel_service_graph", confidence_score=0.6, last_observed_at=observed),
        # users → api is claimed by two sources; only the stale one would close api → auth → users → api.
        EdgeRecord("users", "api", "otel_service_graph", is_stale=True, last_observed_at=observed),
        EdgeRecord("users", "api", "kubernetes", is_stale=True, last_observed_at=observed),
        EdgeRecord("users", "auth", "manual", last_observed_at=observed),
    ]
    all_pairs = [(r.source, r.target) for r in records]
    live_pairs = [(e.source, e.target) for e in merge_records(records)]

    with_stale = detect_cycles(all_pairs, max_length=10, max_per_component=100)
    live = detect_cycles(live_pairs, max_length=10, max_per_component=100)

    assert with_stale.cycles == [("api", "auth", "users"), ("auth", "users")]
    assert live.cycles == [("auth", "users")]
    assert set(live.cycles) == networkx_cycles(live_pairs)
    assert live.components == networkx_components(live_pairs) == [("auth", "users")]


def test_a_self_loop_is_a_one_node_cycle():
    graph = nx.DiGraph([("a", "a"), ("a", "b")])

    assert nontrivial_components(graph) == [("a",)]
    assert detect_cycles([("a", "a"), ("a", "b")], max_length=10, max_per_component=10).cycles == [("a",)]


def test_an_acyclic_graph_has_no_cycles():
    detection = detect_cycles([("a", "b"), ("b", "c"), ("a", "c")], max_length=10, max_per_component=10)

    assert (detection.cycles, detection.components, detection.truncated) == ([], [], [])


def test_bounds_must_be_positive():
    with pytest.raises(ValueError):
        detect_cycles([], max_length=0, max_per_component=10)
