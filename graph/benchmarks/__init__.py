"""Benchmark parts of this app, found by `manage.py benchmark` (part name ->
module exposing `run(*, progress) -> dict`)."""

PARTS: dict[str, str] = {
    "graph": "graph.benchmarks.traversal",
    "cycles": "graph.benchmarks.cycles",
    "load": "graph.benchmarks.load",
}
