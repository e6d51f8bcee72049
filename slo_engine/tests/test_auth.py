"""API keys (Api-Key, Bearer, X-API-Key), scopes, expiry, revocation, staff sessions."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework.test import APIClient

from slo_engine.models import ApiKey
from slo_engine.testing.api import make_api_key

pytestmark = pytest.mark.django_db
INGEST = "/api/v1/services/dependencies"
PAYLOAD = {"edges": [{"source": "a", "target": "b"}]}


def client_with(**headers) -> APIClient:
    client = APIClient()
    client.credentials(**headers)
    return client


def test_no_key_is_401_problem(anon_client):
    response = anon_client.get("/api/v1/services")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response["WWW-Authenticate"].startswith("Api-Key")
    assert anon_client.post(INGEST, PAYLOAD, format="json").status_code == 401


@pytest.mark.parametrize("header", ["Api-Key", "Bearer", "X-API-Key"])
def test_every_header_form_works(write_key, header):
    client = client_with(HTTP_X_API_KEY=write_key) if header == "X-API-Key" else \
        client_with(HTTP_AUTHORIZATION=f"{header} {write_key}")
    assert client.post(INGEST, PAYLOAD, format="json").status_code == 200
    assert client.get("/api/v1/services").status_code == 200


def test_read_key_cannot_write(read_client):
    response = read_client.post(INGEST, PAYLOAD, format="json")
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    assert "write" in response.json()["detail"]
    assert read_client.get("/api/v1/services").status_code == 200


def test_wrong_expired_and_revoked_keys_are_401(read_key):
    assert client_with(HTTP_AUTHORIZATION="Api-Key nope.nope").get("/api/v1/services").status_code == 401
    expired = make_api_key("old", "read", expiry_date=timezone.now() - timedelta(days=1))
    response = client_with(HTTP_AUTHORIZATION=f"Api-Key {expired}").get("/api/v1/services")
    assert response.status_code == 401 and "expired" in response.json()["detail"]
    ApiKey.objects.filter(name="test-read").update(revoked=True)
    response = client_with(HTTP_AUTHORIZATION=f"Bearer {read_key}").get("/api/v1/services")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"


def test_keys_are_hashed_at_rest(write_key):
    stored = ApiKey.objects.get(name="test-write")
    assert write_key.split(".")[1] not in stored.hashed_key
    assert stored.prefix == write_key.split(".")[0]


def test_staff_session_works_for_reads_and_writes_other_sessions_do_not():
    staff = User.objects.create_user("ops", password="pw-123456", is_staff=True)
    client = APIClient()
    client.force_login(staff)
    assert client.get("/api/v1/services").status_code == 200
    plain = User.objects.create_user("someone", password="pw-123456")
    client = APIClient()
    client.force_login(plain)
    assert client.get("/api/v1/services").status_code == 401


def test_audit_fields_name_the_key(write_client):
    write_client.post(INGEST, {"nodes": [{"service_id": "a"}]}, format="json")
    from graph.models import Service

    assert Service.objects.get(service_id="a").created_by == "api-key:test-write"
