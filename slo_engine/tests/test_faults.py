"""Fault injection against PRIVATE servers (slo_engine/testing/services.py):
the application runs under gunicorn on its own PostgreSQL cluster and Redis,
which these tests stop and restart. The shared instances are never touched."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import httpx
import pytest
import redis

from graph.benchmarks.generate import generate_graph

pytestmark = pytest.mark.slow


@dataclass
class Outcome:
    started: float
    finished: float
    status: int | None  # None: no HTTP answer at all
    error: str = ""


@dataclass
class Load:
    """Client threads sending GETs in a loop until stopped, recording every outcome."""

    base_url: str
    paths: list[str]
    headers: dict[str, str]
    clients: int = 4
    outcomes: list[Outcome] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _run(self, offset: int) -> None:
        with httpx.Client(base_url=self.base_url, headers=self.headers, timeout=10) as http:
            i = offset
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    status, error = http.get(self.paths[i % len(self.paths)]).status_code, ""
                except httpx.HTTPError as exc:
                    status, error = None, f"{type(exc).__name__}: {exc}"
                with self._lock:
                    self.outcomes.append(Outcome(started, time.monotonic(), status, error))
                i += 1

    def __enter__(self) -> Load:
        self._threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(self.clients)]
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def between(self, start: float, end: float) -> list[Outcome]:
        with self._lock:
            return [o for o in self.outcomes if o.started >= start and o.finished <= end]


def seed_graph(server_url: str, write_key: str, *, services: int = 40, edges: int = 120) -> list[str]:
    payload = generate_graph(services=services, edges=edges, cycles=2, seed=7)
    response = httpx.post(f"{server_url}/api/v1/services/dependencies", json=payload,
                          headers={"Authorization": f"Api-Key {write_key}"}, timeout=60)
    assert response.status_code == 200, response.text
    return [node["service_id"] for node in payload["nodes"]]


def test_redis_outage_degrades_the_api_and_it_recovers(private_postgres, private_redis, app_server):
    """Redis stops under load: every request still gets an answer (no cache,
    no throttling), the failure is logged, readiness names the cache and the
    broker; when Redis returns, caching and throttling resume."""
    server = app_server(
        env={"DATABASE_URL": private_postgres.url, "REDIS_URL": private_redis.url, "CACHE_KEY_PREFIX": "fault",
             "RATE_LIMIT_QUERY": "60/min", "RATE_LIMIT_INGEST": "100/min", "LOG_FORMAT": "json"},
        workers=2,
    )
    service_ids = seed_graph(server.url, private_postgres.keys["write"])
    paths = [f"/api/v1/services/{sid}/dependencies?depth=3" for sid in service_ids[:10]] + ["/api/v1/services/"]
    headers = {"Authorization": f"Api-Key {private_postgres.keys['read']}"}
    store = redis.Redis.from_url(private_redis.url)

    with Load(server.url, paths, headers) as load:
        # Redis up: the key exceeds its 60/min quota within a second or two.
        deadline = time.monotonic() + 20
        while not any(o.status == 429 for o in load.outcomes) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert any(o.status == 429 for o in load.outcomes), "throttling never engaged with Redis up"
        assert store.dbsize() > 0  # cached subgraphs and throttle history

        private_redis.stop()
        outage_start = time.monotonic()
        time.sleep(0.2)
        during = time.monotonic()
        with httpx.Client(base_url=server.url, timeout=10) as probe:
            ready = probe.get("/health/ready")
        time.sleep(3)
        outage_end = time.monotonic()
        private_redis.start()
        recovered = time.monotonic()
        time.sleep(3)
    finished = time.monotonic()

    answered_during = load.between(during, outage_end)
    assert len(answered_during) > 60, "too few requests to show throttling is off during the outage"
    # Fail open: the key was over its quota, yet every request is served.
    assert {o.status for o in answered_during} == {200}, {o.status for o in answered_during}
    assert max(o.finished - o.started for o in answered_during) < 2.0

    assert all(o.status is not None and o.status < 500 for o in load.outcomes), [
        (o.status, o.error) for o in load.outcomes if o.status is None or o.status >= 500][:5]

    assert ready.status_code == 503
    assert {"cache", "broker"} <= set(ready.json()["failing"])

    # Recovered: throttling engages again and the cache fills again.
    after = load.between(recovered, finished)
    assert any(o.status == 429 for o in after), "throttling did not resume after Redis returned"
    assert store.dbsize() > 0
    with httpx.Client(base_url=server.url, timeout=10) as probe:
        assert probe.get("/health/ready").status_code == 200

    cache_errors = [r for r in server.json_logs() if r.get("logger") == "slo_engine.cache"]
    assert cache_errors, "the outage was not logged"
    assert all(r["level"] in {"WARNING", "ERROR"} for r in cache_errors)
    assert outage_start < outage_end


def test_postgres_restart_costs_no_failed_request_afterwards(private_postgres, app_server):
    server = app_server(env={"DATABASE_URL": private_postgres.url, "REDIS_URL": ""}, workers=2)
    headers = {"Authorization": f"Api-Key {private_postgres.keys['read']}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=10) as http:
        # Warm every worker's persistent connection (CONN_MAX_AGE).
        for _ in range(10):
            assert http.get("/api/v1/services/").status_code == 200
        private_postgres.cluster.restart()
    # New connections each time (sync workers close them), so both workers'
    # stale database connections are exercised.
    statuses = [httpx.get(f"{server.url}/api/v1/services/", headers=headers, timeout=10).status_code
                for _ in range(20)]
    assert statuses == [200] * 20
    ready = httpx.get(f"{server.url}/health/ready", timeout=10)
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"]["status"] == "ok"


def test_readiness_stays_honest_when_prometheus_is_unreachable(private_postgres, app_server):
    """Prometheus down: readiness still 200 (restarting the app would not fix
    it) but says `degraded` and names telemetry with the error."""
    from slo_engine.testing.services import free_port

    server = app_server(env={
        "DATABASE_URL": private_postgres.url, "REDIS_URL": "", "TELEMETRY_SOURCE": "prometheus",
        "PROMETHEUS_URL": f"http://127.0.0.1:{free_port()}",
    })
    response = httpx.get(f"{server.url}/health/ready", timeout=10)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["degraded"] == ["telemetry"]
    assert "failing" not in body
    telemetry = body["checks"]["telemetry"]
    assert telemetry["status"] == "error" and telemetry["critical"] is False
    assert "ConnectionError" in telemetry["error"]
    assert telemetry["latency_ms"] < 2000
