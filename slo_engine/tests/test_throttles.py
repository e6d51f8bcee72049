"""Rate limits hold under concurrency: the counter is one atomic INCR."""

from types import SimpleNamespace

from slo_engine.api.throttles import QueryRateThrottle


def _request(user_pk: int):
    return SimpleNamespace(user=SimpleNamespace(is_authenticated=True, pk=user_pk), META={})


def test_concurrent_requests_never_exceed_the_limit(settings, run_together):
    settings.RATE_LIMIT_QUERY = "10/min"

    def burst():
        return [QueryRateThrottle().allow_request(_request(4242), view=None) for _ in range(5)]

    allowed = [verdict for verdicts in run_together(burst, [()] * 8, timeout=30) for verdict in verdicts]
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
