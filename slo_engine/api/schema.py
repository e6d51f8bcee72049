"""OpenAPI security schemes for the project's authentication classes, so the
schema documents how to authenticate (and `spectacular --fail-on-warn` passes).
Imported by SloEngineConfig.ready() to register the extensions."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


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
