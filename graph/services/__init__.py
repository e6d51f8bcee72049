"""Writes to the graph: ingestion, cycle alerts, staleness. Keyword-only
functions named `<entity>_<action>`."""
