"""SLO-as-code: the fleet export over the API and `export_slos`; the
Prometheus rules pass `promtool check rules`, and `promtool test rules`
shows the page alert firing on a 14.4x burn (and not on 12x)."""

import shutil
import subprocess
from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command

from slos.tests.factories import SloFactory

pytestmark = pytest.mark.django_db
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
EXPORT = "/api/v1/slos/export"


@pytest.fixture
def fleet():
    checkout = SloFactory(service__service_id="checkout", service__team="payments", target=0.999)
    latency = SloFactory(service=checkout.service, sli_type="latency", metric="latency_p99", threshold_ms=500,
                         target=0.99, version=3)
    cart = SloFactory(service__service_id="cart", service__team="shop", target=0.995)
    SloFactory(service__service_id="gone", state="retired", retired_at=cart.created_at)
    return checkout, latency, cart


def _promtool(*args, cwd=None) -> subprocess.CompletedProcess:
    if not Path(PROMTOOL).exists():
        pytest.fail("promtool not installed: run `make system-deps`")
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def test_openslo_bundle_has_one_document_per_active_slo(fleet, read_client):
    response = read_client.get(EXPORT + "?format=openslo")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/yaml")
    documents = list(yaml.safe_load_all(response.content))
    assert [d["metadata"]["name"] for d in documents] == ["cart-availability", "checkout-availability",
                                                           "checkout-latency-p99"]
    checkout = documents[1]
    assert checkout["apiVersion"] == "openslo/v1" and checkout["kind"] == "SLO"
    assert checkout["spec"]["objectives"] == [{"displayName": "balanced", "target": 0.999}]
    assert checkout["spec"]["timeWindow"] == [{"duration": "28d", "isRolling": True}]
    assert 'le=~"500|500' in documents[2]["spec"]["indicator"]["spec"]["ratioMetric"]["good"]["metricSource"][
        "spec"]["query"]
    only_shop = list(yaml.safe_load_all(read_client.get(EXPORT + "/?format=openslo&team=shop").content))
    assert [d["metadata"]["name"] for d in only_shop] == ["cart-availability"]


def test_sloth_bundle_has_one_spec_per_service(fleet, read_client):
    documents = list(yaml.safe_load_all(read_client.get(EXPORT + "?format=sloth").content))
    assert [(d["service"], [s["name"] for s in d["slos"]]) for d in documents] == [
        ("cart", ["availability"]), ("checkout", ["availability", "latency-p99"])]
    assert documents[1]["slos"][0]["objective"] == 99.9
    assert "{{.window}}" in documents[1]["slos"][0]["sli"]["events"]["error_query"]


def test_sloth_specs_name_the_slo_period_to_generate_with(fleet, read_client):
    """Sloth has no period field and applies 30 days unless told: every spec
    of the bundle is headed by the 28-day period its objectives are for."""
    text = read_client.get(EXPORT + "?format=sloth").content.decode()
    specs = text.split("---\n")
    assert len(specs) == 2
    for spec in specs:
        assert spec.startswith("# Objectives computed for a 28-day SLO window: generate with "
                               "`sloth generate --default-slo-period=28d")


def test_openslo_names_and_labels_of_a_long_service_id_meet_the_spec(read_client):
    long_id = "a-very-long-service-identifier-that-some-teams-really-do-use-in-production"
    SloFactory(service__service_id=long_id, service__team="payments team", sli_type="latency",
               metric="latency_p99", threshold_ms=250, target=0.99)
    document = yaml.safe_load(read_client.get(EXPORT + "?format=openslo").content)
    indicator = document["spec"]["indicator"]["metadata"]["name"]
    assert len(document["metadata"]["name"]) <= 63 and len(indicator) <= 63
    assert indicator != document["metadata"]["name"]
    # Label values the tools reject (over 63 characters, a space) are left out, not written.
    assert document["metadata"]["labels"] == {"slo_version": "1", "managed_by": "slo-engine"}


def test_bad_export_queries_are_problems(fleet, read_client, anon_client):
    for query in ("", "?format=csv"):
        response = read_client.get(EXPORT + query)
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == "format"
    assert anon_client.get(EXPORT + "?format=openslo").status_code == 401


def test_prometheus_rules_pass_promtool_check(fleet, read_client, tmp_path):
    response = read_client.get(EXPORT + "?format=prometheus")
    rules = yaml.safe_load(response.content)
    assert [g["name"] for g in rules["groups"]] == ["slo-engine-cart-availability",
                                                    "slo-engine-checkout-availability",
                                                    "slo-engine-checkout-latency-p99"]
    path = tmp_path / "slos.rules.yaml"
    path.write_bytes(response.content)
    result = _promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 33 rules found" in result.stdout


def _page_alert_test(*, burn: float, rules_file: str, labels: dict) -> dict:
    """A promtool unit test: 1,000 requests a minute with a `burn` x budget
    error ratio on a 99.9% SLO for 70 minutes; the 1h/5m page alert is
    expected at 65 minutes when the burn exceeds 13.44."""
    errors_per_minute = 1000 * 0.001 * burn
    series = 'traces_span_metrics_calls_total{{service_name="checkout",span_kind="SPAN_KIND_SERVER",' \
             'status_code="{code}"}}'
    expected = []
    if burn > 13.44:
        expected = [{"exp_labels": labels, "exp_annotations": None}]
    return {
        "rule_files": [rules_file],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": [
                {"series": series.format(code="STATUS_CODE_UNSET"), "values": f"0+{1000 - errors_per_minute:g}x70"},
                {"series": series.format(code="STATUS_CODE_ERROR"), "values": f"0+{errors_per_minute:g}x70"},
            ],
            "alert_rule_test": [{"eval_time": "65m", "alertname": "CheckoutAvailabilityBurnRate1h",
                                 "exp_alerts": expected}],
        }],
    }


def test_promtool_unit_test_pages_on_a_14_4x_burn_and_not_on_12x(tmp_path):
    slo = SloFactory(service__service_id="checkout", target=0.999)
    out = StringIO()
    call_command("export_slos", "--format", "prometheus", "--out", str(tmp_path), stdout=out, stderr=StringIO())
    rules_file = tmp_path / "checkout.rules.yaml"
    group = yaml.safe_load(rules_file.read_text())["groups"][0]
    alert = next(r for r in group["rules"] if r.get("alert") == "CheckoutAvailabilityBurnRate1h")
    assert alert["labels"]["burn_rate_factor"] == "13.44" and alert["labels"]["severity"] == "page"
    # The alert carries the recording rule's labels (service, slo, version) and its own.
    labels = {**group["rules"][0]["labels"], **alert["labels"]}
    for burn in (14.4, 12.0):
        test = _page_alert_test(burn=burn, rules_file=rules_file.name, labels=labels)
        # exp_annotations must match too: take them from the rule itself.
        for case in test["tests"][0]["alert_rule_test"][0]["exp_alerts"]:
            case["exp_annotations"] = alert["annotations"]
        test_file = tmp_path / f"test-{burn:g}.yaml"
        test_file.write_text(yaml.safe_dump(test, sort_keys=False))
        result = _promtool("test", "rules", test_file.name, cwd=tmp_path)
        assert result.returncode == 0, f"burn {burn}: {result.stdout}{result.stderr}"
    # A wrong expectation fails: the test above can fail.
    wrong = _page_alert_test(burn=12.0, rules_file=rules_file.name, labels=labels)
    wrong["tests"][0]["alert_rule_test"][0]["exp_alerts"] = [{"exp_labels": labels,
                                                              "exp_annotations": alert["annotations"]}]
    (tmp_path / "wrong.yaml").write_text(yaml.safe_dump(wrong, sort_keys=False))
    assert _promtool("test", "rules", "wrong.yaml", cwd=tmp_path).returncode != 0
    assert "1 SLOs of 1 services" in out.getvalue() and slo.version == 1


def test_export_command_writes_one_file_per_service(fleet, tmp_path):
    out, err = StringIO(), StringIO()
    call_command("export_slos", "--format", "sloth", "--out", str(tmp_path / "repo"), stdout=out, stderr=err)
    assert sorted(p.name for p in (tmp_path / "repo").iterdir()) == ["cart.sloth.yaml", "checkout.sloth.yaml"]
    assert "[2/2]" in err.getvalue() and "3 SLOs of 2 services" in out.getvalue()
    spec = yaml.safe_load((tmp_path / "repo" / "checkout.sloth.yaml").read_text())
    assert [s["name"] for s in spec["slos"]] == ["availability", "latency-p99"]
    call_command("export_slos", "--format", "openslo", "--out", str(tmp_path / "team"), "--team", "payments",
                 stdout=StringIO(), stderr=StringIO())
    assert [p.name for p in (tmp_path / "team").iterdir()] == ["checkout.openslo.yaml"]


def test_a_team_with_control_characters_is_no_header_injection(fleet, read_client):
    response = read_client.get(EXPORT, {"format": "sloth", "team": "shop\r\nX-Evil: 1"})
    assert response.status_code == 200
    assert "X-Evil" not in response.headers and "\n" not in response["Content-Disposition"]
