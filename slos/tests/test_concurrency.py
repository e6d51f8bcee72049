"""Clients deciding at the same moment on PostgreSQL (a live, threaded
server; each request on its own connection): exactly one SLO stays active."""

import httpx
import pytest
from django.db import connection

from slo_engine.models import ApiKey, ApiKeyScope
from slos.models import ServiceLevelObjective, SloChange
from slos.tests.factories import SloRecommendationFactory

CLIENTS = 8


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL's row locks")
@pytest.mark.django_db(transaction=True)
def test_clients_accepting_at_once_leave_exactly_one_active_slo(live_server, run_together):
    _, key = ApiKey.objects.create_key(name="race", scope=ApiKeyScope.WRITE)
    recommendation = SloRecommendationFactory(service__service_id="checkout")
    url = f"{live_server.url}/api/v1/services/checkout/slos"
    tiers = ["conservative", "balanced", "aggressive"]

    def accept(n: int) -> tuple[int, dict]:
        response = httpx.post(url, json={"action": "accept", "recommendation_id": recommendation.pk,
                                         "tier": tiers[n % 3], "rationale": f"client {n}"},
                              headers={"Authorization": f"Api-Key {key}"}, timeout=60)
        return response.status_code, response.json()

    results = run_together(accept, [(n,) for n in range(CLIENTS)])

    assert [status for status, _ in results] == [201] * CLIENTS, results
    active = ServiceLevelObjective.objects.filter(service__service_id="checkout", state="active")
    assert active.count() == 1
    versions = sorted(ServiceLevelObjective.objects.values_list("version", flat=True))
    assert versions == list(range(1, CLIENTS + 1))
    assert active.get().version == CLIENTS
    # Each accept after the first retired exactly the SLO the previous one made.
    changes = list(SloChange.objects.order_by("at", "id"))
    assert [c.action for c in changes] == ["accept"] * CLIENTS
    assert changes[0].before is None
    assert all(later.before["slo_id"] == earlier.after["slo_id"]
               for earlier, later in zip(changes, changes[1:], strict=False))
