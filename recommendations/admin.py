from django.contrib import admin

from recommendations.models import SloRecommendation


@admin.register(SloRecommendation)
class SloRecommendationAdmin(admin.ModelAdmin):
    list_display = ("service", "sli_type", "metric", "status", "window_days", "generated_at", "expires_at")
    list_filter = ("status", "sli_type", "metric")
    search_fields = ("service__service_id",)
    list_select_related = ("service",)
    raw_id_fields = ("service",)
    readonly_fields = ("generated_at", "created_at", "updated_at")
    show_full_result_count = False
