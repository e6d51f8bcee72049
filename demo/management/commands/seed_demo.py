"""Loads the demo a newcomer sees first (`make run` calls it after migrate).

Steps, each a method that tests call directly:

1. ingest the OpenTelemetry demo topology (`demo/data/otel-demo-topology.json`,
   the one copy the demo telemetry source reads too) through the same validating serializer and service
   as the API, plus two plausible edges that close one cycle
   (ad -> recommendation -> product-catalog -> ad);
2. attach the demo telemetry scenarios to the services (`metadata.demo_scenario`);
3. run OTel service-graph discovery against the demo telemetry source;
4. detect cycles, compute SLI aggregates and generate recommendations once;
5. commit the balanced availability tier of five services as their SLOs of
   record (kept on later runs) and score them; frontend is in an ongoing
   incident in the demo telemetry, so /slos/ shows a page firing;
6. create a read and a write API key, or re-use the ones kept in
   `.run/demo-keys.json` while they are still valid, and print them with
   curl examples.

Running it again is harmless: ingestion re-sends the same graph (only
`last_observed_at` moves), alerts are deduplicated, recommendations supersede
the previous ones, and the keys are re-used.
"""

import json
import os
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from graph.api.serializers import IngestRequestSerializer
from graph.models import Service
from graph.services.cycles import cycle_alerts_sync
from graph.services.ingest import graph_ingest
from recommendations.models import RecommendationStatus, SloRecommendation
from recommendations.services import (
    BatchContext,
    InsufficientData,
    backtest_run,
    fleet_prior_refit,
    recommendations_generate,
)
from slo_engine.models import ApiKey, ApiKeyScope
from slos.models import ServiceLevelObjective, SloState
from slos.services import DecisionError, slo_decide, slo_status_refresh
from telemetry.services import otel_graph_discover, sli_aggregates_compute
from telemetry.sources import TelemetryError, TelemetrySource, get_telemetry_source
from telemetry.sources.demo import scenario_of

ACTOR = "seed_demo"
# Services whose balanced availability tier the demo commits to.
DEMO_SLO_SERVICES = ("cart", "checkout", "frontend", "payment", "product-catalog")

# Two soft calls that exist in real shops: listings show sponsored products
# (product-catalog -> ad) and ads are targeted with recommendations
# (ad -> recommendation); recommendation already reads product-catalog.
CYCLE_EDGES = [
    {"source": "product-catalog", "target": "ad",
     "attributes": {"communication_mode": "sync", "criticality": "soft", "protocol": "grpc", "timeout_ms": 300}},
    {"source": "ad", "target": "recommendation",
     "attributes": {"communication_mode": "sync", "criticality": "soft", "protocol": "grpc", "timeout_ms": 250}},
]


class Command(BaseCommand):
    help = "Load the OpenTelemetry demo graph, telemetry scenarios, recommendations and demo API keys."

    def add_arguments(self, parser):
        parser.add_argument(
            "--topology", type=Path, default=None,
            help="Topology in the ingest format (default: demo/data/otel-demo-topology.json).",
        )
        parser.add_argument(
            "--keys-file", type=Path, default=None,
            help="Where the demo keys are kept between runs (default: .run/demo-keys.json).",
        )
        # The Makefile serves on $(HOST):$(PORT), which `make run HOST=... PORT=...` exports.
        default_url = f"http://{os.environ.get('HOST') or '127.0.0.1'}:{os.environ.get('PORT') or '8000'}"
        parser.add_argument("--base-url", default=default_url, help="Base URL used in the curl examples.")

    def handle(self, *args, topology: Path | None, keys_file: Path | None, base_url: str, **options):
        topology = self.load_topology(topology or Path(settings.DEMO_TOPOLOGY_FILE))
        source = get_telemetry_source("demo")
        if settings.TELEMETRY_SOURCE != "demo":
            self.say(f"note: TELEMETRY_SOURCE is {settings.TELEMETRY_SOURCE}; the demo uses the demo source")
        self.ingest_topology(topology)
        self.ingest_cycle_edges()
        self.discover(source)
        self.detect_cycles()
        self.compute_aggregates(source)
        self.generate_recommendations(source)
        self.commit_slos(source)
        keys = self.ensure_keys(keys_file or Path(settings.BASE_DIR) / ".run" / "demo-keys.json")
        self.print_keys(keys, base_url=base_url.rstrip("/"))

    def say(self, message: str) -> None:
        self.stdout.write(f"seed_demo: {message}")
        self.stdout.flush()

    def load_topology(self, path: Path) -> dict:
        """The demo topology as an ingest payload; CommandError if missing or not JSON."""
        if not path.is_file():
            raise CommandError(f"Demo topology not found at {path}: pass --topology FILE (ingest format).")
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise CommandError(f"Could not read {path}: {exc}") from exc

    def _ingest(self, payload: dict, *, what: str):
        serializer = IngestRequestSerializer(data=payload)
        if not serializer.is_valid():
            raise CommandError(f"{what} is not a valid ingest payload: {json.dumps(serializer.errors)}")
        return graph_ingest(**serializer.ingest_arguments(), actor=ACTOR)

    def ingest_topology(self, topology: dict) -> None:
        """Ingest the topology with each service's demo telemetry scenario in
        `metadata.demo_scenario` (shown on its page and in the admin)."""
        nodes = [
            {**node, "metadata": {**(node.get("metadata") or {}), "demo_scenario": scenario_of(node["service_id"])}}
            for node in topology.get("nodes", [])
            if isinstance(node, dict) and isinstance(node.get("service_id"), str)
        ]
        result = self._ingest({**topology, "nodes": nodes}, what="the demo topology")
        self.say(
            f"ingested the demo topology: {result.nodes_upserted} services, {result.edges_upserted} edges "
            f"(graph version {result.graph_version})"
        )
        special = sorted((n["metadata"]["demo_scenario"], n["service_id"]) for n in nodes
                         if n["metadata"]["demo_scenario"] != "steady")
        self.say("attached demo telemetry scenarios: " + ", ".join(f"{sid} ({name})" for name, sid in special)
                 + "; the others are steady")

    def ingest_cycle_edges(self) -> None:
        result = self._ingest({"source": "manual", "edges": CYCLE_EDGES}, what="the demo cycle edges")
        path = " -> ".join([edge["source"] for edge in CYCLE_EDGES] + ["recommendation", "product-catalog"])
        self.say(f"added {result.edges_upserted} edges that close a cycle: {path}")

    def discover(self, source: TelemetrySource) -> None:
        result = otel_graph_discover(source=source)
        self.say(
            f"OTel service-graph discovery: {result.edges_upserted} edges confirmed by telemetry, "
            f"{result.edges_skipped} skipped, databases: {', '.join(result.databases) or 'none'}"
        )

    def compute_aggregates(self, source: TelemetrySource) -> None:
        result = sli_aggregates_compute(source=source)
        self.say(
            f"SLI aggregates: {result.rows_written} rows for {result.services} services "
            f"({len(result.services_without_data)} without data)"
        )

    def generate_recommendations(self, source: TelemetrySource) -> None:
        """As the daily batch: refit the fleet prior, then recommendations for
        every active service (a service with too little data is reported, not
        fatal: its page says why), then the backtest /calibration/ draws."""
        prior = fleet_prior_refit(source=source)
        self.say(f"fleet prior fitted on {prior.services_used} services")
        context = BatchContext()
        generated, skipped = 0, []
        for service in Service.objects.active().order_by("service_id"):
            try:
                recommendations_generate(service=service, source=source, context=context)
                generated += 1
            except (InsufficientData, TelemetryError) as exc:
                skipped.append(str(exc))
        self.say(f"recommendations generated for {generated} services")
        for line in skipped:
            self.say(f"  no recommendation: {line}")
        backtest = backtest_run(source=source)
        self.say(f"backtest: {backtest.tiers['balanced']['pairs']} (service, window) pairs over "
                 f"{backtest.services} services")

    def commit_slos(self, source: TelemetrySource) -> None:
        """Accept the balanced availability tier of DEMO_SLO_SERVICES (a
        service that already has an SLO of record keeps it), then score them."""
        accepted = []
        for service_id in DEMO_SLO_SERVICES:
            service = Service.objects.filter(service_id=service_id).first()
            if service is None or ServiceLevelObjective.objects.filter(
                    service=service, metric="availability", state=SloState.ACTIVE).exists():
                continue
            recommendation = SloRecommendation.objects.filter(
                service=service, metric="availability", status=RecommendationStatus.ACTIVE).first()
            if recommendation is None:
                continue
            try:
                slo_decide(service=service, action="accept", recommendation_id=recommendation.pk, tier="balanced",
                           actor=ACTOR, rationale="Demo: the balanced tier as recommended.")
            except DecisionError as exc:
                self.say(f"  no SLO for {service_id}: {exc}")
                continue
            accepted.append(service_id)
        slos = ServiceLevelObjective.objects.filter(state=SloState.ACTIVE).select_related("service")
        result = slo_status_refresh(slos=slos, source=source)
        health = ", ".join(f"{count} {name}" for name, count in sorted(result.by_health.items())) or "none"
        self.say(f"SLOs of record: accepted the balanced tier of {', '.join(accepted) or 'no new service'}; "
                 f"scored {result.scored} ({health})")

    def detect_cycles(self) -> None:
        result = cycle_alerts_sync()
        self.say(
            f"cycle detection: {len(result.cycles)} cycle(s), {result.created} new alert(s), "
            f"{result.reopened} reopened"
        )

    def ensure_keys(self, keys_file: Path) -> dict[str, dict]:
        """A valid read and write key: the stored ones when still valid (not
        revoked, not expired, same scope), else new ones, written back to
        `keys_file` (mode 0600). Returns {scope: {"key", "reused"}}."""
        stored = {}
        if keys_file.is_file():
            try:
                stored = json.loads(keys_file.read_text())
            except ValueError:
                stored = {}
        keys = {}
        for scope in (ApiKeyScope.READ, ApiKeyScope.WRITE):
            key = stored.get(scope)
            if isinstance(key, str) and self._key_valid(key, scope=scope):
                keys[scope] = {"key": key, "reused": True}
            else:
                _, key = ApiKey.objects.create_key(name=f"demo-{scope}", scope=scope)
                keys[scope] = {"key": key, "reused": False}
        keys_file.parent.mkdir(parents=True, exist_ok=True)
        keys_file.write_text(json.dumps({scope: value["key"] for scope, value in keys.items()}, indent=2) + "\n")
        keys_file.chmod(0o600)
        return keys

    @staticmethod
    def _key_valid(key: str, *, scope: str) -> bool:
        if not ApiKey.objects.is_valid(key):
            return False
        return ApiKey.objects.get_from_key(key).scope == scope

    def print_keys(self, keys: dict[str, dict], *, base_url: str) -> None:
        read, write = keys[ApiKeyScope.READ]["key"], keys[ApiKeyScope.WRITE]["key"]
        for scope, value in keys.items():
            state = "existing" if value["reused"] else "new"
            self.stdout.write(self.style.SUCCESS(f"Demo {scope} key ({state}):"))
            self.stdout.write(value["key"])
        self.stdout.write(
            "\nTry the API:\n"
            f'  curl -H "Authorization: Api-Key {read}" {base_url}/api/v1/graph\n'
            f'  curl -H "Authorization: Api-Key {read}" '
            f'"{base_url}/api/v1/services/checkout/dependencies?direction=both&depth=2"\n'
            f'  curl -H "Authorization: Api-Key {read}" {base_url}/api/v1/services/checkout/slo-recommendations\n'
            f'  curl -H "Authorization: Api-Key {read}" '
            f'"{base_url}/api/v1/services/checkout/slo-recommendations/export?format=openslo&tier=balanced"\n'
            f'  curl -H "Authorization: Api-Key {read}" "{base_url}/api/v1/circular-dependencies/?status=open"\n'
            f'  curl -H "Authorization: Api-Key {read}" "{base_url}/api/v1/slos/?ordering=budget_remaining"\n'
            f'  curl -H "Authorization: Api-Key {read}" "{base_url}/api/v1/slos/export?format=prometheus"\n'
            f'  curl -X POST -H "Authorization: Api-Key {write}" -H "Content-Type: application/json" \\\n'
            f"       -d '{{\"edges\": [{{\"source\": \"checkout\", \"target\": \"quote\"}}]}}' "
            f"{base_url}/api/v1/services/dependencies\n"
            f"\nThe map: {base_url}/  (log in with the admin user printed above); the SLOs: {base_url}/slos/\n"
        )
