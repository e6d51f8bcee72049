from io import StringIO

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command

from graph.models import Service, ServiceDependency

pytestmark = pytest.mark.django_db

CATALOG = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: checkout
  title: Checkout
  tags: [pci]
spec:
  type: service
  owner: group:default/payments
  dependsOn:
    - component:default/payment
    - resource:default/orders-db
  consumesApis:
    - api:default/search-api
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: payment
spec:
  type: service
  owner: payments
  dependsOn: [component:fraud]
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: search
spec:
  type: service
  owner: discovery
  providesApis: [search-api]
---
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: search-api
spec:
  type: openapi
"""


def run(path) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("ingest_graph", str(path), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_ingests_the_demo_json():
    out, _ = run(django_settings.DEMO_TOPOLOGY_FILE)
    assert "27 nodes, 44 edges upserted" in out
    assert ServiceDependency.objects.count() == 44


def test_backstage_catalog(tmp_path):
    path = tmp_path / "catalog-info.yaml"
    path.write_text(CATALOG)
    out, err = run(path)
    rows = set(ServiceDependency.objects.values_list("source__service_id", "target__service_id", "discovery_source"))
    assert rows == {("checkout", "payment", "backstage"), ("checkout", "search", "backstage"),
                    ("payment", "fraud", "backstage"), ("checkout", "orders-db", "backstage")}
    checkout = Service.objects.get(service_id="checkout")
    assert (checkout.team, checkout.display_name, checkout.tags) == ("payments", "Checkout", ["pci"])
    assert Service.objects.get(service_id="fraud").discovered is True
    assert "2 services auto-created" in out  # fraud and orders-db: referenced, not defined


def test_invalid_file_names_the_field(tmp_path):
    path = tmp_path / "graph.json"
    path.write_text('{"edges": [{"source": "a", "target": "a"}]}')
    with pytest.raises(CommandError, match=r"edges\[0\]\.target"):
        run(path)
    path.write_text("{broken")
    with pytest.raises(CommandError, match="not valid JSON"):
        run(path)
    with pytest.raises(CommandError, match="no such file"):
        run(tmp_path / "missing.json")
    assert not ServiceDependency.objects.exists()
