"""Signals recommendations send, so apps above it (slos) can act on fresh
recommendations without recommendations importing them."""

from django.dispatch import Signal

# Sent by each chunk of the daily batch once its recommendations are written;
# kwargs: `service_ids` (list[str], the services of the chunk).
batch_chunk_generated = Signal()
