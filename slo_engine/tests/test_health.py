import pytest
from django.test import override_settings

pytestmark = pytest.mark.django_db

CLOSED_PORT_REDIS = "redis://127.0.0.1:1/0"


def test_live_answers_without_dependencies(client):
    response = client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize("path", ["/health/ready", "/api/v1/health/ready"])
def test_ready_reports_each_dependency(client, path):
    response = client.get(path)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert {"database", "cache", "broker"} <= set(body["checks"])
    assert body["checks"]["database"]["vendor"] in {"postgresql", "sqlite"}
    assert all(check["status"] == "ok" for check in body["checks"].values() if check.get("critical", True))


def test_ready_names_the_broker_when_it_is_down(client):
    with override_settings(CELERY_BROKER_URL=CLOSED_PORT_REDIS, CELERY_TASK_ALWAYS_EAGER=False):
        response = client.get("/health/ready")
    assert response.status_code == 503
    body = response.json()
    assert "broker" in body["failing"]
    assert body["checks"]["broker"]["status"] == "error"
    assert body["checks"]["database"]["status"] == "ok"


def test_ready_names_the_cache_when_it_is_down(client):
    caches = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": CLOSED_PORT_REDIS,
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2, "IGNORE_EXCEPTIONS": True},
        }
    }
    # override_settings resets the cache handlers (Django's setting_changed receiver).
    with override_settings(CACHES=caches):
        response = client.get("/health/ready")
    assert response.status_code == 503
    assert "cache" in response.json()["failing"]
