"""API keys (Api-Key, Bearer, X-API-Key), scopes, expiry, revocation, staff sessions."""

import threading
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from slo_engine.api import authentication
from slo_engine.models import API_KEY_CHANGED, ApiKey, api_key_cache_key

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


def test_wrong_expired_and_revoked_keys_are_401(read_key, make_api_key):
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

    assert write_client.get("/api/v1/services/a/").json()["created_by"] == "api-key:test-write"


# --- The cached key (API_KEY_CACHE_SECONDS) ---------------------------------

def get_services(key: str):
    """GET the service list with `key`; returns the response and the SQL of
    the queries that touched the API-key table."""
    with CaptureQueriesContext(connection) as queries:
        response = client_with(HTTP_AUTHORIZATION=f"Api-Key {key}").get("/api/v1/services")
    return response, [q["sql"] for q in queries.captured_queries if "slo_engine_apikey" in q["sql"]]


def new_key(name: str = "cached") -> tuple[str, ApiKey]:
    """A new read key and its row."""
    row, key = ApiKey.objects.create_key(name=name, scope="read")
    return key, row


def cached_copy(key: str) -> ApiKey | str | None:
    """The cached key, the "changed" marker a recent change left, or None."""
    return cache.get(api_key_cache_key(key.partition(".")[0]))


def statements(key_queries: list[str]) -> list[str]:
    return [sql.split()[0] for sql in key_queries]


def test_an_authenticated_request_caches_the_key_and_the_next_one_reads_no_key():
    key, stored = new_key()
    response, key_queries = get_services(key)
    assert response.status_code == 200
    assert statements(key_queries) == ["SELECT", "UPDATE"]  # load, record the use
    assert cached_copy(key).pk == stored.pk
    response, key_queries = get_services(key)
    assert response.status_code == 200
    assert key_queries == []


def test_use_is_recorded_once_a_minute_and_keeps_the_cached_copy():
    key, _ = new_key("fresh")
    response, _ = get_services(key)
    assert response.status_code == 200
    first_use = ApiKey.objects.get(name="fresh").last_used_at
    assert first_use is not None
    # Within the minute: no second write, and the cached copy still serves.
    for _ in range(2):
        response, key_queries = get_services(key)
        assert response.status_code == 200
        assert key_queries == []
    assert ApiKey.objects.get(name="fresh").last_used_at == first_use
    # The minute is over: the shared marker expired, and this process's
    # memory of having checked it is as old.
    cache.delete(f"auth:api-key-used:{key.partition('.')[0]}")
    authentication._use_checked.clear()
    response, key_queries = get_services(key)
    assert statements(key_queries) == ["UPDATE"]
    assert ApiKey.objects.get(name="fresh").last_used_at > first_use


def revoke_by_save(api_key: ApiKey) -> None:
    api_key.revoked = True
    api_key.save()


def revoke_by_bulk_update(api_key: ApiKey) -> None:
    ApiKey.objects.filter(pk=api_key.pk).update(revoked=True)


@pytest.mark.parametrize("revoke", [revoke_by_save, revoke_by_bulk_update])
def test_revoking_a_cached_key_applies_to_the_next_request(revoke):
    key, stored = new_key()
    assert get_services(key)[0].status_code == 200
    assert cached_copy(key) is not None
    revoke(stored)
    response, _ = get_services(key)
    assert response.status_code == 401
    assert response.json()["detail"] == "This API key has been revoked."


@pytest.mark.parametrize("delete", [lambda api_key: api_key.delete(),
                                    lambda api_key: ApiKey.objects.filter(pk=api_key.pk).delete()],
                         ids=["instance", "queryset"])
def test_deleting_a_cached_key_applies_to_the_next_request(delete):
    key, stored = new_key()
    assert get_services(key)[0].status_code == 200
    delete(stored)
    response, _ = get_services(key)
    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid API key."
    assert cached_copy(key) == API_KEY_CHANGED


def test_a_wrong_secret_is_rejected_while_the_key_is_cached():
    key, _ = new_key()
    assert get_services(key)[0].status_code == 200
    prefix = key.partition(".")[0]
    response, key_queries = get_services(f"{prefix}.not-the-secret")
    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid API key."
    assert key_queries == []  # checked against the cached hash
    assert get_services(key)[0].status_code == 200


def test_a_revoked_key_is_told_so_only_with_its_secret():
    key, stored = new_key()
    revoke_by_save(stored)
    response, _ = get_services(key)
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]
    response, _ = get_services(f"{key.partition('.')[0]}.not-the-secret")
    assert response.json()["detail"] == "Invalid API key."


def test_a_zero_cache_time_reads_the_key_on_every_request(settings):
    settings.API_KEY_CACHE_SECONDS = 0
    key, _ = new_key()
    for _ in range(3):
        response, key_queries = get_services(key)
        assert response.status_code == 200
        assert statements(key_queries).count("SELECT") == 1
    assert cached_copy(key) is None


@pytest.mark.django_db(transaction=True)
def test_a_request_racing_the_revocation_cannot_keep_the_key_alive():
    """A request served while the revocation is not committed yet reads the
    old key but cannot cache it over the "changed" marker; after the commit
    the key is refused."""
    key, stored = new_key()
    assert get_services(key)[0].status_code == 200
    statuses = []

    def concurrent_request():
        try:
            statuses.append(get_services(key)[0].status_code)
        finally:
            connection.close()

    with transaction.atomic():
        revoke_by_save(stored)
        thread = threading.Thread(target=concurrent_request)
        thread.start()
        thread.join(timeout=30)
        assert statuses == [200]  # the committed state: not revoked yet
        assert cached_copy(key) == API_KEY_CHANGED
    response, _ = get_services(key)
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]
