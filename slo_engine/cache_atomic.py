"""Atomic operations on the shared cache that Django's cache API lacks.

With Redis (django-redis) each is one server-side Lua script, so it takes a
single round trip and cannot interleave with the same operation from another
web process. With the in-process cache of the quick start (one process) the
plain cache calls are enough.

Both follow the cache's failure policy (IGNORE_EXCEPTIONS): when Redis is
unreachable the error is logged on `slo_engine.cache` and the caller gets
None, never an exception.
"""

import logging

from django.core.cache import cache

logger = logging.getLogger("slo_engine.cache")

# INCR creates the key at 1; only then is its expiry set, so a window's
# counter lives exactly one window whatever the number of requests.
_INCR_WITH_EXPIRY = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""

# Integers are stored raw by django-redis, so cache.get() reads them back.
_SET_IF_GREATER = """
local current = tonumber(redis.call('GET', KEYS[1]))
if current == nil or tonumber(ARGV[1]) > current then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
  return 1
end
return 0
"""

# Registered once per process (a script is its SHA); each call runs it on
# the calling thread's client.
_scripts: dict[str, object] = {}


def _redis_client():
    """The raw redis-py client behind the default cache, or None when the
    cache is not Redis."""
    client = getattr(cache, "client", None)
    get_client = getattr(client, "get_client", None)
    return get_client(write=True) if get_client is not None else None


def _run_script(client, source: str, key: str, *args) -> int | None:
    from redis.exceptions import RedisError

    script = _scripts.get(source)
    if script is None:
        script = _scripts[source] = client.register_script(source)
    try:
        return int(script(keys=[cache.make_key(key)], args=list(args), client=client))
    except (RedisError, OSError) as exc:
        logger.warning("cache script on %s failed: %s", key, exc)
        return None


def cache_incr_with_expiry(key: str, timeout: int) -> int | None:
    """Add one to the counter `key` (created at 1, expiring `timeout` seconds
    after its creation) and return the new count; None when the cache is down."""
    client = _redis_client()
    if client is None:
        cache.add(key, 0, timeout=timeout)
        try:
            return cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=timeout)
            return 1
    return _run_script(client, _INCR_WITH_EXPIRY, key, timeout)


def cache_set_if_greater(key: str, value: int, timeout: int) -> bool | None:
    """Store the integer `value` under `key` for `timeout` seconds unless the
    cache already holds a value at least as large. Returns whether it was
    stored; None when the cache is down. Used for counters that only grow,
    so writers finishing out of order cannot move them back."""
    client = _redis_client()
    if client is None:
        current = cache.get(key)
        if current is not None and int(current) >= value:
            return False
        cache.set(key, value, timeout=timeout)
        return True
    stored = _run_script(client, _SET_IF_GREATER, key, value, timeout)
    return None if stored is None else bool(stored)
