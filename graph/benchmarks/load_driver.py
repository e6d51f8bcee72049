"""The load test's client side: locust, headless, run as a library in its own
process (`python -m graph.benchmarks.load_driver plan.json`), started by
`graph.benchmarks.load.run`. Prints one JSON document with the figures of
each phase.

Locust's FastHttpUser (geventhttpclient) is the client: it spends a fraction
of the CPU per request that an asyncio HTTP client does, which matters when
the driver shares the machine's cores with the server it measures.

Phases, for `config.clients` users each:

* mixed: subgraph queries (80%), service lists (15%) and small ingests (5%)
  for `duration_seconds`. The users' ingests are the service-mesh pipeline's
  pushes (re-observations: the orchestrator sent each once before the run);
  besides them, `graph_changes_per_minute` pushes spread over the phase
  really change the graph, each invalidating every cached subgraph and
  service page;
* cached_subgraph: after every hot query has been fetched once, subgraph
  queries alone with no writes, for `cached_seconds`.

Each user waits an exponentially distributed think time of mean `think_ms`
between requests (an open-ended stream of independent clients), and starts
at a random point of its first think time, so 200 users do not fire in
lockstep. Every request's outcome and latency is recorded: a non-2xx status
or no answer at all is an error.
"""

from gevent import monkey

monkey.patch_all()

import json  # noqa: E402  (after monkey-patching, as gevent requires)
import random  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402
from itertools import count  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402
from gevent.pool import Pool  # noqa: E402
from locust import FastHttpUser  # noqa: E402
from locust.env import Environment  # noqa: E402

from graph.benchmarks.load import (  # noqa: E402
    MIX,
    LoadConfig,
    graph_change_payload,
    pipeline_payloads,
    summarise,
)

INGEST_PATH = "/api/v1/services/dependencies"


class Workload:
    """The requests of a plan: hot subgraph queries, list queries and small
    ingest payloads, all drawn from a seeded generator."""

    def __init__(self, plan: dict):
        self.plan = plan
        self.config = LoadConfig(**plan["config"])
        rng = random.Random(self.config.seed)
        services = plan["services"]
        directions = ("downstream",) * 7 + ("upstream",) * 2 + ("both",)
        self.hot_queries = [
            f"/api/v1/services/{rng.choice(services)}/dependencies?direction={rng.choice(directions)}"
            f"&depth={rng.choice((2, 3, 3, 4))}"
            for _ in range(self.config.hot_queries)
        ]
        teams = [f"team-{i}" for i in range(10)]
        self.list_queries = (
            ["/api/v1/services/?page_size=50", "/api/v1/services/?page=2&page_size=50"]
            + [f"/api/v1/services/?team={team}" for team in teams]
            + [f"/api/v1/services/?criticality={c}" for c in ("critical", "high")]
        )
        self.pushes = pipeline_payloads(plan["edges"], seed=self.config.seed)
        self.ingest_payloads = [json.dumps(push) for push in self.pushes]


def user_class(workload: Workload, kinds: tuple) -> type[FastHttpUser]:
    """A locust user that picks one of `kinds` ((name, weight) pairs) per request."""
    config = workload.config
    names = [name for name, _ in kinds]
    weights = [weight for _, weight in kinds]
    numbers = count()
    think = config.think_ms / 1000

    class LoadUser(FastHttpUser):
        host = workload.plan["url"]
        network_timeout = 30.0
        connection_timeout = 30.0

        def wait_time(self) -> float:
            return self.rng.expovariate(1 / think) if think else 0.0

        def on_start(self) -> None:
            index = next(numbers)
            self.rng = random.Random(config.seed * 1000 + index)
            read_keys, write_keys = workload.plan["read_keys"], workload.plan["write_keys"]
            self.read_headers = {"Authorization": f"Api-Key {read_keys[index % len(read_keys)]}"}
            self.write_headers = {"Authorization": f"Api-Key {write_keys[index % len(write_keys)]}",
                                  "Content-Type": "application/json"}
            gevent.sleep(self.rng.uniform(0, think or 0.01))

        def one_request(self) -> None:
            kind = self.rng.choices(names, weights)[0]
            if kind == "subgraph":
                self.client.get(self.rng.choice(workload.hot_queries), headers=self.read_headers, name=kind)
            elif kind == "service_list":
                self.client.get(self.rng.choice(workload.list_queries), headers=self.read_headers, name=kind)
            else:
                self.client.post(INGEST_PATH, data=self.rng.choice(workload.ingest_payloads),
                                 headers=self.write_headers, name=kind)

        tasks = [one_request]

    return LoadUser


def run_phase(workload: Workload, kinds: tuple, seconds: float) -> dict:
    """Run `config.clients` users of `kinds` for `seconds`; their figures."""
    records: list[tuple[str, object, float]] = []

    def record(name, response_time, response=None, exception=None, **_):
        status = getattr(response, "status_code", 0) or type(exception).__name__
        records.append((name, status, response_time))

    environment = Environment(user_classes=[user_class(workload, kinds)], catch_exceptions=False)
    environment.events.request.add_listener(record)
    runner = environment.create_local_runner()
    started = time.monotonic()
    runner.start(workload.config.clients, spawn_rate=workload.config.clients)
    changes = []
    if any(name == "ingest" for name, _ in kinds) and workload.config.graph_changes_per_minute > 0:
        changes.append(gevent.spawn(change_graph, workload, environment, started + seconds))
    gevent.spawn_later(seconds, runner.quit)
    runner.greenlet.join()
    gevent.joinall(changes)
    figures = summarise(records, time.monotonic() - started)
    figures["graph_changes"] = sum(1 for name, _, _ in records if name == "graph_change")
    return figures


def change_graph(workload: Workload, environment: Environment, deadline: float) -> None:
    """Send a push that changes the graph every 60 / graph_changes_per_minute
    seconds until `deadline`, recorded as kind `graph_change`."""
    from locust.contrib.fasthttp import FastHttpSession

    interval = 60 / workload.config.graph_changes_per_minute
    session = FastHttpSession(workload.plan["url"], environment.events.request, user=None)
    headers = {"Authorization": f"Api-Key {workload.plan['write_keys'][0]}", "Content-Type": "application/json"}
    number = 0
    while True:
        gevent.sleep(interval / 2 if number == 0 else interval)
        if time.monotonic() >= deadline:
            return
        number += 1
        push = graph_change_payload(workload.pushes[number % len(workload.pushes)], number)
        session.post(INGEST_PATH, data=json.dumps(push), headers=headers, name="graph_change")


def warm(workload: Workload) -> None:
    """Fetch every hot query once, eight at a time, so the next phase hits the cache."""
    headers = {"Authorization": f"Api-Key {workload.plan['read_keys'][0]}"}

    def fetch(path: str) -> None:
        request = urllib.request.Request(workload.plan["url"] + path, headers=headers)
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()

    Pool(8).map(fetch, workload.hot_queries)


def main(argv: list[str]) -> None:
    workload = Workload(json.loads(Path(argv[0]).read_text()))
    mixed = run_phase(workload, MIX, workload.config.duration_seconds)
    warm(workload)
    cached = run_phase(workload, (("subgraph", 1.0),), workload.config.cached_seconds)
    print(json.dumps({"mixed": mixed, "cached_subgraph": cached}))


if __name__ == "__main__":
    main(sys.argv[1:])
