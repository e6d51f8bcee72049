"""Large cached values kept decoded in each process, checked against the
shared cache on every use.

A whole-graph structure costs more to fetch from Redis and unpickle (and, as
tens of thousands of objects, in garbage collection) than a request can
afford, yet it changes only when the data behind its key changes. So the
value is stored in the shared cache beside a small random token, and each
process keeps its own decoded copy with the token it came with: a use reads
the token alone (one small GET) and takes the local copy while the token
matches. A new value under the key (another process rebuilt it) or an
emptied cache (a deploy, a test) changes or removes the token, so a process
never serves a copy the shared cache no longer vouches for.
"""

import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar

from django.core.cache import cache

T = TypeVar("T")

# Decoded copies per process; old keys (a graph version ago) fall out first.
LOCAL_COPIES = 4

_local: OrderedDict[str, tuple[str, object]] = OrderedDict()
_lock = threading.Lock()


def _remember(key: str, token: str, value: object) -> None:
    with _lock:
        _local[key] = (token, value)
        _local.move_to_end(key)
        while len(_local) > LOCAL_COPIES:
            _local.popitem(last=False)


def cache_get_or_build(key: str, build: Callable[[], T], timeout: int) -> T:
    """The value cached under `key`, from this process's copy when the shared
    cache still vouches for it, else from the shared cache, else `build()`
    (stored in both). `key` must change whenever the value would: it names
    the data it was built from (a graph version, a fingerprint)."""
    token_key = f"{key}:token"
    token = cache.get(token_key)
    if token is not None:
        with _lock:
            local = _local.get(key)
        if local is not None and local[0] == token:
            return local[1]  # type: ignore[return-value]
        value = cache.get(key)
        if value is not None:
            _remember(key, token, value)
            return value
    value = build()
    token = uuid.uuid4().hex
    cache.set_many({key: value, token_key: token}, timeout)
    _remember(key, token, value)
    return value
