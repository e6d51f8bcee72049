"""OpenAPI security schemes for the project's authentication classes, so the
schema documents how to authenticate (and `spectacular --fail-on-warn` passes).
Imported by SloEngineConfig.ready() to register the extensions."""

from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiAuthenticationExtension

from slo_engine.api.serializers import StrictSerializer
from slo_engine.api.views import problem_responses


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "slo_engine.api.authentication.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>` or `Bearer <key>`; the `X-API-Key: <key>` header also works. "
                           "Writes need a key with the `write` scope.",
        }


class StaffSessionAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "slo_engine.api.authentication.StaffSessionAuthentication"
    name = "StaffSession"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid",
                "description": "A logged-in admin (staff) user's session, for the browsable API."}


class AutoSchema(openapi.AutoSchema):
    """The project's schema generator (REST_FRAMEWORK DEFAULT_SCHEMA_CLASS).

    * A strict request serializer's component forbids other properties
      (`additionalProperties: false`), as the server does.
    * A body serializer with `body_required = True` marks the request body
      required (e.g. ingest: an empty body is a 422).
    * Every operation lists the problems any endpoint can answer: 400 (too
      many query parameters, malformed JSON), 401 and 429; an operation with
      a body adds 413, 415 and 422, a write adds 403. Views list the others
      (404, 409, ...) with `problem_responses`.
    """

    def _map_serializer(self, serializer, direction, bypass_extensions=False):
        schema = super()._map_serializer(serializer, direction, bypass_extensions)
        if direction == "request" and isinstance(serializer, StrictSerializer):
            schema["additionalProperties"] = False
        return schema

    def _get_request_body(self, direction="request"):
        body = super()._get_request_body(direction)
        if body is not None and getattr(self.get_request_serializer(), "body_required", False):
            body["required"] = True
        return body

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        codes = {400, 401, 429}
        if self.method not in ("GET", "HEAD", "OPTIONS"):
            codes.add(403)
        if self.method in ("POST", "PUT", "PATCH") and self._get_request_body("request") is not None:
            codes |= {413, 415, 422}
        for (code, media_type), response in problem_responses(*codes).items():
            if str(code) in responses:
                continue
            responses[str(code)] = self._get_response_for_code(response, str(code), [media_type], direction)
        return responses
