from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from slo_engine.models import ApiKey

pytestmark = pytest.mark.django_db


def create(*args) -> str:
    out, err = StringIO(), StringIO()
    call_command("create_api_key", *args, stdout=out, stderr=err)
    lines = out.getvalue().splitlines()
    assert len(lines) == 1  # the key alone on stdout, so scripts can capture it
    return lines[0]


def test_prints_a_working_key_once():
    key = create("ci-pipeline", "--scope", "write", "--expires", "30")
    stored = ApiKey.objects.get(name="ci-pipeline")
    assert (stored.scope, stored.prefix) == ("write", key.split(".")[0])
    assert stored.expiry_date is not None
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    response = client.post("/api/v1/services/dependencies", {"nodes": [{"service_id": "a"}]}, format="json")
    assert response.status_code == 200


def test_default_scope_is_read():
    key = create("dashboard")
    assert ApiKey.objects.get(name="dashboard").scope == "read"
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=key)
    assert client.post("/api/v1/services/dependencies", {"nodes": []}, format="json").status_code == 403


def test_rejects_bad_arguments():
    with pytest.raises(CommandError):
        call_command("create_api_key", "x", "--expires", "0", stdout=StringIO(), stderr=StringIO())
    with pytest.raises(CommandError):
        call_command("create_api_key", "x", "--scope", "admin", stdout=StringIO(), stderr=StringIO())
