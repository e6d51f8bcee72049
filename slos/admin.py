"""Admin: SLOs with their status and history, read-only. An SLO changes
through the API or the pages (`slos.services`), which write the SloChange
audit row; the admin would not, and deleting one would cascade into the
append-only trail (its trigger refuses)."""

from django.contrib import admin

from slos.models import ServiceLevelObjective, SloChange, SloStatus


class SloStatusInline(admin.StackedInline):
    model = SloStatus
    can_delete = False
    extra = 0
    readonly_fields = [field.name for field in SloStatus._meta.fields]

    def has_add_permission(self, request, obj=None):
        return False


class SloChangeInline(admin.TabularInline):
    model = SloChange
    fk_name = "slo"
    can_delete = False
    extra = 0
    fields = ("at", "action", "actor", "rationale", "before", "after", "recommendation")
    readonly_fields = fields
    ordering = ("-at", "-id")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ServiceLevelObjective)
class ServiceLevelObjectiveAdmin(admin.ModelAdmin):
    list_display = ("service", "metric", "target", "threshold_ms", "window_days", "origin", "version", "state",
                    "health", "review_due", "created_by", "created_at")
    list_filter = ("state", "sli_type", "origin", "review_due", "status__health")
    search_fields = ("service__service_id",)
    list_select_related = ("service", "status")
    show_full_result_count = False
    inlines = [SloStatusInline, SloChangeInline]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in ServiceLevelObjective._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="health", ordering="status__health")
    def health(self, obj):
        status = getattr(obj, "status", None)
        return status.health if status else "unknown"


@admin.register(SloChange)
class SloChangeAdmin(admin.ModelAdmin):
    list_display = ("at", "service", "action", "actor", "slo", "rationale")
    list_filter = ("action",)
    search_fields = ("service__service_id", "actor")
    list_select_related = ("service", "slo", "slo__service")
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in SloChange._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # Viewing stays allowed (view permission): the admin then shows the row read-only.
        return False

    def has_delete_permission(self, request, obj=None):
        return False
