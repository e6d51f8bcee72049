"""Backstage catalogs laid out the usual way: one catalog-info.yaml per
repository, tied together by a Location file. The fixture is built here."""

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from graph.models import Service, ServiceDependency
from graph.services.backstage import backstage_catalog_read, backstage_to_payload, entity_ref

pytestmark = pytest.mark.django_db

HEADER = "apiVersion: backstage.io/v1alpha1\n"
REPOSITORIES = {
    "checkout": """\
kind: Component
metadata: {name: checkout, title: Checkout}
spec:
  type: service
  lifecycle: production
  owner: group:default/shop
  dependsOn: [component:default/payment, resource:default/orders-db]
  consumesApis: [api:default/search-api]
  providesApis: [checkout-api]
""",
    "payment": """\
kind: Component
metadata: {name: payment}
spec: {type: service, lifecycle: production, owner: user:alice}
""",
    "search": """\
kind: Component
metadata: {name: search}
spec: {type: service, lifecycle: production, owner: discovery, providesApis: [search-api]}
---
apiVersion: backstage.io/v1alpha1
kind: API
metadata: {name: search-api}
spec: {type: openapi, lifecycle: production, owner: discovery, definition: "openapi: 3.0.0"}
""",
    "frontend": """\
kind: Component
metadata: {name: frontend}
spec: {type: website, lifecycle: production, owner: shop, consumesApis: [checkout-api]}
""",
    "orders-db": """\
kind: Resource
metadata: {name: orders-db}
spec:
  type: database
  owner: group:dba
  dependencyOf: [component:reporting]
""",
    "ledger": """\
kind: Component
metadata:
  name: invalid component
spec: {type: service, lifecycle: production, owner: finance}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: ledger}
spec: {type: service, lifecycle: production, owner: finance, dependsOn: ['resource:orders-db']}
""",
}
# What Backstage derives: dependsOn (component and resource), dependencyOf
# reversed, consumer -> provider of each consumed API.
EXPECTED_EDGES = {
    ("checkout", "payment"), ("checkout", "orders-db"), ("checkout", "search"), ("frontend", "checkout"),
    ("reporting", "orders-db"), ("ledger", "orders-db"),
}


def _write_catalog(root: Path) -> Path:
    targets = []
    for name, body in REPOSITORIES.items():
        path = root / "repos" / name / "catalog-info.yaml"
        path.parent.mkdir(parents=True)
        path.write_text(HEADER + body)
        targets.append(f"./repos/{name}/catalog-info.yaml")
    # The Location also names itself (a loop) and a URL (not read).
    location = root / "all.yaml"
    location.write_text(HEADER + "kind: Location\nmetadata: {name: everything}\nspec:\n  targets:\n" + "".join(
        f"    - {target}\n" for target in [*targets, "./all.yaml", "https://example.com/catalog-info.yaml"]))
    return location


def _edges() -> set[tuple[str, str]]:
    return set(ServiceDependency.objects.filter(discovery_source="backstage").values_list(
        "source__service_id", "target__service_id"))


def test_entity_references():
    assert entity_ref("component:default/payment", "component") == ("component", "payment")
    assert entity_ref("Resource:orders-db", "component") == ("resource", "orders-db")
    assert entity_ref("search-api", "api") == ("api", "search-api")


def test_a_location_file_yields_exactly_the_edges_backstage_derives(tmp_path):
    location = _write_catalog(tmp_path)
    out, err = StringIO(), StringIO()
    call_command("ingest_graph", str(location), stdout=out, stderr=err)

    assert _edges() == EXPECTED_EDGES
    notes = err.getvalue()
    assert "'invalid component' skipped: metadata.name" in notes  # named, and the rest ingested
    assert "https://example.com/catalog-info.yaml is a URL" in notes
    assert "loop" in notes
    database = Service.objects.get(service_id="orders-db")
    assert (database.metadata["kind"], database.team) == ("database", "dba")
    payment = Service.objects.get(service_id="payment")
    assert (payment.team, payment.metadata["owner"]) == (None, "user:alice")
    checkout = Service.objects.get(service_id="checkout")
    assert (checkout.team, checkout.display_name) == ("shop", "Checkout")
    assert checkout.metadata["backstage"]["provides_apis"] == ["checkout-api"]
    assert not Service.objects.filter(service_id__contains="invalid").exists()
    assert "6 edges upserted" in out.getvalue()


def test_repositories_ingested_one_by_one_resolve_apis_from_earlier_ingests(tmp_path):
    _write_catalog(tmp_path)
    for name in ("search", "checkout", "frontend", "payment", "orders-db", "ledger"):
        call_command("ingest_graph", str(tmp_path / "repos" / name / "catalog-info.yaml"), stdout=StringIO(),
                     stderr=StringIO())
    # Each consumer's provider came from a file ingested in an earlier run.
    assert _edges() == EXPECTED_EDGES


def test_a_provider_ingested_later_is_found_when_the_consumer_is_reingested(tmp_path):
    _write_catalog(tmp_path)
    frontend = tmp_path / "repos" / "frontend" / "catalog-info.yaml"
    err = StringIO()
    call_command("ingest_graph", str(frontend), stdout=StringIO(), stderr=err)
    assert "no Component provides API 'checkout-api'" in err.getvalue()
    call_command("ingest_graph", str(tmp_path / "repos" / "checkout" / "catalog-info.yaml"), stdout=StringIO(),
                 stderr=StringIO())
    call_command("ingest_graph", str(frontend), stdout=StringIO(), stderr=StringIO())
    assert ("frontend", "checkout") in _edges()


def test_catalog_read_follows_targets_once_and_payload_is_pure(tmp_path):
    catalog = backstage_catalog_read(_write_catalog(tmp_path))
    assert len(catalog.files) == 1 + len(REPOSITORIES)
    payload, notes = backstage_to_payload(catalog.entities)
    assert {(e["source"], e["target"]) for e in payload["edges"]} == EXPECTED_EDGES
    assert {n["service_id"] for n in payload["nodes"]} == {"checkout", "payment", "search", "frontend",
                                                           "orders-db", "ledger"}
    assert notes == []
