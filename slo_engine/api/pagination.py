from rest_framework.exceptions import NotFound
from rest_framework.pagination import PageNumberPagination

from slo_engine.api.errors import UnprocessableEntity


class StandardPagination(PageNumberPagination):
    """`page` (from 1) and `page_size` (1 to 500, default 50). A value that
    is not a positive number, a page past the end and a page size over the
    maximum are 422s naming the parameter; the schema states the bounds."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def paginate_queryset(self, queryset, request, view=None):
        try:
            return super().paginate_queryset(queryset, request, view)
        except NotFound as exc:
            raise UnprocessableEntity({self.page_query_param: [str(exc.detail)]}) from exc

    def get_page_number(self, request, paginator):
        raw = self._single(request, self.page_query_param)
        if raw is None:
            return 1
        if not (raw.isascii() and raw.isdigit() and int(raw) >= 1):
            raise UnprocessableEntity({self.page_query_param: ["Must be a whole number from 1."]})
        return raw

    def get_page_size(self, request):
        raw = self._single(request, self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= self.max_page_size):
            raise UnprocessableEntity(
                {self.page_size_query_param: [f"Must be a whole number from 1 to {self.max_page_size}."]})
        return int(raw)

    @staticmethod
    def _single(request, name: str) -> str | None:
        values = request.query_params.getlist(name)
        if len(values) > 1:
            raise UnprocessableEntity({name: ["Given more than once; the parameter takes one value."]})
        return values[0] if values else None

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"]["maximum"] = self.max_page_size
                parameter["schema"]["default"] = self.page_size
        return parameters
