"""Registry of benchmark parts for `manage.py benchmark`.

Each part is a module exposing `run(*, progress) -> dict` that returns JSON-able
figures; `progress(str)` prints a progress line to stderr.
"""

PARTS: dict[str, str] = {
    "graph": "graph.benchmarks.traversal",
    "cycles": "graph.benchmarks.cycles",
    "recommendations": "recommendations.benchmarks",
    "load": "slo_engine.benchmarks.load",
    "whatif": "slos.benchmarks.whatif",
}
