"""Fault injection against PRIVATE servers (slo_engine/testing/services.py):
the application runs under gunicorn on its own PostgreSQL cluster and Redis,
which these tests stop and restart. The shared instances are never touched."""

from __future__ import annotations

import os
import signal
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
            # Writes work too: the graph is in PostgreSQL; only follow-up
            # tasks (broker) and caching are lost while Redis is down.
            ingest = probe.post("/api/v1/services/dependencies", headers={
                "Authorization": f"Api-Key {private_postgres.keys['write']}"}, json={
                "source": "manual", "edges": [{"source": service_ids[0], "target": "during-outage"}]})
        # Stay down until well past the key's quota of 60 (slow machines
        # need longer), so that all-200 proves throttling is off.
        deadline = time.monotonic() + 30
        while len(load.between(during, time.monotonic())) < 80 and time.monotonic() < deadline:
            time.sleep(0.2)
        outage_end = time.monotonic()
        private_redis.start()
        recovered = time.monotonic()
        deadline = recovered + 30
        while not any(o.status == 429 for o in load.between(recovered, time.monotonic())) \
                and time.monotonic() < deadline:
            time.sleep(0.2)
    finished = time.monotonic()

    answered_during = load.between(during, outage_end)
    assert len(answered_during) > 60, "too few requests to show throttling is off during the outage"
    # Fail open: the key was over its quota, yet every request is served.
    assert {o.status for o in answered_during} == {200}, {o.status for o in answered_during}
    # No request hangs on the dead Redis (0.5 s socket timeouts, refused at once).
    assert max(o.finished - o.started for o in answered_during) < 5.0

    assert all(o.status is not None and o.status < 500 for o in load.outcomes), [
        (o.status, o.error) for o in load.outcomes if o.status is None or o.status >= 500][:5]

    assert ingest.status_code == 200, ingest.text
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
    from slo_engine.processes import free_port

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


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_prometheus_outage_tasks_retry_with_backoff_then_succeed(live_celery_worker, settings, prometheus_factory,
                                                                  openmetrics, client):
    """Discovery on a real worker while Prometheus is unreachable: the task is
    retried (state RETRY, never FAILURE) with growing waits, the readiness
    probe says `degraded` (telemetry) but stays 200; once Prometheus answers,
    the next retry succeeds and writes the discovered edge."""
    from datetime import UTC, datetime, timedelta

    from celery.signals import task_prerun

    from graph.models import ServiceDependency
    from slo_engine.processes import free_port, wait_until
    from telemetry.sources import TelemetryUnavailable
    from telemetry.tasks import discover_otel_graph

    settings.TELEMETRY_SOURCE = "prometheus"
    settings.PROMETHEUS_URL = f"http://127.0.0.1:{free_port()}"
    settings.PROMETHEUS_RETRIES = 0
    settings.PROMETHEUS_TIMEOUT_SECONDS = 1
    attempts: list[float] = []

    def count_attempt(sender=None, **_kwargs):
        if getattr(sender, "name", "") == discover_otel_graph.name:
            attempts.append(time.monotonic())

    task_prerun.connect(count_attempt, weak=False)
    try:
        result = discover_otel_graph.delay(lookback="1h")
        wait_until(lambda: len(attempts) >= 3, timeout=40, interval=0.1, what="two retries")
        assert result.state == "RETRY"
        assert isinstance(result.info, TelemetryUnavailable)

        ready = client.get("/health/ready")
        assert ready.status_code == 200
        assert ready.json()["degraded"] == ["telemetry"]

        end = datetime.now(UTC)
        prometheus = prometheus_factory(openmetrics.openmetrics_document(openmetrics.service_graph_openmetrics(
            [openmetrics.GraphEdge("fault-frontend", "fault-checkout")], start=end - timedelta(hours=2), end=end)))
        settings.PROMETHEUS_URL = prometheus.url
        outcome = result.get(timeout=90)
    finally:
        task_prerun.disconnect(count_attempt)

    assert outcome["edges_upserted"] == 1
    assert ServiceDependency.objects.filter(
        source__service_id="fault-frontend", target__service_id="fault-checkout",
        discovery_source="otel_service_graph",
    ).exists()
    # Exponential backoff with full jitter: the n-th wait is drawn from
    # [0, 2 * 2**n] seconds, so the waits stay within their growing bounds
    # (plus scheduling slack) and the retries stop at max_retries.
    assert discover_otel_graph.retry_backoff and discover_otel_graph.retry_jitter
    waits = [b - a for a, b in zip(attempts, attempts[1:], strict=False)]
    assert len(attempts) <= discover_otel_graph.max_retries + 1
    for n, wait in enumerate(waits):
        assert wait <= 2 * 2 ** n + 2.0, waits
    assert client.get("/health/ready").json()["status"] == "ok"


BATCH_SERVICES = 150


def test_worker_killed_mid_batch_leaves_no_duplicate_active_recommendations(
    private_postgres, private_redis, celery_worker_process,
):
    """SIGKILL the pool process of a `celery worker` while it runs a chunk of
    `generate_recommendations_batch`: the chunk is redelivered (acks late,
    reject on worker lost) and finishes; re-running the whole batch then
    leaves exactly one active recommendation per service and SLI."""
    import psycopg

    from slo_engine.processes import app_environment, run_in_app, wait_until

    env = {"DATABASE_URL": private_postgres.url, "REDIS_URL": private_redis.url, "TELEMETRY_SOURCE": "demo"}
    names = [f"batch-{i:03d}" for i in range(BATCH_SERVICES)]
    run_in_app(
        "from graph.services.ingest import graph_ingest\n"
        f"names = {names!r}\n"
        "graph_ingest(source='manual', nodes=[{'service_id': n} for n in names],\n"
        "             edges=[{'source': a, 'target': b, 'attributes': {}} for a, b in zip(names, names[1:])])\n",
        env=app_environment(**env),
    )

    def active_counts() -> tuple[int, int]:
        """(services with an active recommendation, active rows) among batch-*."""
        with psycopg.connect(private_postgres.url) as connection:
            return connection.execute(
                """SELECT COUNT(DISTINCT r.service_id), COUNT(*) FROM recommendations_slorecommendation r
                   JOIN graph_service s ON s.id = r.service_id
                   WHERE r.status = 'active' AND s.service_id LIKE 'batch-%%'"""
            ).fetchone()

    def enqueue_batch() -> None:
        run_in_app(
            "from recommendations.tasks import generate_recommendations_batch\n"
            "generate_recommendations_batch.delay(chunk_size=50)\n",
            env=app_environment(**env),
        )

    worker = celery_worker_process(env=env)
    enqueue_batch()
    wait_until(lambda: active_counts()[0] >= 5, timeout=120, interval=0.02, what="the batch to start writing")
    victims = worker.pool_pids()
    assert victims
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    at_kill = active_counts()[0]
    assert at_kill < BATCH_SERVICES, "the batch finished before the kill; make it bigger"

    # The killed chunk is redelivered to the respawned pool process.
    wait_until(lambda: active_counts()[0] == BATCH_SERVICES, timeout=180, interval=0.5,
               what="every service to get a recommendation after the kill")
    assert "WorkerLostError" in worker.logs() or "signal 9" in worker.logs()

    # Re-run the whole batch: everything is regenerated, nothing duplicated.
    with psycopg.connect(private_postgres.url) as connection:
        before = connection.execute("SELECT COALESCE(MAX(id), 0) FROM recommendations_slorecommendation").fetchone()[0]
    enqueue_batch()

    def regenerated() -> bool:
        with psycopg.connect(private_postgres.url) as connection:
            return connection.execute(
                """SELECT COUNT(DISTINCT r.service_id) FROM recommendations_slorecommendation r
                   JOIN graph_service s ON s.id = r.service_id
                   WHERE r.status = 'active' AND r.id > %s AND s.service_id LIKE 'batch-%%'""", [before],
            ).fetchone()[0] == BATCH_SERVICES

    wait_until(regenerated, timeout=180, interval=0.5, what="the re-run batch to finish")
    with psycopg.connect(private_postgres.url) as connection:
        duplicates = connection.execute(
            """SELECT service_id, sli_type, metric, COUNT(*) FROM recommendations_slorecommendation
               WHERE status = 'active' GROUP BY service_id, sli_type, metric HAVING COUNT(*) > 1"""
        ).fetchall()
        per_service = connection.execute(
            """SELECT COUNT(*) FROM recommendations_slorecommendation r JOIN graph_service s ON s.id = r.service_id
               WHERE r.status = 'active' AND s.service_id = 'batch-000'"""
        ).fetchone()[0]
    assert duplicates == []
    services, rows = active_counts()
    assert services == BATCH_SERVICES
    assert rows == BATCH_SERVICES * per_service
