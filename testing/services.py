"""Private, throwaway servers for fault and concurrency tests.

Fault tests stop and restart Redis and PostgreSQL, so they must never touch the
shared instances (other test runs use them at the same time). These helpers
start a private `redis-server` and a private PostgreSQL cluster (`initdb` +
`pg_ctl`, run as the `postgres` OS user when the tests run as root) on free
loopback ports, and the application itself under gunicorn pointed at them.

Fixtures: `private_redis` (per test), `private_postgres` (per session, with a
migrated database and two API keys), `app_server` (a factory: start gunicorn
with extra environment, stopped at teardown), `celery_worker_process` (a
factory: a `celery worker` subprocess whose pool processes a test may kill).
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from slo_engine.processes import (
    BASE_DIR,
    PYTHON,
    AppServer,
    app_environment,
    bootstrap_database,
    free_port,
    run_in_app,
    stop_process_group,
    temp_file,
    wait_until,
)

__all__ = ["free_port", "wait_until", "run_in_app", "app_environment", "stop_process_group"]


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _stop_process(process: subprocess.Popen, *, sig: int = signal.SIGTERM, timeout: float = 10) -> None:
    if process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@dataclass
class RedisServer:
    """A private redis-server without persistence; `stop()`/`start()` keep the port."""

    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: _port_open(self.port), timeout=10, what=f"redis on :{self.port}")

    def stop(self) -> None:
        if self.process is not None:
            _stop_process(self.process)
            self.process = None
        wait_until(lambda: not _port_open(self.port), timeout=10, what="redis to stop")


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if found:
        return found[-1]
    on_path = shutil.which(name)
    if on_path:
        return on_path
    raise FileNotFoundError(f"PostgreSQL server binary {name!r} not found")


@dataclass
class PostgresCluster:
    """A private PostgreSQL cluster in a temporary directory on a free port.

    PostgreSQL refuses to run as root, so when the tests run as root the
    cluster belongs to (and runs as) the `postgres` OS user.
    """

    port: int = field(default_factory=free_port)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="slo-pg-")))

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = list(args)
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, check=check, capture_output=True, text=True, timeout=120)

    def init(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.root, user="postgres")
        self._run(_pg_bin("initdb"), "-D", str(self.data_dir), "-A", "trust", "-U", "postgres",
                  "-E", "UTF8", "--no-sync")

    def _ctl(self, action: str, *extra: str) -> None:
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off")
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data_dir), "-l", str(self.root / "server.log"),
                  "-o", options, "-w", "-t", "60", action, *extra)

    def start(self) -> None:
        self._ctl("start")

    def stop(self) -> None:
        self._ctl("stop", "-m", "fast")

    def restart(self) -> None:
        """A fast restart: every open connection is terminated."""
        self._ctl("restart", "-m", "fast")

    def create_database(self, name: str) -> None:
        self._run(_pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)

    def destroy(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            self._run(_pg_bin("pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class PrivateDatabase:
    cluster: PostgresCluster
    name: str
    keys: dict[str, str]

    @property
    def url(self) -> str:
        return self.cluster.url(self.name)


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def private_postgres() -> Iterator[PrivateDatabase]:
    """A private cluster with a migrated database `slo` and API keys."""
    cluster = PostgresCluster()
    try:
        cluster.init()
        cluster.start()
        cluster.create_database("slo")
        keys = bootstrap_database(database_url=cluster.url("slo"))
        yield PrivateDatabase(cluster=cluster, name="slo", keys=keys)
    finally:
        cluster.destroy()


def _started_processes(make: Callable) -> Iterator[Callable]:
    """Body of a factory fixture: yields `start(**kwargs)`, which builds a
    process object with `make`, starts it and returns it; at teardown every
    one started is stopped and its log removed."""
    started = []

    def start(**kwargs):
        process = make(**kwargs)
        started.append(process)
        process.start()
        return process

    yield start
    for process in started:
        process.stop()
        process.log_path.unlink(missing_ok=True)


@pytest.fixture
def app_server() -> Iterator:
    """Factory: `app_server(env={...}, workers=1)` starts gunicorn and returns
    the AppServer; every server started is stopped at teardown."""
    def make(*, env: dict[str, str], workers: int = 1) -> AppServer:
        return AppServer(env=app_environment(**env), workers=workers)

    yield from _started_processes(make)


@dataclass
class CeleryWorkerProcess:
    """`celery worker` as a subprocess (prefork pool unless told), logging to a file."""

    env: dict[str, str]
    concurrency: int = 1
    pool: str = "prefork"
    process: subprocess.Popen | None = None
    log_path: Path = field(default_factory=lambda: temp_file("slo-worker-", ".log"))

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [PYTHON, "-m", "celery", "-A", "slo_engine", "worker", "--pool", self.pool,
                 "--concurrency", str(self.concurrency), "--loglevel", "INFO",
                 "--without-gossip", "--without-mingle", "--without-heartbeat"],
                cwd=BASE_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )

        def ready() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"celery worker exited early:\n{self.logs()[-4000:]}")
            return " ready." in self.logs()

        wait_until(ready, timeout=60, interval=0.2, what="celery worker to be ready")

    def pool_pids(self) -> list[int]:
        """The pool's child processes (those that run the tasks)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()] if children.exists() else []

    def stop(self) -> None:
        stop_process_group(self.process, timeout=30)
        self.process = None

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def celery_worker_process() -> Iterator:
    """Factory: `celery_worker_process(env={...})` starts a `celery worker`
    subprocess with that environment; stopped (or reaped) at teardown."""
    def make(*, env: dict[str, str], concurrency: int = 1, pool: str = "prefork") -> CeleryWorkerProcess:
        return CeleryWorkerProcess(env=app_environment(**env), concurrency=concurrency, pool=pool)

    yield from _started_processes(make)
