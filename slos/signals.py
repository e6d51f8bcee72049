"""Receivers of slos.

The one way an audit-trail row may go: with the service it audits.

On PostgreSQL a trigger refuses any UPDATE or DELETE of `slos_slochange`
(migration 0002) unless the transaction set `slos.trail_delete`; deleting a
service (an admin's hard delete, not the usual retire) sets it, so its SLOs
and their trail go with it.
"""

from django.db import connections
from django.db.models.signals import pre_delete
from django.dispatch import receiver

from graph.models import Service
from recommendations.signals import batch_chunk_generated


@receiver(pre_delete, sender=Service, dispatch_uid="slos.allow_trail_delete_with_service")
def allow_trail_delete_with_service(sender, instance, using, **kwargs) -> None:
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        # is_local=true: the permission ends with the deleting transaction.
        cursor.execute("SELECT set_config('slos.trail_delete', 'on', true)")


@receiver(batch_chunk_generated, dispatch_uid="slos.review_after_recommendation_batch")
def review_after_recommendation_batch(sender, service_ids, **kwargs) -> dict:
    """The daily batch's SLO part (section 10): flag review-due SLOs and
    apply auto-approval for the services whose recommendations were just
    regenerated. Returns counts the chunk task reports."""
    from slos.services import slo_review_after_recommendations

    return slo_review_after_recommendations(service_ids=service_ids)
