"""Backstage catalogs as they are laid out (DESIGN.md section 12, `ingest_graph`).

A catalog is usually one `catalog-info.yaml` per repository, tied together by
Location entities. What becomes of it:

* Components and Resources become services (service_id: the entity name,
  a `.` in it written `-`). A Resource's `spec.type` becomes
  `metadata.kind` (e.g. `database`). An owner `group:x` (or a bare `x`, whose
  default kind is Group) becomes team `x`; a `user:` owner goes to
  `metadata.owner`.
* Edges are the dependencies Backstage itself derives: `spec.dependsOn`
  (to `component:` and `resource:` refs) from the entity to the target,
  `spec.dependencyOf` the other way round, and from a Component to every
  Component that provides an API it consumes (`consumesApis` /
  `providesApis`). Providers are looked up across all the files read and in
  what earlier ingestions stored (`metadata.backstage.provides_apis`), so a
  consumer and its provider may live in different repositories.
* A Location's `spec.target`/`spec.targets` are followed relative to the
  file holding it; only local files under no URL scheme, each read once (no
  loops).
* An invalid entity is skipped with a note naming it and its file; the
  rest is ingested.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from graph.models import Service

SERVICE_KINDS = ("component", "resource")
# Backstage's own rule for metadata.name (and ref names): at most 63
# characters, runs of [a-zA-Z0-9] separated by single - _ or .
_ENTITY_NAME = re.compile(r"^[a-zA-Z0-9]+([-_.][a-zA-Z0-9]+)*$")
_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
CRITICALITIES = ("critical", "high", "medium", "low")


class BackstageError(Exception):
    """The catalog could not be read at all (a missing or unparsable file)."""


@dataclass(frozen=True)
class Entity:
    kind: str  # lowercase
    name: str
    document: dict
    file: Path

    @property
    def spec(self) -> dict:
        spec = self.document.get("spec")
        return spec if isinstance(spec, dict) else {}

    @property
    def label(self) -> str:
        return f"{self.file.name}: {self.document.get('kind')} {self.name!r}"


@dataclass
class BackstageCatalog:
    """Entities read from a file and the Locations it leads to, with notes on
    what was skipped; `files` in the order read."""

    entities: list[Entity] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def entity_ref(reference: object, default_kind: str) -> tuple[str, str]:
    """(kind, name) of an entity reference `[kind:][namespace/]name`."""
    text = str(reference).strip()
    kind, _, rest = text.partition(":") if ":" in text else (default_kind, "", text)
    return kind.strip().lower(), rest.rsplit("/", 1)[-1].strip()


def service_id_of(name: str) -> str:
    """The service_id of a Backstage entity name (`.` is not allowed in a service_id)."""
    return name.replace(".", "-")


def _invalid(document: dict) -> str | None:
    """Why a document is not a valid entity, or None."""
    metadata = document.get("metadata")
    if not isinstance(metadata, dict):
        return "metadata is missing"
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        return "metadata.name is missing"
    if len(name) > 63 or not _ENTITY_NAME.match(name):
        return ("metadata.name must be at most 63 characters of [a-zA-Z0-9] runs separated by single "
                "'-', '_' or '.'")
    spec = document.get("spec")
    if spec is not None and not isinstance(spec, dict):
        return "spec must be a mapping"
    spec = spec or {}
    kind = str(document.get("kind", "")).lower()
    if kind in SERVICE_KINDS:
        for key in ("type", "owner"):
            if not isinstance(spec.get(key), str) or not spec.get(key):
                return f"spec.{key} is required"
    for key in ("dependsOn", "dependencyOf", "providesApis", "consumesApis", "targets"):
        value = spec.get(key)
        if value is not None and (not isinstance(value, list) or not all(isinstance(v, str) for v in value)):
            return f"spec.{key} must be a list of entity references"
    return None


def backstage_catalog_read(path: Path, *, catalog: BackstageCatalog | None = None) -> BackstageCatalog:
    """Read the Backstage YAML documents of `path` and, depth first, of the
    Location targets they name. Raises BackstageError when `path` itself
    cannot be read or parsed; a target that cannot is a note."""
    catalog = catalog or BackstageCatalog()
    path = path.resolve()
    if path in catalog.files:
        catalog.notes.append(f"{path.name}: already read; a Location loop was cut here")
        return catalog
    catalog.files.append(path)
    try:
        documents = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise BackstageError(f"{path}: cannot read it as YAML: {exc}") from exc
    for index, document in enumerate(documents, start=1):
        if not isinstance(document, dict) or "kind" not in document:
            catalog.notes.append(f"{path.name}: document {index} is not a Backstage entity; skipped")
            continue
        kind = str(document.get("kind", "")).lower()
        name = (document.get("metadata") or {}).get("name") if isinstance(document.get("metadata"), dict) else None
        problem = _invalid(document)
        if problem:
            catalog.notes.append(f"{path.name}: {document.get('kind')} {name!r} skipped: {problem}")
            continue
        entity = Entity(kind=kind, name=name, document=document, file=path)
        catalog.entities.append(entity)
        if kind == "location":
            _follow_location(entity, catalog)
    return catalog


def _follow_location(location: Entity, catalog: BackstageCatalog) -> None:
    spec = location.spec
    targets = list(spec.get("targets") or []) + ([spec["target"]] if isinstance(spec.get("target"), str) else [])
    if spec.get("type") not in (None, "file"):
        catalog.notes.append(f"{location.label}: type {spec.get('type')!r} is not read (local files only)")
        return
    for target in targets:
        if _URL.match(target):
            catalog.notes.append(f"{location.label}: target {target} is a URL; only local files are read")
            continue
        resolved = (location.file.parent / target).resolve()
        if "*" in target:
            matches = sorted(location.file.parent.glob(target))
            if not matches:
                catalog.notes.append(f"{location.label}: target {target} matches no file")
            for match in matches:
                _read_target(match, location, catalog)
            continue
        _read_target(resolved, location, catalog)


def _read_target(path: Path, location: Entity, catalog: BackstageCatalog) -> None:
    if not path.is_file():
        catalog.notes.append(f"{location.label}: target {path} is not a file; skipped")
        return
    try:
        backstage_catalog_read(path, catalog=catalog)
    except BackstageError as exc:
        catalog.notes.append(f"{location.label}: {exc}; skipped")


def stored_api_providers() -> dict[str, set[str]]:
    """API name -> service_ids of services an earlier ingestion recorded as
    providing it (`metadata.backstage.provides_apis`)."""
    providers: dict[str, set[str]] = {}
    rows = Service.objects.active().filter(metadata__has_key="backstage").values_list("service_id", "metadata")
    for service_id, metadata in rows:
        backstage = (metadata or {}).get("backstage")
        apis = backstage.get("provides_apis") if isinstance(backstage, dict) else None
        for api in apis if isinstance(apis, list) else ():
            providers.setdefault(str(api), set()).add(service_id)
    return providers


def _node(entity: Entity) -> dict:
    metadata, spec = entity.document.get("metadata") or {}, entity.spec
    backstage = {key: spec[key] for key in ("type", "lifecycle", "system") if isinstance(spec.get(key), str)}
    backstage["kind"] = entity.kind
    if entity.name != service_id_of(entity.name):
        backstage["name"] = entity.name
    provided = sorted({entity_ref(api, "api")[1] for api in spec.get("providesApis") or []})
    if provided:
        backstage["provides_apis"] = provided
    node = {"service_id": service_id_of(entity.name), "display_name": str(metadata.get("title") or entity.name),
            "tags": [str(tag) for tag in metadata.get("tags") or []][:100],
            "metadata": {"backstage": backstage}}
    if entity.kind == "resource":
        node["metadata"]["kind"] = spec["type"]
    owner_kind, owner = entity_ref(spec["owner"], "group")
    if owner_kind == "group":
        node["team"] = owner
    else:
        node["metadata"]["owner"] = f"{owner_kind}:{owner}"
    criticality = str((metadata.get("annotations") or {}).get("criticality", "")).lower()
    if criticality in CRITICALITIES:
        node["criticality"] = criticality
    return node


def backstage_to_payload(
    entities: Iterable[Entity], *, known_providers: dict[str, set[str]] | None = None
) -> tuple[dict, list[str]]:
    """The ingest payload (source `backstage`) of a catalog's entities, and
    notes on references that lead nowhere. `known_providers` (API name ->
    service_ids) adds the providers of earlier ingestions."""
    services = [e for e in entities if e.kind in SERVICE_KINDS]
    notes: list[str] = []
    providers: dict[str, set[str]] = {api: set(ids) for api, ids in (known_providers or {}).items()}
    for entity in services:
        for api in entity.spec.get("providesApis") or []:
            providers.setdefault(entity_ref(api, "api")[1], set()).add(service_id_of(entity.name))

    edges: dict[tuple[str, str], None] = {}

    def add(source: str, target: str, why: str) -> None:
        """An edge between two entity names (one of them a reference)."""
        invalid = [name for name in (source, target) if len(name) > 63 or not _ENTITY_NAME.match(name)]
        if invalid:
            notes.append(f"{why}: {invalid[0]!r} is not a valid entity name; skipped")
        elif service_id_of(source) == service_id_of(target):
            notes.append(f"{why}: an entity cannot depend on itself; skipped")
        else:
            edges.setdefault((service_id_of(source), service_id_of(target)), None)

    for entity in services:
        me = service_id_of(entity.name)
        for reference in entity.spec.get("dependsOn") or []:
            kind, target = entity_ref(reference, "component")
            if kind in SERVICE_KINDS:
                add(entity.name, target, f"{entity.label} dependsOn {reference}")
            else:
                notes.append(f"{entity.label}: dependsOn {reference} is a {kind}, not a component or resource; "
                             "skipped")
        for reference in entity.spec.get("dependencyOf") or []:
            kind, dependent = entity_ref(reference, "component")
            if kind in SERVICE_KINDS:
                # `dependencyOf: X` says X depends on this entity.
                add(dependent, entity.name, f"{entity.label} dependencyOf {reference}")
            else:
                notes.append(f"{entity.label}: dependencyOf {reference} is a {kind}; skipped")
        for api in entity.spec.get("consumesApis") or []:
            api_name = entity_ref(api, "api")[1]
            targets = sorted(providers.get(api_name, set()) - {me})
            if not targets:
                notes.append(f"{entity.label}: no Component provides API {api_name!r}; skipped")
            for target in targets:
                edges.setdefault((me, target), None)

    nodes = [_node(entity) for entity in services]
    payload = {"source": "backstage", "nodes": nodes,
               "edges": [{"source": s, "target": t, "attributes": {}} for s, t in edges]}
    return payload, notes
