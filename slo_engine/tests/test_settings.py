"""Production settings refuse the default SECRET_KEY; bad values fail loudly."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRINT_DEBUG = "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)"


def _load_settings(**env):
    environment = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG"}}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-c", PRINT_DEBUG],
        cwd=ROOT, env={**environment, "DJANGO_SETTINGS_MODULE": "slo_engine.settings"},
        capture_output=True, text=True, timeout=60,
    )


def test_production_refuses_the_default_secret_key():
    result = _load_settings(DEBUG="false")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_starts_with_a_real_secret_key():
    result = _load_settings(DEBUG="false", SECRET_KEY="a-real-secret-from-the-environment-0123456789")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_bad_boolean_fails_loudly():
    result = _load_settings(DEBUG="maybe")
    assert result.returncode != 0
    assert "DEBUG must be a boolean" in result.stderr
