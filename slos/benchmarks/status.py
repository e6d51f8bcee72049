"""Benchmark part `slo_status`: one scoring run over 5,000 SLOs of record with
the demo source (events, budget maths, burn rates and the upsert of every
status), in one process: the work of the 5-minute beat task. It creates its
own services and SLOs (prefix `bench-slo-<run>-`) and deletes them at the
end, so a user's data is left alone."""

import uuid

from graph.models import Service
from slos.models import ServiceLevelObjective, SloStatus
from slos.services import slo_status_refresh
from telemetry.sources.demo import DemoSource

SLOS = 5000
TARGET_SECONDS = 60.0


def run(*, progress) -> dict:
    prefix = f"bench-slo-{uuid.uuid4().hex[:8]}-"
    Service.objects.bulk_create([Service(service_id=f"{prefix}{i:05d}", display_name=f"bench {i}")
                                 for i in range(SLOS)], batch_size=1000)
    services = list(Service.objects.filter(service_id__startswith=prefix).order_by("service_id"))
    targets = (0.99, 0.995, 0.999, 0.9995)
    ServiceLevelObjective.objects.bulk_create([
        ServiceLevelObjective(service=service, sli_type="availability", metric="availability",
                              target=targets[i % len(targets)], window_days=28, origin="balanced",
                              created_by="benchmark")
        for i, service in enumerate(services)
    ], batch_size=1000)
    slos = list(ServiceLevelObjective.objects.filter(service__service_id__startswith=prefix)
                .select_related("service").order_by("pk"))
    progress(f"slo_status: {len(slos)} SLOs of record created; scoring")

    def report(done: int, total: int) -> None:
        if done % 1000 == 0:
            progress(f"slo_status: {done}/{total} scored")

    try:
        result = slo_status_refresh(slos=slos, source=DemoSource(), progress=report)
        written = SloStatus.objects.filter(slo__service__service_id__startswith=prefix).count()
    finally:
        Service.objects.filter(service_id__startswith=prefix).delete()
    return {
        "slos": len(slos),
        "statuses_written": written,
        "by_health": result.by_health,
        "run_seconds": round(result.seconds, 3),
        "slos_per_second": round(len(slos) / result.seconds, 1),
        "target_seconds": TARGET_SECONDS,
        "within_target": result.seconds <= TARGET_SECONDS,
    }
