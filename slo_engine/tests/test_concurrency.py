"""Concurrent ingestion: 20 clients push overlapping graphs at the same moment
to the application under gunicorn (4 processes x 5 threads) on PostgreSQL.
The stored graph is exactly the union of what they sent, and no client sees a
deadlock, a unique-constraint race or any other error."""

import random

import httpx
import psycopg
import pytest

pytestmark = pytest.mark.slow

CLIENTS = 20


def overlapping_payloads(*, prefix: str, seed: int) -> list[dict]:
    """CLIENTS payloads, each a random ~60% of one pool of edges among 30
    services, in a different order, over two discovery sources; every client
    also sends catalog data for the services it names."""
    rng = random.Random(seed)
    names = [f"{prefix}-{i:02d}" for i in range(30)]
    pool = sorted({tuple(rng.sample(names, 2)) for _ in range(200)})
    payloads = []
    for n in range(CLIENTS):
        edges = rng.sample(pool, k=int(len(pool) * 0.6))
        named = sorted({sid for pair in edges for sid in pair})
        rng.shuffle(named)
        payloads.append({
            "source": "manual" if n % 2 == 0 else "kubernetes",
            "nodes": [{"service_id": sid, "team": f"team-{n % 3}"} for sid in named[: len(named) // 2]],
            "edges": [{"source": s, "target": t, "attributes": {"communication_mode": "sync", "criticality": "hard"}}
                      for s, t in edges],
        })
    return payloads


def push_all_at_once(run_together, url: str, key: str, payloads: list[dict]) -> list[tuple[int, str]]:
    def push(payload: dict) -> tuple[int, str]:
        try:
            response = httpx.post(f"{url}/api/v1/services/dependencies", json=payload,
                                  headers={"Authorization": f"Api-Key {key}"}, timeout=120)
            return response.status_code, response.text[:500]
        except httpx.HTTPError as exc:
            return 0, f"{type(exc).__name__}: {exc}"

    return run_together(push, [(payload,) for payload in payloads], timeout=180)


def stored_records(database_url: str, prefix: str) -> set[tuple[str, str, str]]:
    with psycopg.connect(database_url) as connection:
        rows = connection.execute(
            """
            SELECT s.service_id, t.service_id, d.discovery_source
            FROM graph_servicedependency d
            JOIN graph_service s ON s.id = d.source_id
            JOIN graph_service t ON t.id = d.target_id
            WHERE s.service_id LIKE %s
            """,
            [f"{prefix}-%"],
        ).fetchall()
    return set(rows)


def stored_services(database_url: str, prefix: str) -> list[str]:
    with psycopg.connect(database_url) as connection:
        rows = connection.execute(
            "SELECT service_id FROM graph_service WHERE service_id LIKE %s", [f"{prefix}-%"]
        ).fetchall()
    return [row[0] for row in rows]


def expected_union(payloads: list[dict]) -> set[tuple[str, str, str]]:
    return {(e["source"], e["target"], p["source"]) for p in payloads for e in p["edges"]}


def test_twenty_concurrent_overlapping_ingests_store_exactly_their_union(private_postgres, app_server, run_together):
    server = app_server(
        env={"DATABASE_URL": private_postgres.url, "REDIS_URL": "", "RATE_LIMIT_INGEST": "10000/min",
             "GUNICORN_THREADS": "5", "LOG_FORMAT": "json"},
        workers=4,
    )
    key = private_postgres.keys["write"]
    # Round 1 races to create the same services and edges; round 2 races to
    # update them (different subsets and orders) and add the rest.
    first = overlapping_payloads(prefix="conc", seed=11)
    second = overlapping_payloads(prefix="conc", seed=12)

    for payloads in (first, second):
        results = push_all_at_once(run_together, server.url, key, payloads)
        failures = [(status, body) for status, body in results if status != 200]
        assert not failures, failures

    union = expected_union(first) | expected_union(second)
    assert stored_records(private_postgres.url, "conc") == union
    services = stored_services(private_postgres.url, "conc")
    assert len(services) == len(set(services))
    assert set(services) == {sid for record in union for sid in record[:2]}
    errors = [r for r in server.json_logs() if r.get("level") in {"ERROR", "CRITICAL"}]
    assert not errors, errors[:3]
