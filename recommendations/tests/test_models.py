from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from graph.tests.factories import ServiceFactory
from recommendations.models import SloRecommendation

pytestmark = pytest.mark.django_db


def _recommendation(service, **overrides):
    now = timezone.now()
    fields = {
        "service": service, "sli_type": "availability", "metric": "availability", "window_days": 28,
        "lookback_window_start": now - timedelta(days=30), "lookback_window_end": now,
        "generated_at": now, "expires_at": now + timedelta(hours=24), "status": "active",
    }
    fields.update(overrides)
    return SloRecommendation(**fields)


def test_second_active_recommendation_is_rejected():
    service = ServiceFactory()
    _recommendation(service).save()
    with pytest.raises(IntegrityError), transaction.atomic():
        _recommendation(service).save()


def test_superseded_rows_may_repeat_and_other_metrics_are_independent():
    service = ServiceFactory()
    _recommendation(service).save()
    _recommendation(service, status="superseded").save()
    _recommendation(service, status="superseded").save()
    _recommendation(service, sli_type="latency", metric="latency_p99").save()
    assert SloRecommendation.objects.filter(service=service, status="active").count() == 2


def test_lookback_must_be_ordered():
    service = ServiceFactory()
    now = timezone.now()
    with pytest.raises(IntegrityError), transaction.atomic():
        _recommendation(service, lookback_window_start=now, lookback_window_end=now).save()


@pytest.mark.parametrize("field,value", [("sli_type", "throughput"), ("status", "pending")])
def test_unknown_enums_are_rejected(field, value):
    service = ServiceFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        SloRecommendation.objects.bulk_create([_recommendation(service, **{field: value})])
