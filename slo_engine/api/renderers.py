"""Response renderers: DRF's, plus bodies that are already JSON."""

from rest_framework import renderers


class RenderedJSON(bytes):
    """A response body already rendered as compact UTF-8 JSON (for example
    read from the cache): the JSON renderer sends it as it is."""


class JSONRenderer(renderers.JSONRenderer):
    """DRF's JSONRenderer, which passes a `RenderedJSON` body through
    instead of decoding and re-encoding it. The browsable API shows such a
    body as it is, too (it renders its content with this renderer)."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, RenderedJSON):
            return bytes(data)
        return super().render(data, accepted_media_type, renderer_context)
