"""API client fixtures: a DRF test client and read/write API keys."""

import pytest
from rest_framework.test import APIClient

from slo_engine.models import ApiKey, ApiKeyScope


def create_api_key(name: str, scope: str = ApiKeyScope.READ, **fields) -> str:
    """Create an API key and return the plain `prefix.secret` string."""
    _, key = ApiKey.objects.create_key(name=name, scope=scope, **fields)
    return key


@pytest.fixture
def make_api_key(db):
    """`make_api_key(name, scope="read", **fields)` -> the plain key string."""
    return create_api_key


@pytest.fixture
def read_key(db) -> str:
    return create_api_key("test-read", ApiKeyScope.READ)


@pytest.fixture
def write_key(db) -> str:
    return create_api_key("test-write", ApiKeyScope.WRITE)


@pytest.fixture
def anon_client() -> APIClient:
    return APIClient()


@pytest.fixture
def read_client(read_key) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {read_key}")
    return client


@pytest.fixture
def write_client(write_key) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {write_key}")
    return client


@pytest.fixture(autouse=True)
def _clear_cache():
    """Each test starts with an empty cache (subgraph cache, throttle counters)."""
    from django.core.cache import cache

    cache.clear()
    yield
