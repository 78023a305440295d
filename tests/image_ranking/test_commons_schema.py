"""Shapes of the Wikimedia API answers (the client's use of them: test_wikimedia)."""

from __future__ import annotations

import pytest

from image_ranking.commons import schema
from image_ranking.exceptions import TransientCommonsError


def test_a_well_formed_answer_is_returned_as_is():
    answer = {
        "batchcomplete": True,
        "continue": {"gsroffset": 10},
        "query": {
            "normalized": [{"from": "File:A_b.jpg", "to": "File:A b.jpg"}],
            "pages": {"-1": {"title": "File:Gone.jpg", "missing": ""}},
        },
    }
    assert schema.query_answer(answer) is answer
    assert schema.entities_answer({"entities": {}}) == {"entities": {}}


def test_missing_optional_fields_are_fine_wrong_types_are_not():
    page = {"title": "File:A.jpg", "imageinfo": [{"url": "u", "extmetadata": {}}]}
    schema.query_answer({"query": {"pages": [page]}})
    page["imageinfo"][0]["thumbwidth"] = 33.5
    with pytest.raises(schema.MalformedResponseError, match=r"thumbwidth is float"):
        schema.query_answer({"query": {"pages": [page]}})


def test_malformed_answers_are_transient():
    assert issubclass(schema.MalformedResponseError, TransientCommonsError)
    with pytest.raises(schema.MalformedResponseError, match="expected a list or an object"):
        schema.query_answer({"query": {"pages": 3}})


def test_error_objects():
    assert schema.api_error({"query": {}}) is None
    assert schema.api_error([1]) is None
    assert schema.api_error({"error": {"code": "maxlag"}}) == {"code": "maxlag"}
    with pytest.raises(schema.MalformedResponseError, match="answer.error.code is int"):
        schema.api_error({"error": {"code": 5}})
