from django.contrib import admin

from telemetry.models import SliAggregate


@admin.register(SliAggregate)
class SliAggregateAdmin(admin.ModelAdmin):
    list_display = ("service", "sli_type", "time_window", "value", "sample_count", "computed_at")
    list_filter = ("sli_type", "time_window")
    search_fields = ("service__service_id",)
    list_select_related = ("service",)
    raw_id_fields = ("service",)
    show_full_result_count = False
