"""Operator changes to the service catalog: edit, retire (soft delete) and
restore. Each bumps the graph version, since traversals show catalog fields
and hide retired services. Retiring or restoring a service and removing an
edge record change the topology cycle detection walks (retired services are
not part of it): a detection task is enqueued once the change commits, so
alerts of cycles that are gone resolve (and come back) without waiting for
the daily run."""

from django.db import transaction
from django.utils import timezone

from graph.models import Service, ServiceDependency
from graph.services.ingest import graph_version_bump

EDITABLE_FIELDS = ("display_name", "team", "criticality", "tags", "metadata")


def _detect_cycles_after_commit() -> None:
    from graph.tasks import detect_cycles

    transaction.on_commit(detect_cycles.delay)


def service_update(*, service: Service, changes: dict, actor: str) -> Service:
    """Apply validated catalog `changes` (a subset of EDITABLE_FIELDS) to `service`.

    Returns the service; nothing is written when no value changes.
    """
    changed = [key for key in EDITABLE_FIELDS if key in changes and getattr(service, key) != changes[key]]
    if not changed:
        return service
    with transaction.atomic():
        for key in changed:
            setattr(service, key, changes[key])
        service.updated_by = actor
        service.save(update_fields=[*changed, "updated_by", "updated_at"])
        graph_version_bump()
    return service


def service_retire(*, service: Service, actor: str) -> Service:
    """Retire a service: hidden from lists and traversals, its edges kept.

    Retiring an already retired service changes nothing.
    """
    if service.retired_at is not None:
        return service
    with transaction.atomic():
        # Conditional UPDATE: two operators retiring at once write once.
        now = timezone.now()
        if Service.objects.filter(pk=service.pk, retired_at__isnull=True).update(
            retired_at=now, updated_by=actor, updated_at=now
        ):
            graph_version_bump()
            _detect_cycles_after_commit()
    service.refresh_from_db()
    return service


def service_restore(*, service: Service, actor: str) -> Service:
    """Undo `service_retire`; restoring an active service changes nothing."""
    if service.retired_at is None:
        return service
    with transaction.atomic():
        if Service.objects.filter(pk=service.pk, retired_at__isnull=False).update(
            retired_at=None, updated_by=actor, updated_at=timezone.now()
        ):
            graph_version_bump()
            _detect_cycles_after_commit()
    service.refresh_from_db()
    return service


def dependency_delete(*, dependency: ServiceDependency) -> None:
    """Remove one edge record (one discovery source's view of one edge)."""
    with transaction.atomic():
        dependency.delete()
        graph_version_bump()
        _detect_cycles_after_commit()
