from django.contrib import admin, messages
from django.utils.html import format_html

from graph.models import CircularDependencyAlert, GraphVersion, Service, ServiceDependency
from graph.services.alerts import alerts_acknowledge, alerts_resolve


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ("service_id", "display_name", "team", "criticality", "discovered", "retired_at", "updated_at")
    list_filter = ("criticality", "discovered", "team", ("retired_at", admin.EmptyFieldListFilter))
    search_fields = ("service_id", "display_name", "team")
    readonly_fields = ("id", "created_at", "updated_at", "created_by", "updated_by")
    show_full_result_count = False

    def save_model(self, request, obj, form, change):
        obj.updated_by = request.user.get_username()
        if not change:
            obj.created_by = obj.updated_by
        super().save_model(request, obj, form, change)


@admin.register(ServiceDependency)
class ServiceDependencyAdmin(admin.ModelAdmin):
    list_display = (
        "id", "source", "target", "discovery_source", "communication_mode", "criticality",
        "confidence_score", "is_stale", "last_observed_at",
    )
    list_filter = ("discovery_source", "is_stale", "communication_mode", "criticality")
    search_fields = ("source__service_id", "target__service_id", "protocol")
    list_select_related = ("source", "target")
    raw_id_fields = ("source", "target")
    readonly_fields = ("created_at", "updated_at")
    show_full_result_count = False


@admin.register(CircularDependencyAlert)
class CircularDependencyAlertAdmin(admin.ModelAdmin):
    list_display = ("id", "cycle", "status", "scc_size", "detected_at", "last_seen_at", "acknowledged_by")
    list_filter = ("status",)
    search_fields = ("cycle_path",)
    readonly_fields = (
        "cycle", "cycle_path", "scc_size", "detected_at", "last_seen_at", "acknowledged_by", "acknowledged_at",
        "resolved_by", "resolved_at", "reopened_at", "reopen_count", "created_at", "updated_at",
    )
    actions = ("acknowledge_selected", "resolve_selected")
    show_full_result_count = False

    @admin.display(description="cycle")
    def cycle(self, obj):
        return format_html("<span>{}</span>", obj.cycle_display)

    @admin.action(description="Acknowledge selected alerts")
    def acknowledge_selected(self, request, queryset):
        changed = alerts_acknowledge(
            alert_ids=queryset.values_list("pk", flat=True), actor=request.user.get_username()
        )
        self.message_user(request, f"Acknowledged {changed} alert(s).", messages.SUCCESS)

    @admin.action(description="Resolve selected alerts")
    def resolve_selected(self, request, queryset):
        changed = alerts_resolve(
            alert_ids=queryset.values_list("pk", flat=True),
            actor=request.user.get_username(),
            notes=f"Resolved in the admin by {request.user.get_username()}.",
        )
        self.message_user(request, f"Resolved {changed} alert(s).", messages.SUCCESS)


@admin.register(GraphVersion)
class GraphVersionAdmin(admin.ModelAdmin):
    list_display = ("id", "version", "updated_at")
    readonly_fields = ("id", "version", "updated_at")

    def has_add_permission(self, request):
        return False
