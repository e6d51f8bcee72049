from rest_framework.exceptions import NotFound
from rest_framework.pagination import PageNumberPagination

from slo_engine.api.errors import UnprocessableEntity


class StandardPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def paginate_queryset(self, queryset, request, view=None):
        # A page that is not a positive number or lies past the end is bad
        # input: a 422 naming the `page` field, not a bare 404.
        try:
            return super().paginate_queryset(queryset, request, view)
        except NotFound as exc:
            raise UnprocessableEntity({self.page_query_param: [str(exc.detail)]}) from exc
