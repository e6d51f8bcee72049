"""Raw SQL of the graph app: the subgraph traversal (DESIGN.md section 6).

One recursive CTE per query, identical on PostgreSQL and SQLite. The walk's
rows are (node, depth) pairs combined with UNION, so duplicates collapse and
a walk has at most nodes x depth rows even on a cyclic graph; paths are never
enumerated. Parameters are always bound; the only text spliced into the SQL is
chosen from the constant fragments below.
"""

import json
from dataclasses import dataclass, field

from django.db import connection

from graph.domain.merge import SOURCE_PRIORITY, EdgeRecord, EffectiveEdge, merge_pair
from graph.models import ServiceDependency

DIRECTIONS = ("downstream", "upstream", "both")

# Floating tolerance between the SQL noisy-OR (EXP of a sum of logs) and the
# Python one (a product), so both agree on which pairs meet min_confidence.
CONFIDENCE_TOLERANCE = 1e-9

# Per walk: which column joins the frontier and which one is the next node.
# Retired services are few, so the walk tests the next node against that small
# set (hashed once per query) instead of looking up each visited service.
# Downstream joins on source_id (index dependency_fwd_live_idx on
# (source, target) WHERE NOT is_stale), upstream on target_id
# (dependency_rev_live_idx on (target, source) WHERE NOT is_stale).
_WALKS = {
    "downstream": ("down", "source_id", "target_id"),
    "upstream": ("up", "target_id", "source_id"),
}

_LIVE_ONLY = "AND {alias}.is_stale = FALSE"

# The merged confidence of the pair that record `d` belongs to: noisy-OR
# 1 - prod(1 - c) computed as 1 - exp(sum(ln(1 - c))); a record with c = 1
# makes the pair certain and adds ln(1) = 0 to the sum, because aggregates are
# evaluated before CASE and ln(0) is an error.
# Uses the unique index (source, target, discovery_source).
_CONFIDENCE_FILTER = """
          AND (SELECT CASE WHEN MAX(c.confidence_score) >= 1 THEN 1.0
                           ELSE 1 - EXP(SUM(LN(CASE WHEN c.confidence_score >= 1 THEN 1
                                                       ELSE 1 - c.confidence_score END))) END
               FROM graph_servicedependency c
               WHERE c.source_id = d.source_id AND c.target_id = d.target_id {live_c}) >= %s"""

_WALK_CTE = """
    {name}(node, depth) AS (
        SELECT s.id, 0 FROM graph_service s WHERE s.service_id = %s AND s.retired_at IS NULL
      UNION
        SELECT d.{next_col}, w.depth + 1
        FROM {name} w
        JOIN graph_servicedependency d ON d.{join_col} = w.node
        WHERE w.depth < %s {live_d}{confidence}
          AND d.{next_col} NOT IN (SELECT r.id FROM graph_service r WHERE r.retired_at IS NOT NULL)
    ),
    {name}_nodes(node, depth) AS (
        SELECT node, MIN(depth) FROM {name} GROUP BY node
    )"""

# Edge records walked by one walk: the near end was reached before the depth
# limit and the far end is in the walk, so the edge was followed.
_WALK_EDGES = """
    SELECT src.service_id, tgt.service_id, {source_depth}, {target_depth},
           src.criticality, src.team, tgt.criticality, tgt.team,
           d.discovery_source, d.communication_mode, d.criticality, d.protocol, d.timeout_ms,
           d.confidence_score, d.is_stale, d.request_rate, d.failure_ratio
    FROM {name}_nodes ns
    JOIN graph_servicedependency d ON d.{join_col} = ns.node
    JOIN {name}_nodes nt ON nt.node = d.{next_col}
    JOIN graph_service src ON src.id = d.source_id
    JOIN graph_service tgt ON tgt.id = d.target_id
    WHERE ns.depth < %s {live_d}"""


@dataclass(frozen=True)
class SubgraphNode:
    service_id: str
    depth: int
    criticality: str
    team: str | None


@dataclass
class Subgraph:
    """The result of one traversal: nodes (without the start) with their
    fewest-hops depth, and the effective edges walked, kept in their API
    shape (a hub's walk can return tens of thousands of edges, and building
    objects for each only to turn them into dicts again costs more than the
    SQL)."""

    service_id: str
    direction: str
    depth: int
    nodes: list[SubgraphNode] = field(default_factory=list)
    edge_dicts: list[dict] = field(default_factory=list)

    @property
    def edges(self) -> list[EffectiveEdge]:
        """The walked edges as domain objects."""
        return [
            EffectiveEdge(
                source=e["source"], target=e["target"], communication_mode=e["communication_mode"],
                criticality=e["criticality"], protocol=e["protocol"], timeout_ms=e["timeout_ms"], retry_config={},
                confidence_score=e["confidence_score"], discovery_sources=tuple(e["discovery_sources"]),
                request_rate=e["request_rate"], failure_ratio=e["failure_ratio"],
            )
            for e in self.edge_dicts
        ]

    def as_dict(self) -> dict:
        """The API representation (DESIGN.md section 5, subgraph query)."""
        return {
            "service_id": self.service_id,
            "direction": self.direction,
            "depth": self.depth,
            "nodes": [
                {"service_id": n.service_id, "depth": n.depth, "criticality": n.criticality, "team": n.team}
                for n in self.nodes
            ],
            "edges": self.edge_dicts,
            "statistics": {
                "total_nodes": len(self.nodes),
                "total_edges": len(self.edge_dicts),
                "max_depth_reached": max((n.depth for n in self.nodes), default=0),
            },
        }


def _edge_dict(pair: tuple[str, str], rows: list[tuple]) -> dict:
    """The effective edge of one pair, in its API shape, from its record rows
    (one per discovery source; see `subgraph_sql` for the columns)."""
    if len(rows) == 1:  # the common case, built without the general merge
        row = rows[0]
        return {
            "source": pair[0], "target": pair[1], "communication_mode": row[9], "criticality": row[10],
            "protocol": row[11], "timeout_ms": row[12],
            "confidence_score": round(min(max(float(row[13]), 0.0), 1.0), 6), "discovery_sources": [row[8]],
            "request_rate": row[15], "failure_ratio": row[16],
        }
    return merge_pair([
        EdgeRecord(source=pair[0], target=pair[1], discovery_source=row[8], communication_mode=row[9],
                   criticality=row[10], protocol=row[11], timeout_ms=row[12], confidence_score=float(row[13]),
                   is_stale=bool(row[14]), request_rate=row[15], failure_ratio=row[16])
        for row in rows
    ]).as_dict()


def subgraph_sql(*, direction: str, include_stale: bool, filter_confidence: bool) -> str:
    """The SQL text of a traversal; parameters follow `subgraph_params`."""
    walks = [_WALKS["downstream"], _WALKS["upstream"]] if direction == "both" else [_WALKS[direction]]
    live_d = "" if include_stale else _LIVE_ONLY.format(alias="d")
    live_c = "" if include_stale else _LIVE_ONLY.format(alias="c")
    confidence = _CONFIDENCE_FILTER.format(live_c=live_c) if filter_confidence else ""
    ctes = [
        _WALK_CTE.format(name=name, join_col=join_col, next_col=next_col, live_d=live_d, confidence=confidence)
        for name, join_col, next_col in walks
    ]
    selects = [
        _WALK_EDGES.format(
            name=name, join_col=join_col, next_col=next_col, live_d=live_d,
            # ns is the near end of the walked edge: its source downstream, its target upstream.
            source_depth="ns.depth" if join_col == "source_id" else "nt.depth",
            target_depth="nt.depth" if join_col == "source_id" else "ns.depth",
        )
        for name, join_col, next_col in walks
    ]
    return "WITH RECURSIVE" + ",".join(ctes) + "\n" + "\n    UNION ALL".join(selects)


def subgraph_params(
    *, service_id: str, direction: str, depth: int, filter_confidence: bool, min_confidence: float
) -> list:
    walks = 2 if direction == "both" else 1
    walk_params = [service_id, depth] + ([min_confidence - CONFIDENCE_TOLERANCE] if filter_confidence else [])
    return walk_params * walks + [depth] * walks


def subgraph(
    *, service_id: str, direction: str = "downstream", depth: int = 3, include_stale: bool = False,
    min_confidence: float = 0.0,
) -> Subgraph:
    """Walk the effective graph from `service_id` (a non-retired service) up to
    `depth` hops downstream (what it calls), upstream (what calls it) or both.

    Only non-stale records count unless `include_stale`; a pair is walked when
    the noisy-OR of its records' confidences is at least `min_confidence`.
    Retired services are neither walked nor returned. Nodes are sorted by
    (depth, service_id), edges by (source, target).
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}")
    filter_confidence = min_confidence > 0
    sql = subgraph_sql(direction=direction, include_stale=include_stale, filter_confidence=filter_confidence)
    params = subgraph_params(
        service_id=service_id, direction=direction, depth=depth,
        filter_confidence=filter_confidence, min_confidence=min_confidence,
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return subgraph_from_rows(
        rows, service_id=service_id, direction=direction, depth=depth, min_confidence=min_confidence
    )


def subgraph_from_rows(
    rows: list[tuple], *, service_id: str, direction: str, depth: int, min_confidence: float
) -> Subgraph:
    """Build the Subgraph from the rows of `subgraph_sql`: merge each pair's
    records, keep pairs meeting `min_confidence`, and give each node its
    fewest hops over the walks."""
    # Each walk returns (node, its depth in that walk); "both" keeps the smaller.
    # A record can come back from both walks, so records are keyed by source.
    depths: dict[str, int] = {}
    info: dict[str, tuple[str, str | None]] = {}
    pairs: dict[tuple[str, str], dict[str, tuple]] = {}
    unreached = depth + 1
    for row in rows:
        source, target = row[0], row[1]
        if row[2] < depths.get(source, unreached):
            depths[source] = row[2]
            info[source] = (row[4], row[5])
        if row[3] < depths.get(target, unreached):
            depths[target] = row[3]
            info[target] = (row[6], row[7])
        by_source = pairs.get((source, target))
        if by_source is None:
            pairs[(source, target)] = {row[8]: row}
        else:
            by_source[row[8]] = row

    threshold = round(min_confidence - CONFIDENCE_TOLERANCE, 6) if min_confidence > 0 else 0.0
    edges = [_edge_dict(pair, list(pairs[pair].values())) for pair in sorted(pairs)]
    if min_confidence > 0:
        edges = [edge for edge in edges if edge["confidence_score"] >= threshold]
    # A node is returned when a kept edge reaches it (the walk applied the same
    # confidence rule, so this only drops edges between already-found nodes).
    reached = {edge["source"] for edge in edges} | {edge["target"] for edge in edges}
    reached.discard(service_id)
    nodes = sorted(
        (SubgraphNode(name, depths[name], *info[name]) for name in reached),
        key=lambda n: (n.depth, n.service_id),
    )
    return Subgraph(service_id=service_id, direction=direction, depth=depth, nodes=nodes, edge_dicts=edges)


_UPSERT_COLUMNS = (
    "source_id", "target_id", "discovery_source", "communication_mode", "criticality", "protocol", "timeout_ms",
    "retry_config", "confidence_score", "last_observed_at", "is_stale", "created_at", "updated_at",
)
_UPSERT_UPDATED = (
    "communication_mode", "criticality", "protocol", "timeout_ms", "retry_config", "confidence_score",
    "last_observed_at", "is_stale", "updated_at",
)
# Rows per statement: keeps the bound parameters under SQLite's 32,766 limit.
UPSERT_BATCH = 2000


def dependency_records_upsert(*, records: list[dict], observed_at, now) -> int:
    """Insert edge records, or update the attributes of existing ones, in
    multi-row INSERT ... ON CONFLICT DO UPDATE statements (the conflict target
    is the unique constraint dependency_unique_per_source). PostgreSQL and
    SQLite (3.24+) share the syntax.

    Each record has `source_pk`, `target_pk`, `discovery_source` and the edge
    attributes. Building the parameters directly costs a fraction of
    instantiating and compiling a model per row, which dominates a
    25,000-edge ingestion. Returns the number of records written.
    """
    if connection.vendor == "postgresql":
        return _dependency_records_upsert_unnest(records=records, observed_at=observed_at, now=now)
    pk_field = ServiceDependency._meta.get_field("source").target_field
    json_field = ServiceDependency._meta.get_field("retry_config")
    observed = connection.ops.adapt_datetimefield_value(observed_at)
    stamp = connection.ops.adapt_datetimefield_value(now)
    placeholders = "(" + ", ".join(["%s"] * len(_UPSERT_COLUMNS)) + ")"
    updates = ", ".join(f"{column} = EXCLUDED.{column}" for column in _UPSERT_UPDATED)
    with connection.cursor() as cursor:
        for start in range(0, len(records), UPSERT_BATCH):
            batch = records[start:start + UPSERT_BATCH]
            params: list = []
            for r in batch:
                params.extend((
                    pk_field.get_db_prep_value(r["source_pk"], connection),
                    pk_field.get_db_prep_value(r["target_pk"], connection),
                    r["discovery_source"], r["communication_mode"], r["criticality"], r["protocol"],
                    r["timeout_ms"], json_field.get_db_prep_save(r["retry_config"], connection),
                    r["confidence_score"], observed, False, stamp, stamp,
                ))
            cursor.execute(
                f"INSERT INTO graph_servicedependency ({', '.join(_UPSERT_COLUMNS)}) "
                f"VALUES {', '.join([placeholders] * len(batch))} "
                f"ON CONFLICT (source_id, target_id, discovery_source) DO UPDATE SET {updates}",
                params,
            )
    return len(records)


def _dependency_records_upsert_unnest(*, records: list[dict], observed_at, now) -> int:
    """PostgreSQL form of `dependency_records_upsert`: one statement whose rows
    come from `unnest` over one array parameter per column. Binding nine
    arrays instead of 13 parameters per row keeps a 25,000-edge ingestion to
    one round trip and no per-row SQL text."""
    if not records:
        return 0
    updates = ", ".join(f"{column} = EXCLUDED.{column}" for column in _UPSERT_UPDATED)
    columns = {
        "source_id": [r["source_pk"] for r in records],
        "target_id": [r["target_pk"] for r in records],
        "discovery_source": [r["discovery_source"] for r in records],
        "communication_mode": [r["communication_mode"] for r in records],
        "criticality": [r["criticality"] for r in records],
        "protocol": [r["protocol"] for r in records],
        "timeout_ms": [r["timeout_ms"] for r in records],
        "retry_config": [json.dumps(r["retry_config"] or {}) for r in records],
        "confidence_score": [float(r["confidence_score"]) for r in records],
    }
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO graph_servicedependency ({', '.join(_UPSERT_COLUMNS)}) "
            "SELECT u.s, u.t, u.ds, u.cm, u.cr, u.p, u.tm, u.rc::jsonb, u.cs, %s, FALSE, %s, %s "
            "FROM unnest(%s::uuid[], %s::uuid[], %s::text[], %s::text[], %s::text[], %s::text[], "
            "%s::integer[], %s::text[], %s::float8[]) AS u(s, t, ds, cm, cr, p, tm, rc, cs) "
            f"ON CONFLICT (source_id, target_id, discovery_source) DO UPDATE SET {updates}",
            [observed_at, now, now, *columns.values()],
        )
    return len(records)


def dependency_records_reobserve(*, record_ids: list[int], observed_at) -> int:
    """Set `last_observed_at` of unchanged records re-sent by a payload, never
    moving it back in time (an older payload arriving late). Uses the primary
    key; `last_observed_at` is deliberately not indexed, so PostgreSQL can do
    these as HOT updates. Returns the number of rows changed."""
    if not record_ids:
        return 0
    changed = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # A join with the unnested ids (hash or index join), not
            # `id = ANY(array)`, which a sequential scan tests row by row
            # against the whole array.
            cursor.execute(
                "UPDATE graph_servicedependency AS d SET last_observed_at = %s "
                "FROM unnest(%s::bigint[]) AS u(id) WHERE d.id = u.id AND d.last_observed_at < %s",
                [observed_at, record_ids, observed_at],
            )
            return cursor.rowcount
        observed = connection.ops.adapt_datetimefield_value(observed_at)
        for start in range(0, len(record_ids), UPSERT_BATCH):
            batch = record_ids[start:start + UPSERT_BATCH]
            cursor.execute(
                "UPDATE graph_servicedependency SET last_observed_at = %s "
                f"WHERE id IN ({', '.join(['%s'] * len(batch))}) AND last_observed_at < %s",
                [observed, *batch, observed],
            )
            changed += cursor.rowcount
    return changed


def graph_tables_analyze() -> None:
    """Do after a bulk ingestion what autovacuum would do a minute later.
    Until then the planner believes a freshly loaded table is nearly empty
    and picks traversal plans orders of magnitude slower, and without a
    vacuumed visibility map the walk cannot use index-only scans of
    dependency_fwd_live_idx / dependency_rev_live_idx (half the walk's time
    on a hub). VACUUM cannot run inside a transaction: there, only ANALYZE.
    No-op on other databases."""
    if connection.vendor != "postgresql":
        return
    statement = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
    with connection.cursor() as cursor:
        cursor.execute(f"{statement} graph_service, graph_servicedependency")


# The record that gives a pair its attributes is its highest-priority live
# one (graph.domain.merge.SOURCE_PRIORITY); a pair is hard sync when that
# record is. Ranks are spliced from the constant priority list.
_SOURCE_RANK = "CASE {alias}.discovery_source " + " ".join(
    f"WHEN '{name}' THEN {rank}" for rank, name in enumerate(SOURCE_PRIORITY)
) + f" ELSE {len(SOURCE_PRIORITY)} END"

# A live hard sync record `d` that no live record of the same pair outranks,
# between active services. The outranking test uses the unique index
# (source, target, discovery_source); retired services are few, so the set of
# them is hashed once per query.
_HARD_SYNC_TOP = f"""
          d.is_stale = FALSE AND d.communication_mode = 'sync' AND d.criticality = 'hard'
          AND NOT EXISTS (
              SELECT 1 FROM graph_servicedependency h
              WHERE h.source_id = d.source_id AND h.target_id = d.target_id AND h.is_stale = FALSE
                AND {_SOURCE_RANK.format(alias="h")} < {_SOURCE_RANK.format(alias="d")})
          AND d.target_id NOT IN (SELECT r.id FROM graph_service r WHERE r.retired_at IS NOT NULL)"""

# Every effective hard sync edge between active services: one scan of the
# live records (dependency_fwd_live_idx).
_HARD_SYNC_ALL = f"""
    SELECT src.service_id, tgt.service_id
    FROM graph_servicedependency d
    JOIN graph_service src ON src.id = d.source_id AND src.retired_at IS NULL
    JOIN graph_service tgt ON tgt.id = d.target_id
    WHERE {_HARD_SYNC_TOP}"""

def hard_sync_edges_sql() -> str:
    """The SQL of `hard_sync_edges` (no parameters)."""
    return _HARD_SYNC_ALL


def hard_sync_edges() -> list[tuple[str, str]]:
    """Every effective hard sync edge (caller, dependency) between active
    services, as service_ids, in one query."""
    with connection.cursor() as cursor:
        cursor.execute(hard_sync_edges_sql())
        return cursor.fetchall()
