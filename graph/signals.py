"""Signals other apps listen to (they may import graph; graph imports none
of them). Each is sent after the transaction that caused it has committed."""

from django.dispatch import Signal

# Sent with `service_ids` (list[str]) once an ingestion that created services
# has committed: telemetry computes their SLI aggregates right away instead of
# at the next hourly run.
services_created = Signal()
