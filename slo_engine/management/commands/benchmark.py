"""Runs the benchmarks and prints one JSON document with every figure.

`python manage.py benchmark` runs all parts; `--only graph,cycles` a subset.
Progress goes to stderr so stdout stays valid JSON. Parts are found, like
Celery tasks, in each installed app's `benchmarks` package: its `PARTS` dict
maps a part name to a module exposing `run(*, progress) -> dict` that returns
JSON-able figures.
"""

import importlib
import importlib.util
import json
import platform
import sys
import time

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection


class Command(BaseCommand):
    help = "Run benchmarks and print their figures as JSON."

    def add_arguments(self, parser):
        parser.add_argument("--only", default="", help=f"comma-separated parts: {', '.join(benchmark_parts())}")
        parser.add_argument("--output", default="", help="also write the JSON document to this file")

    def handle(self, *args, only: str, output: str, **options):
        parts = benchmark_parts()
        wanted = [p.strip() for p in only.split(",") if p.strip()] or list(parts)
        unknown = sorted(set(wanted) - set(parts))
        if unknown:
            raise CommandError(f"unknown part(s) {unknown}; choose from {sorted(parts)}")

        def progress(message: str) -> None:
            print(f"[benchmark] {message}", file=sys.stderr, flush=True)

        document = {
            "machine": {"cpus": _cpu_count(), "python": platform.python_version(), "database": connection.vendor,
                        "cache": settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]},
            "parts": {},
        }
        for part in wanted:
            progress(f"part {part}: starting")
            started = time.perf_counter()
            module = importlib.import_module(parts[part])
            figures = module.run(progress=progress)
            figures["elapsed_seconds"] = round(time.perf_counter() - started, 3)
            document["parts"][part] = figures
            progress(f"part {part}: done in {figures['elapsed_seconds']} s")
        text = json.dumps(document, indent=2, default=str)
        if output:
            with open(output, "w") as handle:
                handle.write(text + "\n")
        self.stdout.write(text)


def benchmark_parts() -> dict[str, str]:
    """Every installed app's benchmark parts, in INSTALLED_APPS order."""
    parts: dict[str, str] = {}
    for config in apps.get_app_configs():
        name = f"{config.name}.benchmarks"
        if importlib.util.find_spec(name) is not None:
            parts.update(getattr(importlib.import_module(name), "PARTS", {}))
    return parts


def _cpu_count() -> int:
    import os

    return os.cpu_count() or 1
