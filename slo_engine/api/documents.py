"""Checks of parsed JSON documents that PostgreSQL (or Python) would
otherwise trip over after validation: nesting depth, U+0000, lone surrogates
and numbers beyond float range.

A JSON text can carry all of these legally (`"\\u0000"`, `"\\ud800"`, `1e400`)
yet PostgreSQL cannot store them in text or jsonb, and a deep enough nesting
exhausts Python's recursion. The request parser runs `json_document_check` on
every body, and `JsonDocumentField` runs it (with a size limit) on documents
that are stored, so files fed to commands are held to the same rules.
"""

import json
import math
from collections.abc import Mapping

# Deepest nesting of objects and arrays a request body may have (the body
# itself is level 1). Real payloads use four or five levels.
MAX_JSON_DEPTH = 32


class JsonTooDeep(ValueError):
    """The document nests objects/arrays deeper than allowed."""


class JsonValueInvalid(ValueError):
    """A value PostgreSQL cannot store; `path` names where it is
    (`nodes[0].metadata.owner`, `""` for the document itself)."""

    def __init__(self, message: str, path: str):
        super().__init__(message)
        self.message = message
        self.path = path


def _string_problem(text: str) -> str | None:
    if text.isascii():
        return "Null characters are not allowed." if "\x00" in text else None
    if "\x00" in text:
        return "Null characters are not allowed."
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "Lone surrogate code points (e.g. \\ud800) are not allowed; send valid UTF-16 pairs."
    return None


def _value_problem(value) -> str | None:
    if isinstance(value, str):
        return _string_problem(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "Numbers must be finite and within the range of a double (about ±1.8e308)."
    return None


def _join(path: str, key) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def json_document_check(document, *, max_depth: int = MAX_JSON_DEPTH, path: str = "",
                        check_values: bool = True) -> None:
    """Raise JsonTooDeep when `document` nests deeper than `max_depth`
    levels, or JsonValueInvalid naming the first offending value or key.
    Iterative: safe on any depth. A bad key is named by the object that
    holds it (the key itself may not be printable). With `check_values`
    false only the depth is checked (the parser knows when no value can be
    bad: no `\\u` escape and no overflowing number in the text)."""
    if not check_values:
        _check_depth(document, max_depth)
        return
    stack = [(document, 1, path)]
    while stack:
        item, depth, where = stack.pop()
        if isinstance(item, Mapping):
            if depth > max_depth:
                raise JsonTooDeep(f"The JSON document nests deeper than {max_depth} levels.")
            for key, value in item.items():
                if isinstance(key, str) and (problem := _string_problem(key)):
                    raise JsonValueInvalid(f"A key of this object is invalid: {problem}", where or "body")
                if isinstance(value, (Mapping, list)):
                    stack.append((value, depth + 1, _join(where, key)))
                elif problem := _value_problem(value):
                    raise JsonValueInvalid(problem, _join(where, key))
        elif isinstance(item, list):
            if depth > max_depth:
                raise JsonTooDeep(f"The JSON document nests deeper than {max_depth} levels.")
            for index, value in enumerate(item):
                if isinstance(value, (Mapping, list)):
                    stack.append((value, depth + 1, _join(where, index)))
                elif problem := _value_problem(value):
                    raise JsonValueInvalid(problem, _join(where, index))
        elif problem := _value_problem(item):
            raise JsonValueInvalid(problem, where or "body")


def _check_depth(document, max_depth: int) -> None:
    containers = (dict, list)
    stack = [(document, 1)]
    while stack:
        item, depth = stack.pop()
        if type(item) not in containers:
            continue
        if depth > max_depth:
            raise JsonTooDeep(f"The JSON document nests deeper than {max_depth} levels.")
        for value in item.values() if type(item) is dict else item:
            if type(value) in containers:
                stack.append((value, depth + 1))


def json_document_size(document) -> int:
    """Bytes of the document as compact UTF-8 JSON (what is stored)."""
    return len(json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
