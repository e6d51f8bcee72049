"""`seed_demo`: what `make run` shows a newcomer, loaded idempotently."""

import json
import re
from io import StringIO

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command

from graph.models import AlertStatus, CircularDependencyAlert, Service, ServiceDependency
from recommendations.models import RecommendationStatus, SloRecommendation
from slo_engine.models import ApiKey
from telemetry.models import SliAggregate
from telemetry.sources.demo import DEMO_SCENARIOS

pytestmark = pytest.mark.django_db

KEY_PATTERN = re.compile(r"^([A-Za-z0-9]{8}\.[A-Za-z0-9]{32})$", re.MULTILINE)


def seed(keys_file, **options) -> str:
    out = StringIO()
    call_command("seed_demo", keys_file=keys_file, stdout=out, **options)
    return out.getvalue()


@pytest.fixture
def keys_file(tmp_path):
    return tmp_path / "run" / "demo-keys.json"


def test_seed_demo_loads_the_otel_demo_with_one_cycle(keys_file):
    output = seed(keys_file)

    topology = json.loads(django_settings.DEMO_TOPOLOGY_FILE.read_text())
    assert Service.objects.count() == len(topology["nodes"]) == 27
    manual_edges = ServiceDependency.objects.filter(discovery_source="manual")
    assert manual_edges.count() == len(topology["edges"]) + 2
    alert = CircularDependencyAlert.objects.get()
    assert alert.cycle_path == ["ad", "recommendation", "product-catalog"]
    assert alert.status == AlertStatus.OPEN
    assert "ingested the demo topology: 27 services, 44 edges" in output
    assert "1 cycle(s)" in output


def test_seed_demo_attaches_scenarios_discovers_and_recommends(keys_file):
    output = seed(keys_file)

    scenarios = dict(Service.objects.values_list("service_id", "metadata__demo_scenario"))
    assert {sid: name for sid, name in scenarios.items() if name != "steady"} == DEMO_SCENARIOS
    # OTel discovery confirmed every topology edge from the demo telemetry.
    assert ServiceDependency.objects.filter(discovery_source="otel_service_graph").count() == 44
    assert Service.objects.get(service_id="astronomy-db").metadata["kind"] == "database"
    assert SliAggregate.objects.filter(service__service_id="checkout", time_window="28d").exists()
    active = SloRecommendation.objects.filter(status=RecommendationStatus.ACTIVE)
    assert set(active.values_list("service__service_id", flat=True)) == set(scenarios) - {"astronomy-db"}
    assert set(active.filter(service__service_id="checkout").values_list("metric", flat=True)) == {
        "availability", "latency_p99",
    }
    assert active.get(service__service_id="chatbot", sli_type="availability").data_quality["is_cold_start"]
    assert "no recommendation: astronomy-db has 0 day(s) of usable data" in output


def test_seed_demo_prints_working_read_and_write_keys_with_curl_examples(keys_file, client):
    output = seed(keys_file)

    read_key, write_key = KEY_PATTERN.findall(output)
    assert ApiKey.objects.get_from_key(read_key).scope == "read"
    assert ApiKey.objects.get_from_key(write_key).scope == "write"
    assert f'curl -H "Authorization: Api-Key {read_key}" http://127.0.0.1:8000/api/v1/graph' in output
    assert f'curl -X POST -H "Authorization: Api-Key {write_key}"' in output
    assert json.loads(keys_file.read_text()) == {"read": read_key, "write": write_key}
    assert keys_file.stat().st_mode & 0o777 == 0o600


def test_seed_demo_twice_changes_nothing_and_reuses_the_keys(keys_file):
    first = seed(keys_file)
    edges = sorted(ServiceDependency.objects.values_list("source__service_id", "target__service_id",
                                                         "discovery_source"))
    second = seed(keys_file)

    assert sorted(ServiceDependency.objects.values_list("source__service_id", "target__service_id",
                                                        "discovery_source")) == edges
    assert Service.objects.count() == 27
    assert CircularDependencyAlert.objects.count() == 1
    assert ApiKey.objects.count() == 2
    # The second run's recommendations supersede the first's: one active per SLI.
    assert SloRecommendation.objects.filter(status=RecommendationStatus.ACTIVE).count() == 26 * 2
    assert KEY_PATTERN.findall(first) == KEY_PATTERN.findall(second)
    assert "Demo read key (existing)" in second


def test_seed_demo_replaces_a_revoked_demo_key(keys_file):
    read_key, _ = KEY_PATTERN.findall(seed(keys_file))
    ApiKey.objects.filter(pk=ApiKey.objects.get_from_key(read_key).pk).update(revoked=True)

    new_read, _ = KEY_PATTERN.findall(seed(keys_file))

    assert new_read != read_key
    assert ApiKey.objects.is_valid(new_read)
    assert json.loads(keys_file.read_text())["read"] == new_read


def test_seed_demo_says_where_the_topology_should_be(keys_file, tmp_path, settings):
    settings.DEMO_TOPOLOGY_FILE = tmp_path / "nowhere" / "topology.json"
    with pytest.raises(CommandError, match=r"Demo topology not found at .*nowhere/topology.json.*--topology"):
        seed(keys_file)
    assert Service.objects.count() == 0


def test_seed_demo_commits_five_slos_in_two_health_bands_and_keeps_them(keys_file):
    from slos.models import ServiceLevelObjective, SloChange, SloStatus

    output = seed(keys_file)

    active = ServiceLevelObjective.objects.filter(state="active")
    assert sorted(active.values_list("service__service_id", flat=True)) == [
        "cart", "checkout", "frontend", "payment", "product-catalog"]
    assert set(active.values_list("origin", flat=True)) == {"balanced"}
    health = dict(SloStatus.objects.values_list("slo__service__service_id", "health"))
    assert health["frontend"] == "critical"
    assert SloStatus.objects.get(slo__service__service_id="frontend").firing == "page"
    assert len(set(health.values())) >= 2
    assert "SLOs of record: accepted the balanced tier of cart, checkout, frontend, payment, product-catalog" in output
    # A second run keeps the SLOs of record (no new versions, no new trail rows).
    seed(keys_file)
    assert sorted(active.values_list("version", flat=True)) == [1] * 5
    assert SloChange.objects.count() == 5
