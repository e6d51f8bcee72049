"""Recommendations do not pile up: a forced regeneration needs a write key,
and superseded or expired rows are pruned after RECOMMENDATION_RETENTION_DAYS."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from graph.tests.factories import ServiceFactory
from recommendations.models import SloRecommendation
from recommendations.services import recommendations_prune
from recommendations.tasks import expire_recommendations
from recommendations.tests.factories import SloRecommendationFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/services/{}/slo-recommendations"


def _aged(status: str, days: float, **fields) -> SloRecommendation:
    """A row that stopped being active `days` ago (`updated_at`)."""
    row = SloRecommendationFactory(status=status, **fields)
    SloRecommendation.objects.filter(pk=row.pk).update(updated_at=timezone.now() - timedelta(days=days))
    return row


def test_force_regenerate_with_a_read_key_is_a_403_and_stores_nothing(read_client):
    service = ServiceFactory(service_id="regen")
    SloRecommendationFactory(service=service)
    before = list(SloRecommendation.objects.values().order_by("pk"))

    response = read_client.get(URL.format("regen") + "?force_regenerate=true")

    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    assert [error["field"] for error in response.json()["errors"]] == ["force_regenerate"]
    assert "write" in response.json()["detail"]
    assert list(SloRecommendation.objects.values().order_by("pk")) == before


def test_a_read_key_still_reads_and_rejects_an_empty_flag(read_client):
    service = ServiceFactory(service_id="regen-read")
    SloRecommendationFactory(service=service)
    assert read_client.get(URL.format("regen-read")).status_code == 200
    assert read_client.get(URL.format("regen-read") + "?force_regenerate=false").status_code == 200
    response = read_client.get(URL.format("regen-read") + "?force_regenerate=")
    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["force_regenerate"]


def test_prune_deletes_only_old_superseded_and_expired_rows(settings):
    settings.RECOMMENDATION_RETENTION_DAYS = 30
    service = ServiceFactory()
    kept = [
        SloRecommendationFactory(service=service),
        _aged("superseded", 29, service=service),
        _aged("expired", 1, service=service),
        # Active rows are never pruned, however old.
        _aged("active", 400, service=service, sli_type="latency", metric="latency_p99"),
    ]
    pruned = [_aged("superseded", 31, service=service), _aged("expired", 90, service=service)]

    assert recommendations_prune(batch_size=1) == 2

    remaining = set(SloRecommendation.objects.values_list("pk", flat=True))
    assert remaining == {row.pk for row in kept}
    assert not remaining & {row.pk for row in pruned}


def test_retention_follows_the_setting(settings):
    settings.RECOMMENDATION_RETENTION_DAYS = 7
    row = _aged("superseded", 8)
    assert recommendations_prune() == 1
    assert not SloRecommendation.objects.filter(pk=row.pk).exists()


def test_the_hourly_expiry_task_also_prunes(settings):
    settings.RECOMMENDATION_RETENTION_DAYS = 30
    stale_active = SloRecommendationFactory(expires_at=timezone.now() - timedelta(hours=1))
    _aged("expired", 45)
    assert expire_recommendations() == {"expired": 1, "pruned": 1}
    assert SloRecommendation.objects.get(pk=stale_active.pk).status == "expired"


def test_the_retention_sweep_has_its_partial_index():
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'recommendation_retention_idx'")
        (definition,) = cursor.fetchone()
    assert "(updated_at)" in definition
    assert "superseded" in definition and "expired" in definition
