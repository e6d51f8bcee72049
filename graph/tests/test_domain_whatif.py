"""What-if maths on hand-built graphs, checked against hand computation, and
the impact pass against a brute-force reference on random graphs (no DB)."""

import random

import networkx as nx
import pytest

from graph.domain.whatif import (
    Availabilities,
    HardSyncGraph,
    constraint_analysis,
    extra_nine_availability,
    impact_analysis,
    own_budget_minutes,
    required_availability,
)

# checkout calls a, b and c; a also calls b (b: two paths); c calls checkout
# back (c sits in a cycle with checkout).
THREE_DEPS = [("checkout", "a"), ("checkout", "b"), ("a", "b"), ("checkout", "c"), ("c", "checkout")]


def test_three_unique_dependencies_give_n_3_and_a_quarter_of_the_budget_each():
    graph = HardSyncGraph(THREE_DEPS)
    seen = Availabilities(service={"a": 0.9999, "b": 0.99995, "c": 0.9998, "checkout": 0.99})
    analysis = constraint_analysis(graph, service_id="checkout", target=0.999, availabilities=seen)

    assert [d.service_id for d in analysis.dependencies] == ["a", "b", "c"]
    assert [d.depth for d in analysis.dependencies] == [1, 1, 1]
    for dep in analysis.dependencies:
        assert dep.required_availability == pytest.approx(1 - (1 - 0.999) / 4, abs=1e-15)
        assert dep.extra_nine_availability == pytest.approx(0.9999, abs=1e-15)
        assert dep.meets_required is True
    # checkout's own availability is not a dependency of itself.
    assert analysis.dependency_bound == pytest.approx(0.9999 * 0.99995 * 0.9998, rel=1e-15)
    assert analysis.achievable
    assert analysis.own_budget_minutes == pytest.approx((0.9999 * 0.99995 * 0.9998 - 0.999) * 28 * 1440)
    assert analysis.warnings() == []


def test_a_cycle_of_two_dependencies_counts_once_at_its_weakest_member():
    graph = HardSyncGraph([("x", "a"), ("x", "b"), ("a", "b"), ("x", "c"), ("c", "d"), ("d", "c")])
    seen = Availabilities(service={"a": 0.999, "b": 0.9995, "c": 0.998, "d": 0.997})
    analysis = constraint_analysis(graph, service_id="x", target=0.996, availabilities=seen)

    assert [(d.service_id, d.members) for d in analysis.dependencies] == [
        ("a", ("a",)), ("b", ("b",)), ("d", ("c", "d")),
    ]
    assert analysis.dependencies[0].required_availability == pytest.approx(1 - 0.004 / 4)
    assert analysis.dependency_bound == pytest.approx(0.999 * 0.9995 * 0.997, rel=1e-15)
    assert not analysis.achievable
    # a sits exactly at its share (0.999) and b above it: only d blocks.
    assert [d.service_id for d in analysis.blocking] == ["d"]
    assert [d.meets_required for d in analysis.dependencies] == [True, True, False]
    assert analysis.own_budget_minutes == 0.0
    [warning] = analysis.warnings()
    assert "not achievable" in warning and "d (99.7%)" in warning and "a (" not in warning


def test_unachievable_target_names_every_dependency_below_its_share_weakest_first():
    graph = HardSyncGraph([("x", "a"), ("x", "b"), ("b", "c")])
    seen = Availabilities(service={"a": 0.9990, "b": 0.9999, "c": 0.9985})
    analysis = constraint_analysis(graph, service_id="x", target=0.9995, availabilities=seen)

    assert not analysis.achievable
    assert [d.service_id for d in analysis.blocking] == ["c", "a"]
    assert analysis.dependencies[2].depth == 2


def test_edge_basis_wins_over_the_service_basis_for_that_caller_only():
    graph = HardSyncGraph([("x", "a"), ("y", "a")])
    seen = Availabilities(service={"a": 0.995}, edge={("x", "a"): 0.998})
    for_x = constraint_analysis(graph, service_id="x", target=0.99, availabilities=seen)
    for_y = constraint_analysis(graph, service_id="y", target=0.99, availabilities=seen)

    assert (for_x.dependencies[0].availability, for_x.dependencies[0].availability_basis) == (0.998, "edge")
    assert (for_y.dependencies[0].availability, for_y.dependencies[0].availability_basis) == (0.995, "service")


def test_dependency_without_data_is_left_out_and_named():
    graph = HardSyncGraph([("x", "a"), ("x", "b")])
    analysis = constraint_analysis(graph, service_id="x", target=0.99, availabilities=Availabilities(
        service={"a": 0.999}))

    assert analysis.dependency_bound == pytest.approx(0.999)
    assert analysis.dependencies[1].meets_required is None
    assert analysis.without_data == ["b"]
    assert "no availability data for b" in analysis.warnings()[0]


def test_service_without_hard_dependencies_is_bounded_by_nothing():
    analysis = constraint_analysis(HardSyncGraph([("a", "b")]), service_id="lonely", target=0.9999,
                                   availabilities=Availabilities())
    assert (analysis.dependency_bound, analysis.achievable, analysis.dependencies) == (1.0, True, ())
    assert analysis.own_budget_minutes == pytest.approx((1 - 0.9999) * 28 * 1440)


@pytest.mark.parametrize("target", [0.5, 0.3, 1.0, 0.999995])
def test_target_out_of_range_is_refused(target):
    with pytest.raises(ValueError, match="target"):
        constraint_analysis(HardSyncGraph([]), service_id="x", target=target, availabilities=Availabilities())


def test_formulas():
    assert required_availability(0.999, 0) == pytest.approx(0.999)
    assert required_availability(0.99, 9) == pytest.approx(0.999)
    assert extra_nine_availability(0.995) == pytest.approx(0.9995)
    assert own_budget_minutes(target=0.999, bound=0.9995, window_days=30) == pytest.approx(21.6)


# payment <- x <- y <- z ; w -> payment and w -> x ; x <-> v (a cycle);
# y also needs m; r -> s lies elsewhere.
IMPACT_EDGES = [("x", "payment"), ("y", "x"), ("z", "y"), ("w", "payment"), ("w", "x"), ("x", "v"), ("v", "x"),
                ("y", "m"), ("r", "s")]
IMPACT_SEEN = {"payment": 0.999, "x": 0.9995, "y": 0.9999, "v": 0.998, "w": 0.9997, "z": 0.9998, "m": 0.999,
               "r": 0.99, "s": 0.99}


def test_impact_lists_exactly_the_hard_ancestors_with_bounds_recomputed_by_hand():
    rows = impact_analysis(HardSyncGraph(IMPACT_EDGES), service_id="payment", availability=0.995,
                           availabilities=Availabilities(service=IMPACT_SEEN))
    by_name = {row.service_id: row for row in rows}

    assert {name: row.depth for name, row in by_name.items()} == {"x": 1, "w": 1, "v": 2, "y": 2, "z": 3}
    # Each bound: the cycle {x, v} counts once at its weakest (v, or x for v itself).
    current = {
        "x": 0.998 * 0.999,
        "v": 0.9995 * 0.999,
        "w": 0.998 * 0.999,
        "y": 0.998 * 0.999 * 0.999,
        "z": 0.9999 * 0.998 * 0.999 * 0.999,
    }
    projected = {
        "x": 0.998 * 0.995,
        "v": 0.9995 * 0.995,
        "w": 0.998 * 0.995,
        "y": 0.998 * 0.995 * 0.999,
        "z": 0.9999 * 0.998 * 0.995 * 0.999,
    }
    for name, row in by_name.items():
        assert row.current_bound == pytest.approx(current[name], rel=1e-12), name
        assert row.projected_bound == pytest.approx(projected[name], rel=1e-12), name
    deltas = [row.delta for row in rows]
    assert deltas == sorted(deltas)


def test_impact_respects_max_depth():
    rows = impact_analysis(HardSyncGraph(IMPACT_EDGES), service_id="payment", availability=0.995,
                           availabilities=Availabilities(service=IMPACT_SEEN), max_depth=1)
    assert sorted(row.service_id for row in rows) == ["w", "x"]


def test_impact_of_a_service_inside_a_cycle_leaves_it_out_and_reaches_its_partner():
    rows = impact_analysis(HardSyncGraph(IMPACT_EDGES), service_id="v", availability=0.99,
                           availabilities=Availabilities(service=IMPACT_SEEN))
    by_name = {row.service_id: row for row in rows}
    assert set(by_name) == {"x", "w", "y", "z"}
    assert by_name["x"].projected_bound == pytest.approx(0.99 * 0.999)
    # w sees the unit {x, v} at its weakest: v, now 0.99.
    assert by_name["w"].projected_bound == pytest.approx(0.99 * 0.999)


def test_impact_of_an_improvement_on_a_service_without_data():
    seen = {k: v for k, v in IMPACT_SEEN.items() if k != "payment"}
    rows = impact_analysis(HardSyncGraph(IMPACT_EDGES), service_id="payment", availability=0.9999,
                           availabilities=Availabilities(service=seen))
    x = next(row for row in rows if row.service_id == "x")
    assert x.current_bound == pytest.approx(0.998)
    assert x.projected_bound == pytest.approx(0.998 * 0.9999)


def test_impact_projected_value_replaces_the_edge_basis_too():
    seen = Availabilities(service={"payment": 0.999}, edge={("x", "payment"): 0.9999})
    [row] = impact_analysis(HardSyncGraph([("x", "payment")]), service_id="payment", availability=0.99,
                            availabilities=seen)
    assert (row.current_bound, row.projected_bound) == (pytest.approx(0.9999), pytest.approx(0.99))


def test_no_callers_no_impact():
    assert impact_analysis(HardSyncGraph(IMPACT_EDGES), service_id="z", availability=0.9,
                           availabilities=Availabilities(service=IMPACT_SEEN)) == []
    assert impact_analysis(HardSyncGraph(IMPACT_EDGES), service_id="unknown", availability=0.9,
                           availabilities=Availabilities()) == []


def _reference_bound(graph: nx.DiGraph, caller: str, seen: Availabilities, override=None) -> float:
    """The bound by definition: every unique descendant, SCCs at their weakest."""
    components = {frozenset(c) for c in nx.strongly_connected_components(graph)}
    reach = nx.descendants(graph, caller)
    bound = 1.0
    for component in components:
        members = (component & reach) - {caller}
        if not members:
            continue
        values = []
        for m in members:
            value = override[1] if override and m == override[0] else seen.seen_by(caller, m)[0]
            if value is not None:
                values.append(value)
        if values:
            bound *= min(values)
    return bound


@pytest.mark.parametrize("seed", range(12))
def test_impact_matches_the_definition_on_random_cyclic_graphs(seed):
    rng = random.Random(seed)
    names = [f"s{i}" for i in range(60)]
    edges = {(rng.choice(names), rng.choice(names)) for _ in range(180)}
    edges = {(a, b) for a, b in edges if a != b}
    seen = Availabilities(
        service={n: rng.uniform(0.99, 1.0) for n in names if rng.random() > 0.1},
        edge={e: rng.uniform(0.99, 1.0) for e in edges if rng.random() < 0.2},
    )
    graph = HardSyncGraph(edges)
    reference = nx.DiGraph(list(edges))
    target = max(names, key=lambda n: reference.in_degree(n) if n in reference else -1)
    rows = impact_analysis(graph, service_id=target, availability=0.97, availabilities=seen, max_depth=4)

    expected = {n: d for n, d in nx.single_source_shortest_path_length(reference.reverse(), target, cutoff=4).items()
                if n != target}
    assert {row.service_id: row.depth for row in rows} == expected
    for row in rows:
        assert row.current_bound == pytest.approx(_reference_bound(reference, row.service_id, seen), rel=1e-9)
        assert row.projected_bound == pytest.approx(
            _reference_bound(reference, row.service_id, seen, override=(target, 0.97)), rel=1e-9)
        analysis = constraint_analysis(graph, service_id=row.service_id, target=0.9, availabilities=seen)
        assert analysis.dependency_bound == pytest.approx(row.current_bound, rel=1e-9)
