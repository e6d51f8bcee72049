"""Exports their tools accept: OpenSLO v1's rules (names, required fields,
enums, label values), Sloth prometheus/v1's (label values, objective range,
valid PromQL), and `promtool check rules` for the Prometheus rules, for the
ids that used to break them."""

import re
import subprocess

import pytest
import yaml

from graph.tests.factories import ServiceFactory
from recommendations.exporters import export_recommendations, rfc1123_name
from recommendations.tests.factories import SloRecommendationFactory

pytestmark = pytest.mark.django_db

# OpenSLO v1: names are lowercase RFC 1123 labels; label values at most 63
# characters of alphanumerics and . _ -; durations like 28d.
RFC1123 = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
OPENSLO_LABEL_VALUE = re.compile(r"^[a-z0-9A-Z][a-z0-9A-Z._-]*[a-z0-9A-Z]*$")
DURATION = re.compile(r"^[1-9][0-9]*[mhdwMQY]$")
PROM_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
SIXTY = "Payments_" + "x" * 51
IDS = ["payment_gateway", "CheckoutService", SIXTY]


@pytest.fixture
def services(settings):
    settings.TELEMETRY_SOURCE = "demo"  # the Collector's naming: no Prometheus needed
    made = []
    for service_id in IDS:
        service = ServiceFactory(service_id=service_id, team=None)
        made.append((service, [SloRecommendationFactory(service=service),
                               SloRecommendationFactory(service=service, latency=True)]))
    return made


def _check_promql(tmp_path, queries: dict[str, str]) -> None:
    """Every query parses (promtool checks the expressions of recording rules)."""
    rules = {"groups": [{"name": "check", "rules": [
        {"record": f"check:{re.sub(r'[^a-zA-Z0-9_]', '_', name)}", "expr": query}
        for name, query in queries.items()]}]}
    path = tmp_path / "queries.yaml"
    path.write_text(yaml.safe_dump(rules))
    result = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("tier", ["conservative", "balanced", "aggressive"])
def test_openslo_documents_meet_the_v1_rules(services, tier, tmp_path):
    names = set()
    for service, recommendations in services:
        documents = list(yaml.safe_load_all(export_recommendations(
            service, recommendations, export_format="openslo", tier=tier)))
        assert len(documents) == 2
        for document in documents:
            assert (document["apiVersion"], document["kind"]) == ("openslo/v1", "SLO")
            metadata, spec = document["metadata"], document["spec"]
            assert RFC1123.match(metadata["name"]), metadata["name"]
            names.add(metadata["name"])
            assert service.service_id in metadata["displayName"]
            for value in metadata["labels"].values():
                assert 1 <= len(value) <= 63 and OPENSLO_LABEL_VALUE.match(value), value
            assert "team" not in metadata["labels"]  # no team: no label, never an empty one
            assert RFC1123.match(spec["service"]) and RFC1123.match(spec["indicator"]["metadata"]["name"])
            assert spec["budgetingMethod"] in ("Occurrences", "Timeslices")
            [window] = spec["timeWindow"]
            assert DURATION.match(window["duration"]) and window["isRolling"] is True
            [objective] = spec["objectives"]
            assert 0 <= objective["target"] < 1 and objective["displayName"]
            ratio = spec["indicator"]["spec"]["ratioMetric"]
            assert isinstance(ratio["counter"], bool)
            assert ("good" in ratio) != ("bad" in ratio)
            for key in ("good", "total"):
                assert ratio[key]["metricSource"]["type"] == "Prometheus"
            _check_promql(tmp_path, {f"{metadata['name']}_{k}": ratio[k]["metricSource"]["spec"]["query"]
                                     for k in ("good", "total")})
    assert len(names) == 2 * len(IDS)
    assert {name.split("-availability")[0] for name in names if name.endswith("-availability")} >= {
        "payment-gateway", "checkoutservice"}


def test_long_ids_are_cut_with_a_hash_suffix():
    first, second = rfc1123_name("a" * 70 + "-one"), rfc1123_name("a" * 70 + "-two")
    assert len(first) == 63 and first != second and RFC1123.match(first)
    assert rfc1123_name("CheckoutService") == "checkoutservice"


def test_sloth_specs_meet_the_spec_rules(services, tmp_path):
    for service, recommendations in services:
        text = export_recommendations(service, recommendations, export_format="sloth", tier="balanced")
        assert "--default-slo-period=28d" in text.splitlines()[0]  # the window, where Sloth reads it
        spec = yaml.safe_load(text)
        assert spec["version"] == "prometheus/v1" and spec["service"] == service.service_id
        for key, value in spec["labels"].items():
            assert PROM_LABEL_NAME.match(key) and isinstance(value, str) and value, (key, value)
        assert "team" not in spec["labels"]
        queries = {}
        for slo in spec["slos"]:
            assert slo["name"] and 0 < slo["objective"] <= 100
            assert slo["alerting"]["name"]
            for alert in ("page_alert", "ticket_alert"):
                for key, value in slo["alerting"][alert]["labels"].items():
                    assert PROM_LABEL_NAME.match(key) and value
            for key in ("error_query", "total_query"):
                query = slo["sli"]["events"][key]
                assert "{{.window}}" in query
                queries[f"{slo['name']}_{key}"] = query.replace("{{.window}}", "1m")  # what Sloth validates
        _check_promql(tmp_path, queries)


def test_sloth_names_a_thirty_day_window_as_the_default(settings):
    settings.TELEMETRY_SOURCE = "demo"
    service = ServiceFactory(service_id="cart", team="shop")
    text = export_recommendations(service, [SloRecommendationFactory(service=service, window_days=30)],
                                  export_format="sloth", tier="balanced")
    assert "--default-slo-period=30d" in text and "also the default" in text
    assert yaml.safe_load(text)["labels"]["team"] == "shop"


@pytest.mark.parametrize("tier", ["conservative", "aggressive"])
def test_prometheus_rules_pass_promtool(services, tier, tmp_path):
    for service, recommendations in services:
        path = tmp_path / f"{service.service_id}.rules.yaml"
        path.write_text(export_recommendations(service, recommendations, export_format="prometheus", tier=tier))
        result = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, text=True,
                                timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "SUCCESS: 22 rules found" in result.stdout  # 2 SLOs x (7 window records + 4 alerts)
