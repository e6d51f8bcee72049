import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from graph.tests.factories import ServiceFactory
from telemetry.models import SliAggregate

pytestmark = pytest.mark.django_db


def _aggregate(**overrides):
    fields = {
        "service": ServiceFactory(), "sli_type": "availability", "time_window": "1d", "value": "0.999",
        "sample_count": 10, "computed_at": timezone.now(),
    }
    fields.update(overrides)
    return SliAggregate(**fields)


@pytest.mark.parametrize(
    "field,value", [("sli_type", "saturation"), ("time_window", "2d"), ("sample_count", -1)]
)
def test_database_rejects_bad_aggregates(field, value):
    with pytest.raises(IntegrityError), transaction.atomic():
        SliAggregate.objects.bulk_create([_aggregate(**{field: value})])


def test_valid_aggregate_is_stored():
    SliAggregate.objects.bulk_create([_aggregate()])
    assert SliAggregate.objects.count() == 1
