"""Scoring against a real Prometheus whose history has a known fast burn in
the last hour: availability (errors) and latency (a histogram) SLOs."""

from datetime import UTC, datetime, timedelta

import pytest

from slos.models import SloStatus
from slos.services import slo_status_refresh
from slos.tests.factories import SloFactory
from telemetry.sources.prometheus import PrometheusSource

pytestmark = [pytest.mark.prometheus, pytest.mark.django_db]

END = datetime.now(UTC).replace(second=0, microsecond=0)
PER_MINUTE = 600.0  # requests a minute
BASE_ERROR_RATIO = 0.0005  # burn 0.5 on a 99.9% SLO
BURN_ERROR_RATIO = 0.02  # burn 20 in the last hour
BASE_SLOW_RATIO = 0.005  # burn 0.5 on "99% under 500 ms"
BURN_SLOW_RATIO = 0.3  # burn 30 in the last hour
BURN_START = END - timedelta(hours=1)
HISTORY_START = END - timedelta(days=29)


def _ratio(t: datetime, base: float, burn: float) -> float:
    return burn if t > BURN_START else base


def _times() -> list[datetime]:
    """Every 5 minutes, then every minute over the last 6 hours (the short
    burn windows need several samples)."""
    times, t = [], HISTORY_START
    while t <= END:
        times.append(t)
        t += timedelta(minutes=1) if t >= END - timedelta(hours=6) else timedelta(minutes=5)
    return times


def _history() -> str:
    server = 'service_name="checkout",span_name="GET /cart",span_kind="SPAN_KIND_SERVER"'
    calls = ["# TYPE traces_span_metrics_calls counter"]
    histogram = ["# TYPE traces_span_metrics_duration_milliseconds histogram"]
    ok = errors = fast = count = 0.0
    previous = None
    for t in _times():
        if previous is not None:
            minutes = (t - previous).total_seconds() / 60
            requests = PER_MINUTE * minutes
            errors += requests * _ratio(t, BASE_ERROR_RATIO, BURN_ERROR_RATIO)
            ok += requests * (1 - _ratio(t, BASE_ERROR_RATIO, BURN_ERROR_RATIO))
            fast += requests * (1 - _ratio(t, BASE_SLOW_RATIO, BURN_SLOW_RATIO))
            count += requests
        previous = t
        ts = f"{t.timestamp():.3f}"
        calls.append(f'traces_span_metrics_calls_total{{{server},status_code="STATUS_CODE_UNSET"}} {ok:.3f} {ts}')
        calls.append(f'traces_span_metrics_calls_total{{{server},status_code="STATUS_CODE_ERROR"}} {errors:.3f} {ts}')
        for le, value in (("100.0", fast * 0.5), ("500.0", fast), ("+Inf", count)):
            histogram.append(f'traces_span_metrics_duration_milliseconds_bucket{{{server},le="{le}"}} {value:.3f} {ts}')
        histogram.append(f"traces_span_metrics_duration_milliseconds_count{{{server}}} {count:.3f} {ts}")
    return "\n".join(calls + histogram) + "\n# EOF\n"


@pytest.fixture(scope="module")
def prometheus(prometheus_factory):
    return prometheus_factory(_history())


def _expected_remaining(base: float, burn: float, budget: float) -> float:
    minutes = 28 * 24 * 60
    bad = PER_MINUTE * ((minutes - 60) * base + 60 * burn)
    return 1 - bad / (budget * PER_MINUTE * minutes)


def test_fast_burn_in_the_last_hour_pages(prometheus):
    availability = SloFactory(service__service_id="checkout", target=0.999)
    latency = SloFactory(service=availability.service, sli_type="latency", metric="latency_p99",
                         threshold_ms=500, target=0.99)
    source = PrometheusSource(base_url=prometheus.url, timeout=10, retries=0)

    result = slo_status_refresh(slos=[availability, latency], source=source, now=END)

    assert (result.scored, result.stale) == (2, 0)
    status = SloStatus.objects.get(slo=availability)
    assert status.burn_rates["1h"] == pytest.approx(20.0, rel=0.03)
    assert status.burn_rates["6h"] == pytest.approx((5 * 0.5 + 20) / 6, rel=0.03)
    assert status.burn_rates["1d"] == pytest.approx((23 * 0.5 + 20) / 24, rel=0.03)
    assert status.burn_rates["3d"] == pytest.approx((71 * 0.5 + 20) / 72, rel=0.03)
    assert status.firing == "page"
    assert [c["condition"] for c in status.firing_conditions] == ["page_1h_5m"]
    assert status.health == "critical"
    assert status.budget_remaining == pytest.approx(
        _expected_remaining(BASE_ERROR_RATIO, BURN_ERROR_RATIO, 0.001), abs=0.01)
    assert status.window_availability == pytest.approx(
        1 - ((28 * 1440 - 60) * BASE_ERROR_RATIO + 60 * BURN_ERROR_RATIO) / (28 * 1440), abs=2e-5)
    assert status.budget_total_minutes == pytest.approx(40.32)
    # At the 1-day burn rate the budget left (about half) runs out in remaining x 28 / rate days.
    days_left = status.budget_remaining * 28 / status.burn_rates["1d"]
    assert days_left < 28
    assert abs((status.exhaustion_at - (END + timedelta(days=days_left))).total_seconds()) < 60
    assert status.burn_down[-1] == [int(END.timestamp()), pytest.approx(status.budget_remaining, abs=1e-5)]
    assert len(status.burn_down) >= 100 and not status.stale

    slow = SloStatus.objects.get(slo=latency)
    assert slow.burn_rates["1h"] == pytest.approx(30.0, rel=0.03)
    assert slow.firing == "page" and slow.health == "critical"
    assert slow.budget_remaining == pytest.approx(_expected_remaining(BASE_SLOW_RATIO, BURN_SLOW_RATIO, 0.01),
                                                  abs=0.01)

    # An hour earlier the burn had not started: healthy, nothing fires.
    calm = slo_status_refresh(slos=[availability], source=source, now=BURN_START - timedelta(minutes=1))
    assert calm.by_health == {"healthy": 1}
    status.refresh_from_db()
    assert status.firing is None and status.burn_rates["1h"] == pytest.approx(0.5, rel=0.03)


def test_unreachable_prometheus_keeps_the_last_status_marked_stale(prometheus):
    slo = SloFactory(service__service_id="checkout", target=0.999)
    never_scored = SloFactory(service__service_id="cart", target=0.999)
    source = PrometheusSource(base_url=prometheus.url, timeout=10, retries=0)
    slo_status_refresh(slos=[slo], source=source, now=END)
    before = SloStatus.objects.get(slo=slo)

    down = PrometheusSource(base_url="http://127.0.0.1:9", timeout=2, retries=0)
    result = slo_status_refresh(slos=[slo, never_scored], source=down, now=END + timedelta(minutes=5))

    assert (result.scored, result.stale) == (0, 2)
    after = SloStatus.objects.get(slo=slo)
    assert after.stale and "unavailable" in after.error
    assert (after.computed_at, after.health, after.burn_rates) == (before.computed_at, before.health,
                                                                  before.burn_rates)
    unknown = SloStatus.objects.get(slo=never_scored)
    assert unknown.stale and unknown.health == "unknown"
    # The next good run clears the flag.
    slo_status_refresh(slos=[slo], source=source, now=END)
    assert not SloStatus.objects.get(slo=slo).stale


def test_latency_events_follow_a_tempo_histogram_in_seconds():
    """On Tempo's naming the histogram is in seconds: 500 ms is le 0.5."""
    from telemetry.sources import prometheus as module

    source = PrometheusSource(base_url="http://127.0.0.1:9", timeout=1, retries=0)
    module._naming_cache[source.base_url] = (float("inf"), module.TEMPO_NAMING)
    try:
        total, good, is_good = source._event_expressions("checkout", 500.0, None)
    finally:
        module.naming_cache_clear()
    assert is_good
    assert good.safe_substitute(window="5m") == (
        'sum(increase(traces_spanmetrics_latency_bucket{service="checkout",span_kind="SPAN_KIND_SERVER",'
        'le="0.5"}[5m]))')
    assert 'le="+Inf"' in total.safe_substitute(window="5m")
