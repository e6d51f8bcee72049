"""`ingest_graph FILE [FILE ...]`: ingest a dependency graph from files.

FILE is JSON in the ingest format (DESIGN.md section 5), or Backstage catalog
YAML (recognised by `.yaml`/`.yml` or by content): one `catalog-info.yaml`
per repository, several, or a Location file whose targets are followed.
`graph/services/backstage.py` says what becomes of each entity; invalid
entities and references that lead nowhere are reported as notes and the
rest is ingested. Every path validates with the API's IngestRequestSerializer.
"""

import json
from pathlib import Path

import yaml
from django.core.management.base import BaseCommand, CommandError

from graph.api.serializers import IngestRequestSerializer
from graph.services.backstage import (
    BackstageCatalog,
    BackstageError,
    backstage_catalog_read,
    backstage_to_payload,
    stored_api_providers,
)
from graph.services.ingest import graph_ingest
from slo_engine.api.errors import flatten_errors


def load_payload(paths: list[Path]) -> tuple[dict, list[str]]:
    """Read FILEs as one ingest-format JSON (or YAML) payload, or as a
    Backstage catalog (all the files and the Locations they name)."""
    first = paths[0]
    text = first.read_text(encoding="utf-8")
    if first.suffix.lower() == ".json":
        if len(paths) > 1:
            raise CommandError("an ingest-format JSON file is ingested on its own")
        return json.loads(text), []
    documents = [d for d in yaml.safe_load_all(text) if d is not None]
    if len(paths) == 1 and len(documents) == 1 and isinstance(documents[0], dict) and "kind" not in documents[0]:
        return documents[0], []  # the ingest format written as YAML
    catalog = BackstageCatalog()
    for path in paths:
        backstage_catalog_read(path, catalog=catalog)
    payload, notes = backstage_to_payload(catalog.entities, known_providers=stored_api_providers())
    return payload, catalog.notes + notes


class Command(BaseCommand):
    help = "Ingest a dependency graph from ingest-format JSON or Backstage catalog-info.yaml."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, nargs="+",
                            help="ingest JSON, or Backstage catalog YAML files (Locations are followed)")
        parser.add_argument("--mode", choices=("merge", "replace"), default=None,
                            help="override the payload's mode (replace: the file is the whole truth for its source)")

    def handle(self, *args, file: list[Path], mode: str | None, **options):
        for path in file:
            if not path.is_file():
                raise CommandError(f"{path}: no such file")
        try:
            payload, notes = load_payload(file)
        except BackstageError as exc:
            raise CommandError(str(exc)) from exc
        except (json.JSONDecodeError, yaml.YAMLError, UnicodeDecodeError) as exc:
            raise CommandError(f"{file[0]}: not valid JSON or YAML: {exc}") from exc
        file = file[0] if len(file) == 1 else Path(f"{file[0].name} and {len(file) - 1} more")
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
