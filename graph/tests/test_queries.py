"""The traversal SQL: one recursive CTE, identical on PostgreSQL and SQLite,
checked against networkx on a cyclic graph with several sources per edge."""

import random
import sqlite3

import networkx as nx
import pytest
from django.db.backends.sqlite3._functions import register as register_sqlite_functions

from graph.domain.merge import noisy_or
from graph.models import Service
from graph.queries import subgraph, subgraph_from_rows, subgraph_params, subgraph_sql
from graph.services.ingest import graph_ingest

SOURCES = ("manual", "otel_service_graph", "backstage")


def random_records(seed: int = 3, services: int = 40, edges: int = 120) -> list[tuple[str, str, str, float, bool]]:
    """(source, target, discovery_source, confidence, stale) with cycles and repeated pairs."""
    rng = random.Random(seed)
    names = [f"s{i:02d}" for i in range(services)]
    records = {}
    while len(records) < edges:
        a, b = rng.sample(names, 2)
        source = rng.choice(SOURCES)
        records[(a, b, source)] = (round(rng.uniform(0.1, 1.0), 2), rng.random() < 0.1)
    return [(a, b, s, c, stale) for (a, b, s), (c, stale) in sorted(records.items())]


def reference(records, start, direction, depth, include_stale, min_confidence) -> tuple[dict, set]:
    confidences: dict[tuple[str, str], list[float]] = {}
    for a, b, _, confidence, stale in records:
        if include_stale or not stale:
            confidences.setdefault((a, b), []).append(confidence)
    graph = nx.DiGraph(pair for pair, cs in confidences.items() if noisy_or(cs) >= min_confidence - 1e-9)
    graph.add_node(start)
    depths: dict[str, int] = {}
    edges: set = set()
    if direction in ("downstream", "both"):
        down = nx.single_source_shortest_path_length(graph, start, cutoff=depth)
        depths.update(down)
        edges |= {(u, v) for u, v in graph.edges if u in down and down[u] < depth and v in down}
    if direction in ("upstream", "both"):
        up = nx.single_source_shortest_path_length(graph.reverse(), start, cutoff=depth)
        for node, hops in up.items():
            depths[node] = min(hops, depths.get(node, hops))
        edges |= {(u, v) for u, v in graph.edges if v in up and up[v] < depth and u in up}
    depths.pop(start, None)
    return depths, edges


CASES = [
    (start, direction, depth, include_stale, min_confidence)
    for start in ("s00", "s07", "s19")
    for direction in ("downstream", "upstream", "both")
    for depth in (1, 2, 4, 10)
    for include_stale, min_confidence in ((False, 0.0), (True, 0.0), (False, 0.6), (True, 0.95))
]


@pytest.fixture
def stored_records(db):
    records = random_records()
    for source in SOURCES:
        edges = [{"source": a, "target": b, "attributes": {"confidence_score": c}}
                 for a, b, s, c, _ in records if s == source]
        graph_ingest(source=source, nodes=[], edges=edges)
    from graph.models import ServiceDependency

    for a, b, s, _, stale in records:
        if stale:
            ServiceDependency.objects.filter(source__service_id=a, target__service_id=b,
                                             discovery_source=s).update(is_stale=True)
    return records


def test_postgresql_walks_match_networkx(stored_records):
    for start, direction, depth, include_stale, min_confidence in CASES:
        result = subgraph(service_id=start, direction=direction, depth=depth, include_stale=include_stale,
                          min_confidence=min_confidence)
        depths, edges = reference(stored_records, start, direction, depth, include_stale, min_confidence)
        case = (start, direction, depth, include_stale, min_confidence)
        assert {n.service_id: n.depth for n in result.nodes} == depths, case
        assert {(e.source, e.target) for e in result.edges} == edges, case


def test_retired_services_are_not_walked_through(stored_records):
    before = {n.service_id for n in subgraph(service_id="s00", depth=10).nodes}
    hub = sorted(before)[0]
    Service.objects.filter(service_id=hub).update(retired_at="2025-01-01T00:00:00Z")
    after = subgraph(service_id="s00", depth=10)
    assert hub not in {n.service_id for n in after.nodes}
    assert all(hub not in (e.source, e.target) for e in after.edges)


def test_certain_record_makes_pair_certain(db):
    graph_ingest(source="manual", nodes=[], edges=[{"source": "a", "target": "b", "attributes": {}}])
    graph_ingest(source="otel_service_graph", nodes=[],
                 edges=[{"source": "a", "target": "b", "attributes": {"confidence_score": 0.2}}])
    result = subgraph(service_id="a", depth=1, min_confidence=1.0)
    assert [(e.source, e.target, e.confidence_score) for e in result.edges] == [("a", "b", 1.0)]


def _sqlite_database(records) -> sqlite3.Connection:
    """The two tables the SQL reads, with the columns it uses, in SQLite."""
    conn = sqlite3.connect(":memory:")
    register_sqlite_functions(conn)  # LN/EXP where SQLite lacks its math extension, as Django does
    conn.executescript("""
        CREATE TABLE graph_service (id char(32) PRIMARY KEY, service_id varchar(128) UNIQUE,
                                    criticality varchar(16), team varchar(128), retired_at datetime NULL);
        CREATE TABLE graph_servicedependency (
            id integer PRIMARY KEY, source_id char(32), target_id char(32), discovery_source varchar(32),
            communication_mode varchar(8), criticality varchar(16), protocol varchar(64), timeout_ms integer,
            confidence_score real, is_stale bool, request_rate real, failure_ratio real);
    """)
    names = sorted({a for a, *_ in records} | {b for _, b, *_ in records})
    conn.executemany("INSERT INTO graph_service VALUES (?, ?, 'medium', 'team', NULL)",
                     [(f"id-{n}", n) for n in names])
    conn.executemany(
        "INSERT INTO graph_servicedependency (source_id, target_id, discovery_source, communication_mode, "
        "criticality, protocol, timeout_ms, confidence_score, is_stale) "
        "VALUES (?, ?, ?, 'sync', 'hard', '', NULL, ?, ?)",
        [(f"id-{a}", f"id-{b}", s, c, stale) for a, b, s, c, stale in records],
    )
    return conn


def test_the_same_sql_runs_on_sqlite():
    records = random_records()
    conn = _sqlite_database(records)
    for start, direction, depth, include_stale, min_confidence in CASES:
        filter_confidence = min_confidence > 0
        sql = subgraph_sql(direction=direction, include_stale=include_stale, filter_confidence=filter_confidence)
        params = subgraph_params(service_id=start, direction=direction, depth=depth,
                                 filter_confidence=filter_confidence, min_confidence=min_confidence)
        rows = conn.execute(sql.replace("%s", "?"), params).fetchall()
        result = subgraph_from_rows(rows, service_id=start, direction=direction, depth=depth,
                                    min_confidence=min_confidence)
        depths, edges = reference(records, start, direction, depth, include_stale, min_confidence)
        case = (start, direction, depth, include_stale, min_confidence)
        assert {n.service_id: n.depth for n in result.nodes} == depths, case
        assert {(e.source, e.target) for e in result.edges} == edges, case
