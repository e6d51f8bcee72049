"""The one way an audit-trail row may go: with the service it audits.

On PostgreSQL a trigger refuses any UPDATE or DELETE of `slos_slochange`
(migration 0002) unless the transaction set `slos.trail_delete`; deleting a
service (an admin's hard delete, not the usual retire) sets it, so its SLOs
and their trail go with it.
"""

from django.db import connections
from django.db.models.signals import pre_delete
from django.dispatch import receiver

from graph.models import Service


@receiver(pre_delete, sender=Service, dispatch_uid="slos.allow_trail_delete_with_service")
def allow_trail_delete_with_service(sender, instance, using, **kwargs) -> None:
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        # is_local=true: the permission ends with the deleting transaction.
        cursor.execute("SELECT set_config('slos.trail_delete', 'on', true)")
