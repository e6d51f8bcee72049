import os
from pathlib import Path

# Shared data (demo topology) lives beside the repository in ../shared/data.
SHARED_DATA_DIR = Path(os.environ.get("SHARED_DATA_DIR", Path(__file__).resolve().parent.parent / "shared" / "data"))

pytest_plugins = [
    "slo_engine.testing.api",
    "slo_engine.testing.celery",
    "slo_engine.testing.prometheus",
    "slo_engine.testing.browser",
    "slo_engine.testing.services",
    "slo_engine.testing.otlp",
]
