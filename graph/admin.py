"""Admin of the graph app: catalog editing, edge records, and the triage
console of circular-dependency alerts (DESIGN.md section 7).

The triage console lists alerts with status and SCC-size filters and a search
by service; shows each cycle as a chain of links to the services; acknowledges
or resolves alerts in bulk or one by one after asking for notes; and on an
alert's page lists the edge records behind every hop of its cycle, so the
operator sees which discovery source claims each hop.
"""

from collections import defaultdict
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import ChangeList
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from graph.domain.merge import noisy_or
from graph.models import AlertStatus, CircularDependencyAlert, GraphVersion, Service, ServiceDependency
from graph.services.alerts import alerts_acknowledge, alerts_involving_service, alerts_resolve
from graph.services.cycles import cycle_detection_summary
from graph.services.ingest import graph_version_bump


def _page_url(name: str, *args) -> str | None:
    """URL of a product page (service map, service page), None while it does not exist."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


class GraphWriteAdminMixin:
    """Admin writes change the graph like API writes do: each bumps the graph
    version in the same transaction, so cached traversals and maps miss."""

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        graph_version_bump()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        graph_version_bump()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        graph_version_bump()


@admin.register(Service)
class ServiceAdmin(GraphWriteAdminMixin, admin.ModelAdmin):
    list_display = ("service_id", "display_name", "team", "criticality", "discovered", "retired_at", "updated_at")
    list_filter = ("criticality", "discovered", "team", ("retired_at", admin.EmptyFieldListFilter))
    search_fields = ("service_id", "display_name", "team")
    readonly_fields = ("id", "view_on_map", "created_at", "updated_at", "created_by", "updated_by")
    show_full_result_count = False

    def view_on_site(self, obj):
        return _page_url("page-service-detail", obj.service_id)

    @admin.display(description="service map")
    def view_on_map(self, obj):
        map_url = _page_url("page-service-map")
        if not map_url or not obj.pk:
            return "-"
        return format_html('<a href="{}?{}">View on map</a> · <a href="{}">service page</a>', map_url,
                           urlencode({"focus": obj.service_id}), _page_url("page-service-detail", obj.service_id))

    def save_model(self, request, obj, form, change):
        obj.updated_by = request.user.get_username()
        if not change:
            obj.created_by = obj.updated_by
        super().save_model(request, obj, form, change)


@admin.register(ServiceDependency)
class ServiceDependencyAdmin(GraphWriteAdminMixin, admin.ModelAdmin):
    list_display = (
        "id", "source", "target", "discovery_source", "communication_mode", "criticality",
        "confidence_score", "failure_ratio", "is_stale", "last_observed_at",
    )
    list_filter = ("discovery_source", "is_stale", "communication_mode", "criticality")
    search_fields = ("source__service_id", "target__service_id", "protocol")
    list_select_related = ("source", "target")
    raw_id_fields = ("source", "target")
    # Edge health is measured by discovery, not typed in.
    readonly_fields = ("request_rate", "failure_ratio", "health_observed_at", "created_at", "updated_at")
    show_full_result_count = False


class SccSizeFilter(admin.SimpleListFilter):
    """Buckets of strongly-connected-component size: a big component means a
    tangle of services, not a single back edge."""

    title = "SCC size"
    parameter_name = "scc_size"
    buckets = {"2": (None, 2), "3-5": (3, 5), "6-20": (6, 20), "21+": (21, None)}

    def lookups(self, request, model_admin):
        return [("2", "2 services"), ("3-5", "3 to 5"), ("6-20", "6 to 20"), ("21+", "21 or more")]

    def queryset(self, request, queryset):
        if self.value() not in self.buckets:
            return queryset
        low, high = self.buckets[self.value()]
        if low is not None:
            queryset = queryset.filter(scc_size__gte=low)
        if high is not None:
            queryset = queryset.filter(scc_size__lte=high)
        return queryset


def _attach_service_pks(alerts) -> None:
    """Give each alert a map service_id -> Service pk for the services on its
    cycle, with one query for the whole page (the chain links need the pks)."""
    alerts = list(alerts)
    service_ids = {service_id for alert in alerts for service_id in alert.cycle_path or []}
    pks = dict(Service.objects.filter(service_id__in=service_ids).values_list("service_id", "pk"))
    for alert in alerts:
        alert.service_pks = pks


class AlertChangeList(ChangeList):
    def get_results(self, request):
        super().get_results(request)
        _attach_service_pks(self.result_list)


class AlertNotesForm(forms.Form):
    notes = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}), required=True, max_length=10_000,
        help_text="What was decided, and why; kept with the alert.",
    )


_OPERATIONS = {
    "acknowledge": {
        "title": "Acknowledge alerts", "verb": "Acknowledge", "service": alerts_acknowledge,
        "allowed_from": (AlertStatus.OPEN,), "done": "Acknowledged",
    },
    "resolve": {
        "title": "Resolve alerts", "verb": "Resolve", "service": alerts_resolve,
        "allowed_from": (AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED), "done": "Resolved",
    },
}


@admin.register(CircularDependencyAlert)
class CircularDependencyAlertAdmin(admin.ModelAdmin):
    list_display = (
        "id", "cycle", "status", "scc_size", "cycle_length", "reopen_count", "last_seen_at", "detected_at",
        "acknowledged_by",
    )
    list_display_links = ("id",)
    list_filter = ("status", SccSizeFilter)
    search_fields = ("cycle_path",)
    search_help_text = "A service_id on the cycle, e.g. checkout."
    fieldsets = (
        ("Cycle", {"fields": ("cycle", "scc_size", "cycle_edges", "detected_at", "last_seen_at")}),
        ("Status", {"fields": ("status", "reopened_at", "reopen_count")}),
        ("Acknowledgement", {"fields": ("acknowledged_by", "acknowledged_at", "acknowledgement_notes")}),
        ("Resolution", {"fields": ("resolved_by", "resolved_at", "resolution_notes")}),
        ("Record", {"fields": ("cycle_path", "created_at", "updated_at"), "classes": ("collapse",)}),
    )
    readonly_fields = (
        "cycle", "cycle_path", "scc_size", "cycle_edges", "detected_at", "last_seen_at", "status", "reopened_at",
        "reopen_count", "acknowledged_by", "acknowledged_at", "acknowledgement_notes", "resolved_by",
        "resolved_at", "resolution_notes", "created_at", "updated_at",
    )
    actions = ("acknowledge_selected", "resolve_selected")
    show_full_result_count = False
    change_form_template = "admin/graph/circulardependencyalert/change_form.html"

    # Alerts come from detection only.
    def has_add_permission(self, request):
        return False

    def get_changelist(self, request, **kwargs):
        return AlertChangeList

    def get_search_results(self, request, queryset, search_term):
        """Search by service: a service_id anywhere on the cycle (jsonb on
        PostgreSQL, JSON text on SQLite)."""
        term = search_term.strip()
        if not term:
            return queryset, False
        return alerts_involving_service(queryset=queryset, service_id=term), False

    def get_object(self, request, object_id, from_field=None):
        alert = super().get_object(request, object_id, from_field)
        if alert is not None:
            _attach_service_pks([alert])
        return alert

    def changelist_view(self, request, extra_context=None):
        summary = cycle_detection_summary() or {}
        if request.method == "GET" and summary.get("truncated_sccs"):
            sizes = ", ".join(str(c["size"]) for c in summary["truncated_sccs"][:10])
            self.message_user(
                request,
                f"The last detection listed only the first {summary['max_cycles_per_scc']} cycles of "
                f"{len(summary['truncated_sccs'])} strongly connected component(s) (sizes {sizes}); "
                "more cycles exist there.",
                messages.WARNING,
            )
        return super().changelist_view(request, extra_context)

    # --- display -----------------------------------------------------------

    @admin.display(description="cycle")
    def cycle(self, alert):
        """The cycle as a chain of links to the services' admin pages, back to its first service."""
        path_ids = list(alert.cycle_path or [])
        pks = getattr(alert, "service_pks", None)
        if pks is None:
            pks = dict(Service.objects.filter(service_id__in=path_ids).values_list("service_id", "pk"))
        pieces = [
            format_html('<a href="{}">{}</a>', reverse("admin:graph_service_change", args=[pks[sid]]), sid)
            if sid in pks else sid  # a deleted service: plain (escaped) text
            for sid in path_ids + path_ids[:1]
        ]
        chain = format_html_join(" → ", "{}", ((piece,) for piece in pieces))
        map_url = _page_url("page-service-map")
        if map_url:
            focus = f"?{urlencode({'focus': path_ids[0]})}" if path_ids else ""
            return format_html('{} <a class="viewlink" href="{}{}" title="view on the service map"></a>', chain,
                               map_url, focus)
        return chain

    @admin.display(description="length")
    def cycle_length(self, alert):
        return len(alert.cycle_path or [])

    @admin.display(description="edges on the cycle")
    def cycle_edges(self, alert):
        """Each hop of the cycle with the edge records that claim it: source,
        confidence, stale flag, last observation."""
        path_ids = list(alert.cycle_path or [])
        hops = list(zip(path_ids, path_ids[1:] + path_ids[:1], strict=True))
        records = defaultdict(list)
        queryset = (
            ServiceDependency.objects.filter(source__service_id__in=path_ids, target__service_id__in=path_ids)
            .select_related("source", "target")
            .order_by("discovery_source")
        )
        for record in queryset:
            records[(record.source.service_id, record.target.service_id)].append(record)

        rows = []
        for source, target in hops:
            claims = records.get((source, target), [])
            live = [r.confidence_score for r in claims if not r.is_stale]
            if claims:
                detail = format_html_join(
                    mark_safe("<br>"),
                    '<a href="{}">{}</a> · confidence {} · {} · last observed {}',
                    (
                        (
                            reverse("admin:graph_servicedependency_change", args=[r.pk]),
                            r.discovery_source,
                            f"{r.confidence_score:.2f}",
                            "stale" if r.is_stale else "live",
                            r.last_observed_at.strftime("%Y-%m-%d %H:%M UTC") if r.last_observed_at else "never",
                        )
                        for r in claims
                    ),
                )
            else:
                detail = format_html("<em>{}</em>", "no edge record (removed)")
            effective = f"{noisy_or(live):.2f}" if live else "none (hop broken)"
            rows.append((source, target, detail, effective))
        return format_html(
            '<table class="cycle-edges"><thead><tr><th>hop</th><th>claimed by</th>'
            "<th>effective confidence</th></tr></thead><tbody>{}</tbody></table>",
            format_html_join(
                "", "<tr><td>{} → {}</td><td>{}</td><td>{}</td></tr>", rows
            ),
        )

    # --- transitions (bulk actions and per-alert buttons) ------------------

    def get_urls(self):
        info = self.model._meta.app_label, self.model._meta.model_name
        custom = [
            path(
                f"<path:object_id>/{operation}/",
                self.admin_site.admin_view(self.transition_view),
                {"operation": operation},
                name="{}_{}_{}".format(*info, operation),
            )
            for operation in _OPERATIONS
        ]
        return custom + super().get_urls()

    def transition_view(self, request, object_id, operation):
        """Acknowledge or resolve one alert from its page, after asking for notes."""
        if not self.has_change_permission(request):
            return HttpResponseRedirect(reverse("admin:graph_circulardependencyalert_changelist"))
        alert = self.get_object(request, unquote(object_id))
        if alert is None:
            raise Http404(f"No alert {object_id!r}.")
        change_url = reverse("admin:graph_circulardependencyalert_change", args=[alert.pk])
        queryset = CircularDependencyAlert.objects.filter(pk=alert.pk)
        response = self._notes_step(request, queryset, operation, form_action=request.path)
        return response or HttpResponseRedirect(change_url)

    @admin.action(description="Acknowledge selected alerts (asks for notes)")
    def acknowledge_selected(self, request, queryset):
        return self._notes_step(request, queryset, "acknowledge", form_action="")

    @admin.action(description="Resolve selected alerts (asks for notes)")
    def resolve_selected(self, request, queryset):
        return self._notes_step(request, queryset, "resolve", form_action="")

    def _notes_step(self, request, queryset, operation, *, form_action: str):
        """First call: a confirmation page with a notes field. When it comes
        back with `apply` and valid notes, the transition runs (recording the
        admin user and the time) and None is returned to go back."""
        spec = _OPERATIONS[operation]
        alerts = list(queryset.order_by("pk"))
        form = AlertNotesForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            actor = request.user.get_username()
            changed = spec["service"](
                alert_ids=[a.pk for a in alerts], actor=actor, notes=form.cleaned_data["notes"]
            )
            self.message_user(request, f"{spec['done']} {changed} alert(s).", messages.SUCCESS)
            skipped = len(alerts) - changed
            if skipped:
                allowed = " or ".join(spec["allowed_from"])
                self.message_user(
                    request, f"Skipped {skipped} alert(s) that were not {allowed}.", messages.WARNING
                )
            return None
        _attach_service_pks(alerts)
        context = {
            **self.admin_site.each_context(request),
            "title": spec["title"],
            "verb": spec["verb"],
            "operation": operation,
            "action_name": f"{operation}_selected",
            "form": form,
            "form_action": form_action,
            "is_bulk_action": not form_action,
            "alerts": [(alert, self.cycle(alert)) for alert in alerts],
            "eligible": sum(1 for a in alerts if a.status in spec["allowed_from"]),
            "opts": self.model._meta,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/graph/circulardependencyalert/notes_step.html", context)


@admin.register(GraphVersion)
class GraphVersionAdmin(admin.ModelAdmin):
    list_display = ("id", "version", "updated_at")
    readonly_fields = ("id", "version", "updated_at")

    def has_add_permission(self, request):
        return False
