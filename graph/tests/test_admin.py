"""Admin of the graph app: every page renders for staff (and only staff), and
the alert triage console filters, searches, shows the cycle's edges and
acknowledges/resolves alerts after asking for notes."""

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from graph.models import CircularDependencyAlert, GraphVersion, Service, ServiceDependency
from graph.services.cycles import cycle_alerts_sync
from graph.tests.factories import CircularDependencyAlertFactory, ServiceDependencyFactory, ServiceFactory

pytestmark = pytest.mark.django_db

ALERTS = "/admin/graph/circulardependencyalert/"


@pytest.fixture
def staff_client(client):
    user = get_user_model().objects.create_superuser("ops", "ops@example.com", None)  # no hashing: fast
    client.force_login(user)
    return client


def edge(source: str, target: str, **fields):
    return ServiceDependencyFactory(
        source=ServiceFactory(service_id=source), target=ServiceFactory(service_id=target), **fields
    )


@pytest.fixture
def cycle_alert():
    """checkout → payment → fraud → checkout, with fraud → checkout claimed by two sources."""
    edge("checkout", "payment")
    edge("payment", "fraud")
    edge("fraud", "checkout", discovery_source="otel_service_graph", confidence_score=0.6)
    edge("fraud", "checkout", discovery_source="backstage", confidence_score=0.5, is_stale=True)
    cycle_alerts_sync()
    return CircularDependencyAlert.objects.get()


@pytest.mark.parametrize(
    "model", ["service", "servicedependency", "circulardependencyalert", "graphversion"],
)
def test_every_graph_model_changelist_and_change_page_render(staff_client, cycle_alert, model):
    rows = {
        "service": ServiceFactory(service_id="checkout"),
        "servicedependency": ServiceDependency.objects.first(),
        "circulardependencyalert": cycle_alert,
        "graphversion": GraphVersion.objects.get_or_create(pk=1)[0],
    }

    listing = staff_client.get(f"/admin/graph/{model}/")
    assert listing.status_code == 200
    detail = staff_client.get(f"/admin/graph/{model}/{rows[model].pk}/change/")
    assert detail.status_code == 200


@pytest.mark.parametrize("model", ["service", "servicedependency"])
def test_catalog_add_pages_render(staff_client, model):
    assert staff_client.get(f"/admin/graph/{model}/add/").status_code == 200


def test_alerts_cannot_be_added_by_hand(staff_client):
    assert staff_client.get(f"{ALERTS}add/").status_code == 403


@pytest.mark.parametrize(
    "path", ["/admin/graph/service/", "/admin/graph/servicedependency/", ALERTS, "/admin/graph/graphversion/"]
)
def test_graph_admin_is_for_staff_only(client, path):
    client.force_login(get_user_model().objects.create_user("viewer"))

    response = client.get(path)

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_a_service_edited_in_the_admin_records_the_editor(staff_client):
    response = staff_client.post(
        "/admin/graph/service/add/",
        {"service_id": "ledger", "display_name": "Ledger", "criticality": "high", "metadata": "{}", "tags": "[]"},
    )

    assert response.status_code == 302
    service = Service.objects.get(service_id="ledger")
    assert (service.created_by, service.updated_by) == ("ops", "ops")


def test_the_list_shows_each_cycle_as_links_to_its_services(staff_client, cycle_alert):
    checkout = ServiceFactory(service_id="checkout")

    html = staff_client.get(ALERTS).content.decode()

    assert f'href="/admin/graph/service/{checkout.pk}/change/">checkout</a>' in html
    assert html.count(f"/admin/graph/service/{checkout.pk}/change/") == 2  # first and closing node
    assert ">payment</a> → " in html


def test_the_list_filters_by_status_and_scc_size(staff_client):
    CircularDependencyAlertFactory(cycle_path=["alpha", "beta"], scc_size=2)
    CircularDependencyAlertFactory(cycle_path=["gamma", "delta", "omega"], scc_size=8, status="acknowledged")

    by_status = staff_client.get(ALERTS, {"status__exact": "acknowledged"}).content.decode()
    by_size = staff_client.get(ALERTS, {"scc_size": "6-20"}).content.decode()
    small = staff_client.get(ALERTS, {"scc_size": "2"}).content.decode()

    assert "gamma" in by_status and "alpha" not in by_status
    assert "gamma" in by_size and "alpha" not in by_size
    assert "alpha" in small and "gamma" not in small


def test_the_search_finds_alerts_by_a_service_on_the_cycle(staff_client):
    CircularDependencyAlertFactory(cycle_path=["cart", "checkout"])
    CircularDependencyAlertFactory(cycle_path=["cart-v2", "inventory"])

    html = staff_client.get(ALERTS, {"q": "cart"}).content.decode()

    assert "checkout" in html
    assert "inventory" not in html  # cart-v2 is another service


def test_the_change_page_shows_which_source_claims_each_hop(staff_client, cycle_alert):
    html = staff_client.get(f"{ALERTS}{cycle_alert.pk}/change/").content.decode()

    assert "checkout → payment" in html
    assert "fraud → checkout" in html
    assert "otel_service_graph</a> · confidence 0.60 · live" in html
    assert "backstage</a> · confidence 0.50 · stale" in html
    assert html.count("manual</a> · confidence 1.00 · live") == 2
    assert "Acknowledge…" in html and "Resolve…" in html


def test_the_change_page_of_a_resolved_alert_shows_the_broken_hop(staff_client, cycle_alert):
    ServiceDependency.objects.filter(source__service_id="payment").delete()
    cycle_alerts_sync()

    html = staff_client.get(f"{ALERTS}{cycle_alert.pk}/change/").content.decode()

    assert "no edge record (removed)" in html
    assert "Acknowledge…" not in html and "Resolve…" not in html


def _action(client, action, alerts, **extra):
    return client.post(
        ALERTS, {"action": action, "_selected_action": [a.pk for a in alerts], **extra}, follow=False
    )


def test_bulk_acknowledge_asks_for_notes_then_records_who_when_and_notes(staff_client):
    first = CircularDependencyAlertFactory(cycle_path=["a", "b"])
    second = CircularDependencyAlertFactory(cycle_path=["c", "d"])
    done = CircularDependencyAlertFactory(cycle_path=["e", "f"], status="resolved")

    step = _action(staff_client, "acknowledge_selected", [first, second, done])

    assert step.status_code == 200
    assert 'name="notes"' in step.content.decode()
    assert "Acknowledge 2 of the 3 selected" in step.content.decode()
    assert CircularDependencyAlert.objects.filter(status="acknowledged").count() == 0

    missing_notes = _action(staff_client, "acknowledge_selected", [first, second, done], apply="1", notes="")
    assert missing_notes.status_code == 200
    assert "This field is required" in missing_notes.content.decode()
    assert CircularDependencyAlert.objects.filter(status="acknowledged").count() == 0

    before = timezone.now()
    applied = _action(
        staff_client, "acknowledge_selected", [first, second, done], apply="1", notes="owned by payments"
    )

    assert applied.status_code == 302
    for alert in (first, second):
        alert.refresh_from_db()
        assert (alert.status, alert.acknowledged_by, alert.acknowledgement_notes) == (
            "acknowledged", "ops", "owned by payments",
        )
        assert alert.acknowledged_at >= before
    done.refresh_from_db()
    assert done.status == "resolved"
    page = staff_client.get(applied["Location"]).content.decode()
    assert "Acknowledged 2 alert(s)." in page
    assert "Skipped 1 alert(s)" in page


def test_bulk_resolve_records_the_admin_user_and_notes(staff_client):
    alert = CircularDependencyAlertFactory(cycle_path=["a", "b"], status="acknowledged", acknowledged_by="al")

    assert _action(staff_client, "resolve_selected", [alert]).status_code == 200
    response = _action(staff_client, "resolve_selected", [alert], apply="1", notes="b no longer calls a")

    assert response.status_code == 302
    alert.refresh_from_db()
    assert (alert.status, alert.resolved_by, alert.resolution_notes) == ("resolved", "ops", "b no longer calls a")
    assert alert.resolved_at is not None


def test_one_alert_is_acknowledged_from_its_page_after_the_notes_step(staff_client, cycle_alert):
    url = f"{ALERTS}{cycle_alert.pk}/acknowledge/"

    form = staff_client.get(url)
    assert form.status_code == 200
    assert 'name="notes"' in form.content.decode()
    cycle_alert.refresh_from_db()
    assert cycle_alert.status == "open"

    response = staff_client.post(url, {"apply": "1", "notes": "fraud will call checkout async"})

    assert response.status_code == 302
    assert response["Location"] == f"{ALERTS}{cycle_alert.pk}/change/"
    cycle_alert.refresh_from_db()
    assert (cycle_alert.status, cycle_alert.acknowledged_by) == ("acknowledged", "ops")
    assert cycle_alert.acknowledgement_notes == "fraud will call checkout async"


def test_resolving_from_the_page_of_an_unknown_alert_is_404(staff_client):
    assert staff_client.get(f"{ALERTS}999999/resolve/").status_code == 404
    assert staff_client.get(f"{ALERTS}nope/resolve/").status_code == 404


def test_the_list_warns_when_a_component_had_more_cycles_than_listed(staff_client, settings):
    settings.CYCLE_MAX_PER_SCC = 2
    for source, target in [("a", "b"), ("b", "a"), ("b", "c"), ("c", "b"), ("a", "c"), ("c", "a")]:
        edge(source, target)
    cycle_alerts_sync()

    html = staff_client.get(ALERTS).content.decode()

    assert "listed only the first 2 cycles of 1 strongly connected component(s) (sizes 3)" in html


def test_admin_edits_of_the_graph_invalidate_cached_traversals(admin_client, read_client):
    checkout = Service.objects.create(service_id="checkout")
    payment = Service.objects.create(service_id="payment")
    edge = ServiceDependency.objects.create(source=checkout, target=payment, last_observed_at=timezone.now())
    url = "/api/v1/services/checkout/dependencies?depth=1"
    assert [n["service_id"] for n in read_client.get(url).json()["nodes"]] == ["payment"]

    response = admin_client.post(f"/admin/graph/servicedependency/{edge.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert read_client.get(url).json()["nodes"] == []

    response = admin_client.post(
        f"/admin/graph/service/{checkout.pk}/change/",
        {"service_id": "checkout", "display_name": "Checkout", "team": "", "criticality": "medium",
         "metadata": "{}", "tags": "[]", "retired_at_0": "2026-01-01", "retired_at_1": "00:00:00"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert read_client.get(url).status_code == 404
