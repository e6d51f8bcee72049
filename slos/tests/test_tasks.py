"""The scoring task on a real Celery worker, and the command beside it."""

from io import StringIO

import pytest
from celery.result import GroupResult
from django.core.management import call_command
from django.core.management.base import CommandError
from django_celery_results.models import TaskResult

from slos.models import SloStatus
from slos.tasks import refresh_slo_status
from slos.tests.factories import SloFactory


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_refresh_task_scores_every_active_slo_on_a_worker(live_celery_worker, settings):
    settings.TELEMETRY_SOURCE = "demo"
    healthy = SloFactory(service__service_id="checkout", target=0.99)
    burning = SloFactory(service__service_id="frontend", target=0.995)  # in an ongoing demo incident
    SloFactory(service__service_id="cart", state="retired", retired_at=healthy.created_at)

    result = refresh_slo_status.delay(chunk_size=1)
    dispatched = result.get(timeout=60)
    assert (dispatched["slos"], dispatched["chunks"]) == (2, 2)
    chunks = GroupResult.restore(dispatched["group_id"]).get(timeout=60)

    assert sorted(c["by_health"].popitem()[0] for c in chunks) == ["critical", "healthy"]
    assert sum(c["scored"] for c in chunks) == 2 and sum(c["stale"] for c in chunks) == 0
    assert SloStatus.objects.get(slo=healthy).health == "healthy"
    status = SloStatus.objects.get(slo=burning)
    assert status.firing == "page" and status.health in {"critical", "exhausted"}
    assert SloStatus.objects.count() == 2
    assert TaskResult.objects.get(task_id=result.id).status == "SUCCESS"


@pytest.mark.django_db
def test_refresh_command_reports_progress_and_health(settings):
    settings.TELEMETRY_SOURCE = "demo"
    SloFactory(service__service_id="checkout", target=0.99)
    out, err = StringIO(), StringIO()
    call_command("refresh_slo_status", stdout=out, stderr=err)
    assert "scored 1/1" in err.getvalue()
    assert "1 SLOs scored" in out.getvalue() and "1 healthy" in out.getvalue()
    with pytest.raises(CommandError, match="no active SLO"):
        call_command("refresh_slo_status", "--service", "nope", stdout=StringIO(), stderr=StringIO())
