"""Synthetic service graphs for benchmarks: scale-free, mostly acyclic, with a
few planted cycles, in the ingest payload format. Deterministic per seed."""

import numpy as np


def generate_graph(*, services: int, edges: int, cycles: int = 5, seed: int = 42) -> dict:
    """Return an ingest payload `{"source", "nodes", "edges"}` with exactly
    `services` nodes and `edges` distinct edges (no self-loops).

    Targets are drawn with a power-law popularity (a few shared services are
    called by very many), and every edge points from a lower to a higher
    index, so the graph is a DAG except for `cycles` planted back edges.
    """
    if edges > services * (services - 1) // 2:
        raise ValueError("too many edges for a DAG of that size")
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, services + 1) ** 0.9
    popularity /= popularity.sum()
    # Popular targets get high indices, so callers (low indices) reach them.
    rank_to_index = np.arange(services)[::-1]

    pairs: set[tuple[int, int]] = set()
    while len(pairs) < edges - cycles:
        need = (edges - cycles - len(pairs)) * 2 + 16
        a = rank_to_index[rng.choice(services, size=need, p=popularity)]
        b = rng.integers(0, services, size=need)
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        for s, t in zip(lo.tolist(), hi.tolist(), strict=True):
            if s != t:
                pairs.add((s, t))
                if len(pairs) == edges - cycles:
                    break
    # Plant cycles: a back edge from the target of an edge to its source.
    forward = sorted(pairs)
    picks = rng.choice(len(forward), size=min(cycles, len(forward)), replace=False)
    for index in picks.tolist():
        s, t = forward[index]
        pairs.add((t, s))
    while len(pairs) < edges:  # a back edge duplicated an existing pair
        s, t = sorted(rng.integers(0, services, size=2).tolist())
        if s != t:
            pairs.add((s, t))

    width = len(str(services))
    names = [f"svc-{i:0{width}d}" for i in range(services)]
    criticalities = ("critical", "high", "medium", "low")
    nodes = [
        {
            "service_id": name,
            "display_name": name.upper(),
            "team": f"team-{i % 50}",
            "criticality": criticalities[i % 4],
            "tags": ["bench"],
            "metadata": {},
        }
        for i, name in enumerate(names)
    ]
    edge_list = [
        {
            "source": names[s],
            "target": names[t],
            "attributes": {
                "communication_mode": "async" if (s + t) % 10 == 0 else "sync",
                "criticality": "soft" if (s * t) % 7 == 0 else "hard",
                "protocol": "grpc",
                "timeout_ms": 500 + (s % 5) * 100,
            },
        }
        for s, t in sorted(pairs)
    ]
    return {"source": "manual", "nodes": nodes, "edges": edge_list}
