"""The deterministic demo telemetry source."""

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from django.conf import settings

from telemetry.sources import TelemetrySource, get_telemetry_source
from telemetry.sources.demo import (
    DEMO_ONGOING_INCIDENTS,
    DEMO_SCENARIOS,
    DemoSource,
    demo_services,
    demo_topology_edges,
)

TODAY = date(2026, 3, 1)


def _month(source, service_id):
    return source.daily_history(service_id, start=TODAY - timedelta(days=29), end=TODAY)


def test_is_a_telemetry_source_chosen_by_name():
    assert isinstance(DemoSource(), TelemetrySource)
    assert get_telemetry_source("demo").name == "demo"


def test_last_day_with_data_is_yesterday_by_default():
    source = DemoSource()
    yesterday = source.today
    history = source.daily_history("checkout", start=yesterday - timedelta(days=5), end=yesterday + timedelta(days=1))
    assert history.days[-1].day == yesterday and len(history.days) == 6


def test_topology_is_read_from_the_demo_data_file():
    data = json.loads((settings.BASE_DIR / "demo" / "data" / "otel-demo-topology.json").read_text())
    expected = {(e["source"], e["target"], e["attributes"]["communication_mode"], e["attributes"]["criticality"],
                 e["attributes"]["protocol"]) for e in data["edges"]}
    assert set(demo_topology_edges()) == expected
    assert set(demo_services()) == {n["service_id"] for n in data["nodes"]}
    assert set(DEMO_SCENARIOS) <= set(demo_services())


def test_history_is_deterministic_and_independent_of_the_range():
    first, second = DemoSource(last_day=TODAY), DemoSource(last_day=TODAY)
    assert _month(first, "checkout") == _month(second, "checkout")
    week = first.daily_history("checkout", start=TODAY - timedelta(days=6), end=TODAY)
    assert week.days == _month(first, "checkout").days[-7:]
    assert _month(first, "checkout").days != _month(first, "payment").days


def test_scenarios():
    source = DemoSource(last_day=TODAY)
    assert len(_month(source, "checkout").days) == 30
    assert len(_month(source, "chatbot").days) == 10
    assert len(_month(source, "mcp").days) == 7
    assert _month(source, "astronomy-db").days == ()
    noisy = _month(source, "recommendation").days
    assert any(d.good > d.total for d in noisy)  # bad data the recommender must reject
    unknown = _month(source, "some-new-service")
    assert len(unknown.days) == 30 and all(0 <= d.good <= d.total for d in unknown.days)
    assert all(99 in d.latency_ms for d in unknown.days)
    availability = {sid: sum(d.good for d in _month(source, sid).days) / sum(d.total for d in _month(source, sid).days)
                    for sid in ("currency", "checkout", "quote", "shipping")}
    assert availability["currency"] > 0.999
    # checkout passes on a share of its hard dependencies' failures (shipping's, quote's...).
    assert 0.998 < availability["checkout"] < availability["currency"]
    assert availability["quote"] < 0.999
    # shipping fails whenever quote does: most of its failures are quote's.
    assert (1 - availability["quote"]) > 0.5 * (1 - availability["shipping"])


def test_window_sli_agrees_with_daily_history():
    source = DemoSource(last_day=TODAY)
    window = source.window_sli("checkout", window="7d")
    days = source.daily_history("checkout", start=TODAY - timedelta(days=6), end=TODAY).days
    assert window.sample_count == round(sum(d.total for d in days))
    assert window.values["availability"] == pytest.approx(sum(d.good for d in days) / sum(d.total for d in days))
    assert source.window_sli("astronomy-db", window="1d").sample_count == 0
    with pytest.raises(ValueError):
        source.window_sli("checkout", window="2w")


def test_service_graph_edges_are_the_demo_topology():
    edges = DemoSource(last_day=TODAY).service_graph_edges(lookback="15m")
    assert len(edges) == len(demo_topology_edges())
    types = {(e.client, e.server): e.connection_type for e in edges}
    assert types[("checkout", "kafka")] == "messaging_system"
    assert types[("product-catalog", "astronomy-db")] == "database"
    assert types[("frontend", "checkout")] == ""
    assert all(e.request_count > 0 for e in edges)


SLO_WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")


def _slo_events(service_id, at, **kwargs):
    return DemoSource(last_day=at.date() - timedelta(days=1)).slo_events(
        service_id, window_days=28, windows=SLO_WINDOWS, step=timedelta(hours=6), at=at, **kwargs)


def test_slo_events_agree_with_the_daily_history():
    at = datetime(2026, 3, 2, tzinfo=UTC)  # a midnight: the window is 28 complete days
    events = _slo_events("checkout", at)
    assert len(events.series) == 112 and events.series[-1][0] == at
    days = DemoSource(last_day=TODAY).daily_history("checkout", start=TODAY - timedelta(days=27), end=TODAY).days
    assert sum(e.total for _, e in events.series) == pytest.approx(sum(d.total for d in days), rel=1e-9)
    daily_availability = sum(d.good for d in days) / sum(d.total for d in days)
    hourly_availability = sum(e.good for _, e in events.series) / sum(e.total for _, e in events.series)
    assert hourly_availability == pytest.approx(daily_availability, abs=2e-4)
    # The 1-day window is the last day, in full.
    assert events.windows["1d"].total == pytest.approx(days[-1].total, rel=1e-9)
    assert events.windows["5m"].total == pytest.approx(events.windows["1h"].total / 12, rel=0.2)


def test_slo_events_of_an_ongoing_incident_and_of_no_data():
    at = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)
    share, _hours = DEMO_ONGOING_INCIDENTS["frontend"]
    burning = _slo_events("frontend", at).windows["1h"]
    assert 1 - burning.good / burning.total == pytest.approx(share)
    empty = _slo_events("astronomy-db", at)
    assert empty.series == () and set(empty.windows.values()) == {None}
    # Latency: the share under a generous threshold is higher than under a tight one.
    loose = _slo_events("checkout", at, threshold_ms=2500).windows["1d"]
    tight = _slo_events("checkout", at, threshold_ms=25).windows["1d"]
    assert loose.good / loose.total > tight.good / tight.total


def test_edge_traffic_is_the_calls_behind_the_callers_failures():
    from telemetry.sources.demo import edge_call_share, hard_sync_dependencies

    source = DemoSource(last_day=TODAY)
    start = TODAY - timedelta(days=29)
    edges = {(e.client, e.server): e for e in source.edge_traffic(start=start, end=TODAY)}
    # Every hard sync pair of the topology (each client has data in the span).
    assert set(edges) == {(c, s) for c, servers in hard_sync_dependencies().items() for s in servers}
    assert ("checkout", "kafka") not in edges and ("frontend", "ad") not in edges  # async, soft
    checkout_total = sum(d.total for d in _month(source, "checkout").days)
    payment = edges[("checkout", "payment")]
    assert payment.requests == pytest.approx(checkout_total * edge_call_share("checkout", "payment"), rel=1e-3)
    # Failures propagate: the failed calls to hard dependencies are part of
    # the caller's own failures.
    checkout_failed = sum(d.total - d.good for d in _month(source, "checkout").days)
    dependency_failed = sum(e.failed for (client, _), e in edges.items() if client == "checkout")
    assert 0 < dependency_failed < checkout_failed
    # shipping passes on every failure of quote: the edge fails as quote does.
    quote_days = _month(source, "quote").days
    quote = sum(d.total - d.good for d in quote_days) / sum(d.total for d in quote_days)
    assert 1 - edges[("shipping", "quote")].availability == pytest.approx(quote, rel=0.05)
    # Nothing after the last day with data; the same numbers from any process.
    assert source.edge_traffic(start=TODAY + timedelta(days=1), end=TODAY + timedelta(days=5)) == []
    assert DemoSource(last_day=TODAY).edge_traffic(start=start, end=TODAY) == list(edges.values())


def test_history_reaches_back_120_days_for_the_backtest():
    source = DemoSource(last_day=TODAY)
    history = source.daily_history("checkout", start=TODAY - timedelta(days=179), end=TODAY)
    assert len(history.days) == 180


def test_discovered_hard_sync_edges_carry_the_failures_of_their_calls():
    source = DemoSource(last_day=TODAY)
    edges = {(e.client, e.server): e for e in source.service_graph_edges(lookback="1h")}
    day = {(e.client, e.server): e for e in source.edge_traffic(start=TODAY, end=TODAY)}
    shipping_quote = edges[("shipping", "quote")]
    assert shipping_quote.window_seconds == 3600
    assert shipping_quote.failed_count / shipping_quote.request_count == pytest.approx(
        1 - day[("shipping", "quote")].availability, rel=0.01)
    assert edges[("frontend", "ad")].failed_count == 0  # soft: no failure model
