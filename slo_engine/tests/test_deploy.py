"""The deployment files parse, and run the same commands the tests exercise."""

import os
import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _compose_command() -> list[str]:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return ["docker", "compose"]


def test_compose_file_is_valid():
    result = subprocess.run(
        [*_compose_command(), "-f", str(ROOT / "docker-compose.yml"), "config"],
        env={**os.environ, "SECRET_KEY": "compose-check"}, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    assert {"postgres", "redis", "web", "worker", "beat", "prometheus"} <= set(config["services"])


def test_compose_runs_the_commands_the_project_uses():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert services["web"]["command"][:3] == ["gunicorn", "slo_engine.wsgi:application", "--config"]
    assert (ROOT / services["web"]["command"][3]).exists()
    assert services["worker"]["command"][:4] == ["celery", "-A", "slo_engine", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "slo_engine", "beat"]
    assert "setup_periodic_tasks" in " ".join(services["migrate"]["command"])
    # The image's default command is the web command.
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'CMD ["gunicorn", "slo_engine.wsgi:application", "--config", "gunicorn.conf.py"]' in dockerfile
    assert "USER app" in dockerfile


def test_gunicorn_config_loads():
    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "gunicorn"), "--check-config", "--config", "gunicorn.conf.py",
         "slo_engine.wsgi:application"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
