"""The JSON document checks behind the parser and JsonDocumentField."""

import pytest

from slo_engine.api.documents import JsonTooDeep, JsonValueInvalid, json_document_check, json_document_size


def _nested(depth: int):
    document: list = []
    for _ in range(depth - 1):
        document = [document]
    return document


@pytest.mark.parametrize("check_values", [True, False])
def test_depth_limit_is_exact(check_values):
    json_document_check(_nested(32), check_values=check_values)
    with pytest.raises(JsonTooDeep):
        json_document_check(_nested(33), check_values=check_values)
    with pytest.raises(JsonTooDeep):
        json_document_check(_nested(5000), check_values=check_values)


@pytest.mark.parametrize(("document", "path"), [
    ({"nodes": [{"metadata": {"owner": "a\x00"}}]}, "nodes[0].metadata.owner"),
    ({"nodes": [{"metadata": {"\ud800": 1}}]}, "nodes[0].metadata"),
    ({"a": [1, 2, float("inf")]}, "a[2]"),
    ({"\udfff": 1}, "body"),
    ("\ud800", "body"),
])
def test_bad_values_are_named_by_their_path(document, path):
    with pytest.raises(JsonValueInvalid) as caught:
        json_document_check(document)
    assert caught.value.path == path


def test_good_documents_pass_and_are_measured_in_utf8_bytes():
    document = {"owner": "équipe", "n": [1, 2.5, None, True], "emoji": "\U0001f600"}
    json_document_check(document)
    assert json_document_size({"a": "é"}) == len('{"a":"é"}'.encode())
