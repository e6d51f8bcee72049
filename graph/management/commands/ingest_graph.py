"""`ingest_graph FILE`: ingest a dependency graph from a file.

FILE is JSON in the ingest format (DESIGN.md section 5), or Backstage
`catalog-info.yaml` documents (recognised by `.yaml`/`.yml` or by content):
each Component becomes a service (`metadata.name` -> service_id,
`spec.owner` -> team), its `spec.dependsOn` components and the providers of
its `spec.consumesApis` become edges with discovery_source `backstage`.
Both paths validate with the API's IngestRequestSerializer.
"""

import json
from pathlib import Path

import yaml
from django.core.management.base import BaseCommand, CommandError

from graph.api.serializers import IngestRequestSerializer
from graph.services.ingest import graph_ingest
from slo_engine.api.errors import flatten_errors

BACKSTAGE_CRITICALITY = {"critical": "critical", "high": "high", "medium": "medium", "low": "low"}


def _entity_name(reference: str, default_kind: str) -> tuple[str, str]:
    """Split a Backstage entity reference `[kind:][namespace/]name` into (kind, name)."""
    kind, _, rest = reference.partition(":") if ":" in reference else (default_kind, "", reference)
    return kind.lower(), rest.rsplit("/", 1)[-1]


def backstage_to_payload(documents: list[dict]) -> tuple[dict, list[str]]:
    """Turn Backstage catalog entities into an ingest payload; returns it with
    notes about references that could not be resolved."""
    components = [d for d in documents if isinstance(d, dict) and d.get("kind", "").lower() == "component"]
    providers: dict[str, list[str]] = {}
    for component in components:
        for api in (component.get("spec") or {}).get("providesApis") or []:
            providers.setdefault(_entity_name(str(api), "api")[1], []).append(component["metadata"]["name"])

    notes: list[str] = []
    nodes, edges = [], []
    for component in components:
        metadata, spec = component.get("metadata") or {}, component.get("spec") or {}
        name = metadata.get("name")
        if not name:
            notes.append("a Component without metadata.name was skipped")
            continue
        node = {"service_id": name, "display_name": metadata.get("title") or name,
                "tags": list(metadata.get("tags") or []),
                "metadata": {"backstage": {key: spec[key] for key in ("type", "lifecycle", "system") if key in spec}}}
        if spec.get("owner"):
            node["team"] = _entity_name(str(spec["owner"]), "group")[1]
        criticality = BACKSTAGE_CRITICALITY.get(str((metadata.get("annotations") or {}).get("criticality", "")))
        if criticality:
            node["criticality"] = criticality
        nodes.append(node)
        for reference in spec.get("dependsOn") or []:
            kind, target = _entity_name(str(reference), "component")
            if kind == "component":
                edges.append({"source": name, "target": target, "attributes": {}})
            else:
                notes.append(f"{name}: dependsOn {reference} is a {kind}, not a component; skipped")
        for api in spec.get("consumesApis") or []:
            api_name = _entity_name(str(api), "api")[1]
            targets = [t for t in providers.get(api_name, []) if t != name]
            if not targets:
                notes.append(f"{name}: no Component provides API {api_name!r}; skipped")
            edges.extend({"source": name, "target": target, "attributes": {}} for target in targets)
    return {"source": "backstage", "nodes": nodes, "edges": edges}, notes


def load_payload(path: Path) -> tuple[dict, list[str]]:
    """Read FILE as ingest JSON or Backstage YAML."""
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        return json.loads(text), []
    documents = [d for d in yaml.safe_load_all(text) if d is not None]
    if len(documents) == 1 and isinstance(documents[0], dict) and "kind" not in documents[0]:
        return documents[0], []  # the ingest format written as YAML
    return backstage_to_payload(documents)


class Command(BaseCommand):
    help = "Ingest a dependency graph from ingest-format JSON or Backstage catalog-info.yaml."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--mode", choices=("merge", "replace"), default=None,
                            help="override the payload's mode (replace: the file is the whole truth for its source)")

    def handle(self, *args, file: Path, mode: str | None, **options):
        if not file.is_file():
            raise CommandError(f"{file}: no such file")
        try:
            payload, notes = load_payload(file)
        except (json.JSONDecodeError, yaml.YAMLError, UnicodeDecodeError) as exc:
            raise CommandError(f"{file}: not valid JSON or YAML: {exc}") from exc
        if isinstance(payload, dict) and mode:
            payload["mode"] = mode
        for note in notes:
            self.stderr.write(f"note: {note}")
        if isinstance(payload, dict):
            self.stdout.write(f"Read {file}: {len(payload.get('nodes') or [])} nodes, "
                              f"{len(payload.get('edges') or [])} edges; validating...")
        serializer = IngestRequestSerializer(data=payload)
        if not serializer.is_valid():
            problems = flatten_errors(serializer.errors)
            lines = "\n".join(f"  {p['field'] or 'body'}: {p['message']}" for p in problems[:20])
            raise CommandError(f"{file}: {len(problems)} invalid field(s):\n{lines}")
        arguments = serializer.ingest_arguments()
        self.stdout.write(f"Ingesting as source {arguments['source']!r} (mode {arguments['mode']})...")
        result = graph_ingest(**arguments, actor=f"command:ingest_graph:{file.name}")
        for warning in result.warnings:
            self.stderr.write(f"warning: {warning}")
        self.stdout.write(self.style.SUCCESS(
            f"Done: {result.nodes_upserted} nodes, {result.edges_upserted} edges upserted, "
            f"{result.edges_removed} removed, {len(result.services_auto_created)} services auto-created, "
            f"graph version {result.graph_version}."
        ))
