"""Rate limits hold under concurrency: the counter is one atomic INCR."""

import threading
from types import SimpleNamespace

from slo_engine.api.throttles import QueryRateThrottle


def _request(user_pk: int):
    return SimpleNamespace(user=SimpleNamespace(is_authenticated=True, pk=user_pk), META={})


def test_concurrent_requests_never_exceed_the_limit(settings):
    settings.RATE_LIMIT_QUERY = "10/min"
    allowed: list[bool] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def burst():
        barrier.wait()
        for _ in range(5):
            verdict = QueryRateThrottle().allow_request(_request(4242), view=None)
            with lock:
                allowed.append(verdict)

    threads = [threading.Thread(target=burst) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(allowed) == 40
    assert allowed.count(True) == 10


def test_state_reports_remaining_and_reset(settings):
    settings.RATE_LIMIT_QUERY = "3/min"
    throttle = QueryRateThrottle()
    assert throttle.allow_request(_request(7), view=None)
    state = throttle.rate_limit_state()
    assert (state["limit"], state["remaining"]) == (3, 2)
    assert 0 <= state["reset"] <= 60
    assert 0 <= throttle.wait() <= 60
    # Another caller has its own window.
    other = QueryRateThrottle()
    assert other.allow_request(_request(8), view=None)
    assert other.rate_limit_state()["remaining"] == 2
