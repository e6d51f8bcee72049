"""Benchmark parts of this app, found by `manage.py benchmark` (part name ->
module exposing `run(*, progress) -> dict`)."""

PARTS: dict[str, str] = {
    "slo_status": "slos.benchmarks.status",
    "whatif": "slos.benchmarks.whatif",
}
