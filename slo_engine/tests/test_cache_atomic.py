"""Atomic cache operations (slo_engine/cache_atomic.py) on a real, private
Redis that the tests stop and restart, and on the in-process cache of the
quick start."""

import logging

import pytest
from django.core.cache import cache
from django.test import override_settings
from django_redis import get_redis_connection

from slo_engine.cache_atomic import cache_incr_with_expiry, cache_set_if_greater
from slo_engine.processes import wait_until


def redis_caches(url: str) -> dict:
    """The production cache settings (settings.py), pointed at `url`."""
    return {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": "atomic-test",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5, "IGNORE_EXCEPTIONS": True},
        }
    }


LOCMEM_CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "atomic-test"}}


@pytest.fixture
def redis_cache(private_redis):
    """The default cache is a private Redis (override_settings resets the
    cache handlers, so `django.core.cache.cache` follows); yields the server."""
    with override_settings(CACHES=redis_caches(private_redis.url)):
        cache.clear()
        yield private_redis


@pytest.fixture(params=["redis", "locmem"])
def any_cache(request):
    """Each test runs on Redis (Lua scripts) and on the in-process cache."""
    if request.param == "redis":
        request.getfixturevalue("redis_cache")
        yield
    else:
        with override_settings(CACHES=LOCMEM_CACHES):
            cache.clear()
            yield


def ttl(key: str) -> int:
    return get_redis_connection("default").ttl(cache.make_key(key))


def test_counter_counts_from_one(any_cache):
    assert [cache_incr_with_expiry("hits", 60) for _ in range(3)] == [1, 2, 3]
    assert cache_incr_with_expiry("other-hits", 60) == 1


def test_counter_expires_one_window_after_its_creation(redis_cache):
    assert cache_incr_with_expiry("window", 100) == 1
    assert 0 < ttl("window") <= 100
    # Later increments keep the first expiry: the window does not slide.
    assert cache_incr_with_expiry("window", 1000) == 2
    assert 0 < ttl("window") <= 100


def test_an_expired_counter_starts_again_at_one(any_cache):
    assert cache_incr_with_expiry("short", 1) == 1
    assert cache_incr_with_expiry("short", 1) == 2
    wait_until(lambda: cache.get("short") is None, timeout=5, what="the counter to expire")
    assert cache_incr_with_expiry("short", 1) == 1


def test_concurrent_increments_lose_no_count(redis_cache, run_together):
    def hammer():
        return [cache_incr_with_expiry("busy", 60) for _ in range(25)]

    counts = [count for burst in run_together(hammer, [()] * 8, timeout=30) for count in burst]
    assert sorted(counts) == list(range(1, 201))


def test_set_if_greater_only_ever_raises_the_value(any_cache):
    assert cache_set_if_greater("version", 5, 60) is True
    assert cache.get("version") == 5
    assert cache_set_if_greater("version", 3, 60) is False
    assert cache_set_if_greater("version", 5, 60) is False
    assert cache.get("version") == 5
    assert cache_set_if_greater("version", 6, 60) is True
    assert cache.get("version") == 6


def test_set_if_greater_stores_with_the_timeout(redis_cache):
    assert cache_set_if_greater("version", 7, 30) is True
    assert 0 < ttl("version") <= 30
    # The stored integer is what Django's cache API reads back.
    assert cache.get("version") == 7


def test_both_return_none_while_redis_is_down_and_work_again_after(redis_cache, caplog):
    assert cache_incr_with_expiry("hits", 60) == 1
    assert cache_set_if_greater("version", 2, 60) is True
    redis_cache.stop()
    with caplog.at_level(logging.WARNING, logger="slo_engine.cache"):
        assert cache_incr_with_expiry("hits", 60) is None
        assert cache_set_if_greater("version", 3, 60) is None
    assert [r.name for r in caplog.records if "cache script" in r.getMessage()] == ["slo_engine.cache"] * 2
    # A restarted (empty) Redis is used again without any intervention.
    redis_cache.start()
    assert cache_incr_with_expiry("hits", 60) == 1
    assert cache_set_if_greater("version", 1, 60) is True
    assert cache.get("version") == 1
