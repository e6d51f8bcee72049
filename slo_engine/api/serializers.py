"""Base serializers of request bodies and query strings, strict so that a
typo never silently becomes a default (DESIGN.md section 5, errors).

* `StrictSerializer` (bodies): an unknown field is a 422 naming it, and each
  value must have its field's JSON type (`"team": 5` is a 422, not "5").
  The OpenAPI schema says so: request components of strict serializers get
  `additionalProperties: false` (slo_engine.api.schema.AutoSchema).
* `QuerySerializer` (query strings): a parameter given empty is a 422 unless
  it is free text that may be blank, and booleans are `true` or `false`
  only, as the schema's `type: boolean` says. `QuerySerializer.validated(request)`
  returns the validated dict or raises the 422.
* `JsonDocumentField`: a stored JSON object (metadata, retry_config): at
  most METADATA_MAX_BYTES as UTF-8 JSON, no U+0000, no lone surrogates, no
  number beyond float range.
"""

import sys
from collections.abc import Mapping

from django.conf import settings
from rest_framework import serializers
from rest_framework.settings import api_settings

from slo_engine.api.documents import JsonTooDeep, JsonValueInvalid, json_document_check, json_document_size
from slo_engine.api.errors import UnprocessableEntity

_JSON_TYPE_NAMES = {str: "a string", bool: "a boolean", int: "a number", float: "a number", list: "an array",
                    dict: "an object", type(None): "null"}


def _json_type_name(value) -> str:
    for python_type, name in _JSON_TYPE_NAMES.items():
        if type(value) is python_type:
            return name
    return "an object" if isinstance(value, Mapping) else "an array" if isinstance(value, list) else "a value"


def json_type_error(field: serializers.Field, value) -> str | None:
    """Why `value` does not have the JSON type `field` expects, or None.
    Null is left to the field (allow_null)."""
    if value is None or isinstance(field, serializers.JSONField):
        return None
    if isinstance(field, serializers.BooleanField):
        expected, ok = "a boolean", isinstance(value, bool)
    elif isinstance(field, serializers.IntegerField):
        expected, ok = "an integer", isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(field, (serializers.FloatField, serializers.DecimalField)):
        expected, ok = "a number", isinstance(value, (int, float)) and not isinstance(value, bool)
        if ok and abs(value) > sys.float_info.max:
            # A huge integer literal: float() of it raises OverflowError.
            return "Must be a finite number within the range of a double."
    elif isinstance(field, (serializers.ListField, serializers.ListSerializer, serializers.MultipleChoiceField)):
        expected, ok = "an array", isinstance(value, list)
        child = getattr(field, "child", None)
        if ok and isinstance(child, (serializers.CharField, serializers.ChoiceField)) and not all(
                isinstance(item, str) for item in value):
            return 'Must be an array of strings.'
    elif isinstance(field, (serializers.DictField, serializers.Serializer)):
        expected, ok = "an object", isinstance(value, Mapping)
    elif isinstance(field, (serializers.CharField, serializers.DateTimeField, serializers.DateField,
                            serializers.UUIDField)):
        expected, ok = "a string", isinstance(value, str)
    elif isinstance(field, serializers.ChoiceField):
        # Choices of this API are strings; a number is not one of them.
        expected, ok = "a string", isinstance(value, str)
    else:
        return None
    return None if ok else f"Must be {expected}, not {_json_type_name(value)}."


class StrictSerializer(serializers.Serializer):
    """A request body: unknown fields and wrongly typed values are 422s
    naming each field (nested strict serializers name `edges[3].timeout`).
    Set `body_required = True` when an absent body is an error (the schema
    then marks the request body required)."""

    body_required = False
    unknown_field_message = "Unknown field."

    def to_internal_value(self, data):
        if not isinstance(data, Mapping):
            key = "body" if self.parent is None else api_settings.NON_FIELD_ERRORS_KEY
            raise serializers.ValidationError({key: [f"Expected a JSON object, not {_json_type_name(data)}."]})
        writable = {name for name, field in self.fields.items() if not field.read_only}
        errors = {key: [self.unknown_field_message] for key in data if key not in writable}
        for name in writable & set(data):
            problem = json_type_error(self.fields[name], data[name])
            if problem:
                errors[name] = [problem]
        if errors:
            raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


class QueryBooleanField(serializers.BooleanField):
    """A query-string boolean: `true` or `false` (any case), nothing else."""

    TRUE_VALUES = {"true", "True", "TRUE", True}
    FALSE_VALUES = {"false", "False", "FALSE", False}
    NULL_VALUES = set()


class QuerySerializer(serializers.Serializer):
    """Query parameters. Unknown parameters are ignored (caches busters,
    `format`); a known one given empty is an error unless it is free text
    that may be blank, and one given twice is an error unless it is a list.
    Use QueryBooleanField for booleans."""

    def to_internal_value(self, data):
        errors = {}
        for name, field in self.fields.items():
            if name not in data:
                continue
            values = data.getlist(name) if hasattr(data, "getlist") else [data[name]]
            if len(values) > 1 and not isinstance(field, (serializers.ListField, serializers.MultipleChoiceField)):
                errors[name] = ["Given more than once; the parameter takes one value."]
            elif any(value == "" for value in values) and not getattr(field, "allow_blank", False):
                errors[name] = ["This parameter may not be empty."]
        if errors:
            raise serializers.ValidationError(errors)
        return super().to_internal_value(data)

    @classmethod
    def validated(cls, request, **kwargs) -> dict:
        """The validated query of `request`; a 422 naming each bad parameter."""
        serializer = cls(data=request.query_params, **kwargs)
        if not serializer.is_valid():
            raise UnprocessableEntity(serializer.errors)
        return serializer.validated_data


class JsonDocumentField(serializers.DictField):
    """A JSON object stored as it is (metadata, retry_config)."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        try:
            json_document_check(value)
        except JsonTooDeep as exc:
            raise serializers.ValidationError(str(exc)) from None
        except JsonValueInvalid as exc:
            where = f" (at {exc.path})" if exc.path and exc.path != "body" else ""
            raise serializers.ValidationError(f"{exc.message}{where}") from None
        limit = settings.METADATA_MAX_BYTES
        size = json_document_size(value)
        if size > limit:
            raise serializers.ValidationError(
                f"The document is {size} bytes as JSON; the limit is {limit} (METADATA_MAX_BYTES).")
        return value
