"""The API's filter backend: django-filter, held to the OpenAPI schema.

django-filter skips a filter whose value is empty, and its boolean widgets
turn anything but `true`/`false` into "no filter": a client that misspells
a value gets the unfiltered list. On the API a choice, boolean or number
filter given an empty or unknown value is a 422 naming it, as the schema's
enum/boolean types say, and so is any filter given more than once (the
schema says one value; django-filter would silently take the last). The pages share the filter sets and keep the lenient
form behaviour (an empty select means "any").
"""

import django_filters
from django import forms
from django_filters.rest_framework import DjangoFilterBackend

from slo_engine.api.errors import UnprocessableEntity

_BOOLEAN_VALUES = {"true", "false"}


def _filter_value_problem(filter_, value: str) -> str | None:
    if isinstance(filter_, django_filters.BooleanFilter):
        return None if value.lower() in _BOOLEAN_VALUES else "Must be true or false."
    if isinstance(filter_, (django_filters.ChoiceFilter, django_filters.NumberFilter)) and value == "":
        return "This parameter may not be empty."
    return None


class IntegerFilter(django_filters.NumberFilter):
    """A whole-number filter (NumberFilter takes decimals, the schema says integer)."""

    field_class = forms.IntegerField


class StrictFilterBackend(DjangoFilterBackend):
    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is not None:
            errors = {}
            for name, filter_ in filterset_class.base_filters.items():
                values = request.query_params.getlist(name)
                if len(values) > 1:
                    errors[name] = ["Given more than once; the parameter takes one value."]
                for value in values:
                    problem = _filter_value_problem(filter_, value)
                    if problem:
                        errors[name] = [problem]
            if errors:
                raise UnprocessableEntity(errors)
        return super().filter_queryset(request, queryset, view)
