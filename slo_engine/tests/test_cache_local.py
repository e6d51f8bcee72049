"""Per-process copies of large cached values, vouched for by a token in the
shared cache (Redis in the tests)."""

from django.core.cache import cache

from slo_engine import cache_local
from slo_engine.cache_local import cache_get_or_build


def test_built_once_then_served_from_the_local_copy():
    builds = []
    build = lambda: builds.append(1) or {"n": len(builds)}  # noqa: E731
    assert cache_get_or_build("t:a", build, 60) == {"n": 1}
    cache.delete("t:a")  # the shared value may go: the token still vouches for the local copy
    assert cache_get_or_build("t:a", build, 60) == {"n": 1}
    assert builds == [1]


def test_another_process_rebuilding_replaces_the_local_copy():
    assert cache_get_or_build("t:b", lambda: "mine", 60) == "mine"
    cache.set_many({"t:b": "theirs", "t:b:token": "their-token"}, 60)  # as another process would
    assert cache_get_or_build("t:b", lambda: "rebuilt", 60) == "theirs"


def test_an_emptied_cache_means_a_rebuild():
    assert cache_get_or_build("t:c", lambda: "old", 60) == "old"
    cache.clear()
    assert cache_get_or_build("t:c", lambda: "new", 60) == "new"
    assert cache.get("t:c") == "new"


def test_only_a_few_local_copies_are_kept():
    for i in range(cache_local.LOCAL_COPIES + 3):
        cache_get_or_build(f"t:many:{i}", lambda i=i: i, 60)
    assert len(cache_local._local) == cache_local.LOCAL_COPIES
    assert "t:many:0" not in cache_local._local
