"""Admin: SLOs with their status and history; the history is read-only."""

import pytest

from slos.models import ServiceLevelObjective, SloChange
from slos.tests.factories import SloChangeFactory, SloStatusFactory

pytestmark = pytest.mark.django_db


def test_slo_pages_show_status_and_trail_and_the_trail_cannot_be_edited(admin_client):
    status = SloStatusFactory(health="warning")
    change = SloChangeFactory(slo=status.slo, rationale="as agreed")

    listing = admin_client.get("/admin/slos/servicelevelobjective/")
    assert listing.status_code == 200 and b"warning" in listing.content
    detail = admin_client.get(f"/admin/slos/servicelevelobjective/{status.slo.pk}/change/")
    assert detail.status_code == 200 and b"as agreed" in detail.content
    # Lifecycle fields are shown, not editable: a change goes through the services that audit it.
    assert b'name="target"' not in detail.content and b'name="state"' not in detail.content
    assert admin_client.get("/admin/slos/servicelevelobjective/add/").status_code == 403
    deleted = admin_client.post(f"/admin/slos/servicelevelobjective/{status.slo.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 403 and ServiceLevelObjective.objects.filter(pk=status.slo.pk).exists()

    assert admin_client.get("/admin/slos/slochange/").status_code == 200
    assert admin_client.get("/admin/slos/slochange/add/").status_code == 403
    view = admin_client.get(f"/admin/slos/slochange/{change.pk}/change/")
    assert view.status_code == 200 and b"as agreed" in view.content and b'name="_save"' not in view.content
    posted = admin_client.post(f"/admin/slos/slochange/{change.pk}/change/", {"rationale": "rewritten"})
    assert posted.status_code == 403
    assert admin_client.post(f"/admin/slos/slochange/{change.pk}/delete/", {"post": "yes"}).status_code == 403
    assert SloChange.objects.get().rationale == "as agreed"
