"""The one request parser of the API: JSON (DESIGN.md section 5).

Any other media type is a 415 (DRF answers it when no parser matches), so a
form or multipart body is never half-read into defaults. On top of DRF's
JSONParser: `NaN`/`Infinity` literals are malformed JSON (400), a body
nested deeper than MAX_JSON_DEPTH is a 400 (never a RecursionError), and
values PostgreSQL cannot store (U+0000, lone surrogates, numbers beyond
float range) are a 422 naming the field.
"""

import json
import math

from rest_framework import parsers
from rest_framework.exceptions import ParseError

from slo_engine.api.documents import MAX_JSON_DEPTH, JsonTooDeep, JsonValueInvalid, json_document_check
from slo_engine.api.errors import UnprocessableEntity


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


class _FloatParser:
    """json's parse_float, noting whether a number overflowed to ±inf."""

    def __init__(self):
        self.overflowed = False

    def __call__(self, text: str) -> float:
        value = float(text)
        if math.isinf(value):
            self.overflowed = True
        return value


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        encoding = parsers.get_encoding(parser_context or {})
        parse_float = _FloatParser()
        try:
            text = stream.read().decode(encoding)
            document = json.loads(text, parse_constant=_reject_constant, parse_float=parse_float)
        except RecursionError:
            raise ParseError(f"JSON parse error - the document nests deeper than {MAX_JSON_DEPTH} levels.") from None
        except ValueError as exc:  # includes UnicodeDecodeError
            raise ParseError(f"JSON parse error - {exc}") from None
        # U+0000 and lone surrogates can only come from \u escapes (raw ones
        # are malformed JSON or UTF-8): without any, only the depth is checked.
        check_values = parse_float.overflowed or "\\u" in text
        try:
            json_document_check(document, check_values=check_values)
        except JsonTooDeep as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        except JsonValueInvalid as exc:
            raise UnprocessableEntity({exc.path: [exc.message]}) from None
        return document
