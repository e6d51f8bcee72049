"""SLO_AUTO_APPROVE and SLO_STATUS_INTERVAL_MINUTES are parsed strictly: a
bad value stops the process with ImproperlyConfigured naming the setting."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRINT = ("import django, json; django.setup(); from django.conf import settings; "
         "print(json.dumps([settings.SLO_AUTO_APPROVE, settings.SLO_STATUS_INTERVAL_MINUTES]))")


def _load(**env):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SLO_")}
    environment.update(env, DJANGO_SETTINGS_MODULE="slo_engine.settings")
    return subprocess.run([sys.executable, "-c", PRINT], cwd=ROOT, env=environment, capture_output=True,
                          text=True, timeout=60)


def test_defaults_off_and_five_minutes():
    result = _load()
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [None, 5]
    assert json.loads(_load(SLO_AUTO_APPROVE="off").stdout)[0] is None


def test_a_valid_policy_is_completed_with_defaults():
    result = _load(SLO_AUTO_APPROVE='{"criticality": ["low"], "min_completeness": 0.9}',
                   SLO_STATUS_INTERVAL_MINUTES="10")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [{"criticality": ["low"], "tier": "balanced", "min_completeness": 0.9}, 10]


@pytest.mark.parametrize("env,message", [
    ({"SLO_AUTO_APPROVE": "yes please"}, "SLO_AUTO_APPROVE must be a JSON object"),
    ({"SLO_AUTO_APPROVE": "[1, 2]"}, "SLO_AUTO_APPROVE must be a JSON object"),
    ({"SLO_AUTO_APPROVE": '{"tier": "premium"}'}, "SLO_AUTO_APPROVE.tier"),
    ({"SLO_AUTO_APPROVE": '{"criticality": ["urgent"]}'}, "SLO_AUTO_APPROVE.criticality"),
    ({"SLO_AUTO_APPROVE": '{"min_completeness": 2}'}, "SLO_AUTO_APPROVE.min_completeness"),
    ({"SLO_AUTO_APPROVE": '{"teams": ["a"]}'}, "unknown keys"),
    ({"SLO_STATUS_INTERVAL_MINUTES": "0"}, "SLO_STATUS_INTERVAL_MINUTES must be >= 1"),
    ({"SLO_STATUS_INTERVAL_MINUTES": "five"}, "SLO_STATUS_INTERVAL_MINUTES must be an integer"),
])
def test_bad_values_fail_loudly(env, message):
    result = _load(**env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and message in result.stderr
