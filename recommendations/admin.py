from django.contrib import admin

from recommendations.models import FleetPrior, RecommendationBacktest, SloRecommendation


@admin.register(SloRecommendation)
class SloRecommendationAdmin(admin.ModelAdmin):
    list_display = ("service", "sli_type", "metric", "status", "window_days", "generated_at", "expires_at")
    list_filter = ("status", "sli_type", "metric")
    search_fields = ("service__service_id",)
    list_select_related = ("service",)
    raw_id_fields = ("service",)
    readonly_fields = ("generated_at", "created_at", "updated_at")
    show_full_result_count = False


class _ReadOnlyRunAdmin(admin.ModelAdmin):
    """Fits and backtests are written by the daily batch, never edited by hand."""

    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(FleetPrior)
class FleetPriorAdmin(_ReadOnlyRunAdmin):
    list_display = ("fitted_at", "services_used", "is_default")
    list_filter = ("is_default",)


@admin.register(RecommendationBacktest)
class RecommendationBacktestAdmin(_ReadOnlyRunAdmin):
    list_display = ("computed_at", "services", "window_days", "step_days", "history_days")
