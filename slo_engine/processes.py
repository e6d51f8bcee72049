"""Running the application as subprocesses: gunicorn on a free port, a
one-off Django process, a fresh database bootstrapped with API keys.

Used by the load benchmark (`graph/benchmarks/load.py`) and by the test
fixtures in `testing/`; imports no app."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

BASE_DIR = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def free_port() -> int:
    """A TCP port nobody listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def temp_file(prefix: str, suffix: str) -> Path:
    descriptor, name = tempfile.mkstemp(prefix=prefix, suffix=suffix)
    os.close(descriptor)
    return Path(name)


def wait_until(predicate, *, timeout: float, interval: float = 0.05, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


# Runs inside a subprocess pointed at the private database: migrate, then
# create one read and one write key and print them as JSON.
_BOOTSTRAP = """
import json, django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0, interactive=False)
from slo_engine.models import ApiKeyScope
from slo_engine.models import ApiKey
keys = {scope: ApiKey.objects.create_key(name=f"fault-{scope}", scope=scope)[1]
        for scope in (ApiKeyScope.READ, ApiKeyScope.WRITE)}
print(json.dumps(keys))
"""


def app_environment(**overrides: str) -> dict[str, str]:
    """The environment of an application subprocess: the caller's, minus the
    test database override, plus `overrides`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.pop("TEST_DATABASE_NAME", None)
    env.update({"DJANGO_SETTINGS_MODULE": "slo_engine.settings", "PYTHONUNBUFFERED": "1"})
    env.update(overrides)
    return env


def bootstrap_database(*, database_url: str) -> dict[str, str]:
    """Migrate the database at `database_url` and return `{"read": key, "write": key}`."""
    result = subprocess.run(
        [PYTHON, "-c", _BOOTSTRAP], cwd=BASE_DIR, env=app_environment(DATABASE_URL=database_url, REDIS_URL=""),
        capture_output=True, text=True, timeout=300, check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"bootstrap of {database_url} failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


@dataclass
class AppServer:
    """The application under gunicorn (this repo's gunicorn.conf.py) on a free port."""

    env: dict[str, str]
    workers: int = 1
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    log_path: Path = field(default_factory=lambda: temp_file("slo-app-", ".log"))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {**self.env, "WEB_CONCURRENCY": str(self.workers), "BIND": f"127.0.0.1:{self.port}"}
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [PYTHON, "-m", "gunicorn", "-c", str(BASE_DIR / "gunicorn.conf.py"), "slo_engine.wsgi:application"],
                cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )

        def answers() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited early:\n{self.logs()[-4000:]}")
            try:
                return httpx.get(f"{self.url}/health/live", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(answers, timeout=60, interval=0.2, what=f"gunicorn on :{self.port}")

    def stop(self) -> None:
        # The whole session: the arbiter and its workers.
        stop_process_group(self.process, timeout=20)
        self.process = None

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def json_logs(self) -> list[dict]:
        """Log lines that are JSON objects (LOG_FORMAT=json), in order."""
        records = []
        for line in self.logs().splitlines():
            line = line.strip()
            if line.startswith("{"):
                try:
                    records.append(json.loads(line))
                except ValueError:
                    continue
        return records


def stop_process_group(process: subprocess.Popen | None, *, timeout: float) -> None:
    """SIGTERM a still-running process's whole session (it was started with
    start_new_session), then SIGKILL it if it has not exited in `timeout` s."""
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


def run_in_app(code: str, *, env: dict[str, str], timeout: float = 120) -> str:
    """Run Python `code` in a fresh process with Django set up against `env`
    (e.g. a private DATABASE_URL); returns its stdout."""
    result = subprocess.run(
        [PYTHON, "-c", f"import django\ndjango.setup()\n{code}"], cwd=BASE_DIR, env=env,
        capture_output=True, text=True, timeout=timeout, check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"subprocess failed:\n{result.stderr[-4000:]}")
    return result.stdout
