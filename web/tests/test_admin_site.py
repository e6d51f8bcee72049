"""Admin pages of the non-graph models render for staff, and only for staff.
(The graph app's admin, including the alert triage console, is tested in graph/tests/test_admin.py.)"""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from graph.tests.factories import ServiceFactory
from recommendations.models import SloRecommendation
from slo_engine.models import ApiKey
from telemetry.models import SliAggregate

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    user = get_user_model().objects.create_superuser("ops", "ops@example.com", "pw-for-tests-123")
    client.force_login(user)
    return client


@pytest.fixture
def rows():
    service = ServiceFactory(service_id="checkout")
    now = timezone.now()
    api_key, _ = ApiKey.objects.create_key(name="ci", scope="write")
    aggregate = SliAggregate.objects.create(
        service=service, sli_type="availability", time_window="1d", value="0.9991", sample_count=100,
        computed_at=now,
    )
    recommendation = SloRecommendation.objects.create(
        service=service, sli_type="availability", metric="availability", lookback_window_start=now - timedelta(days=30),
        lookback_window_end=now, generated_at=now, expires_at=now + timedelta(hours=24),
    )
    return {"slo_engine/apikey": api_key, "telemetry/sliaggregate": aggregate,
            "recommendations/slorecommendation": recommendation}


@pytest.mark.parametrize(
    "model", ["slo_engine/apikey", "telemetry/sliaggregate", "recommendations/slorecommendation"]
)
def test_changelist_and_change_pages_render(staff_client, rows, model):
    listing = staff_client.get(f"/admin/{model}/")
    assert listing.status_code == 200
    assert str(rows[model]) in listing.content.decode()
    detail = staff_client.get(f"/admin/{model}/{rows[model].pk}/change/")
    assert detail.status_code == 200


@pytest.mark.parametrize(
    "path",
    ["/admin/django_celery_beat/periodictask/", "/admin/django_celery_results/taskresult/", "/admin/"],
)
def test_operations_pages_render(staff_client, path):
    assert staff_client.get(path).status_code == 200


def test_admin_is_for_staff_only(client):
    user = get_user_model().objects.create_user("viewer", password="pw-for-tests-123")
    client.force_login(user)
    response = client.get("/admin/telemetry/sliaggregate/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
