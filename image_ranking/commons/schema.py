"""The shapes of the Wikimedia API answers the client reads, checked in one place.

A server (or a proxy in front of it) can answer with JSON of an unexpected shape:
``{"query": "oops"}``, a list, a string where a number belongs. Reading such an answer
with ``.get`` chains fails deep inside with ``AttributeError``; here it fails at once with
a ``MalformedResponseError`` that names the path of the odd value. Such an answer is
treated as *transient* (a later run asks again), not as a fact about the file or item.

Every field is optional unless listed in ``required``: Commons leaves out what it does
not have (no ``thumburl`` for some files, no ``index`` outside search results), and the
parsers downstream treat a missing field as "unknown". A field that is present must have
the declared type.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from image_ranking.exceptions import TransientCommonsError


class MalformedResponseError(TransientCommonsError):
    """A Wikimedia API answer of an unexpected shape (retried on a later run)."""


@dataclass(frozen=True)
class Shape:
    """A JSON object: the types of its known keys (``items``: of each element of a list)."""

    fields: dict[str, Any] = field(default_factory=dict)
    required: tuple[str, ...] = ()


@dataclass(frozen=True)
class ListOf:
    item: Any


@dataclass(frozen=True)
class MapOf:
    """A JSON object used as a map (formatversion 1 pages, entities by id)."""

    item: Any


TEXT_OR_NUMBER = (str, int, float, bool)

# A value in several languages (``iiextmetadatamultilang``): {"en": ..., "_type": "lang"}.
EXTMETADATA_ENTRY = Shape({"value": (*TEXT_OR_NUMBER, MapOf(str)), "source": str})
CATEGORY = Shape({"title": str, "ns": int}, required=("title",))
IMAGEINFO = Shape(
    {
        "url": str,
        "thumburl": str,
        "thumbwidth": int,
        "thumbheight": int,
        "width": int,
        "height": int,
        "mime": str,
        "sha1": str,
        "descriptionurl": str,
        "extmetadata": MapOf((EXTMETADATA_ENTRY, str)),
    }
)
PAGE = Shape(
    {
        "title": str,
        "index": int,
        "ns": int,
        "pageid": int,
        "imageinfo": ListOf(IMAGEINFO),
        "categories": ListOf(CATEGORY),
    },
    required=("title",),
)
NORMALIZED = Shape({"from": str, "to": str}, required=("from", "to"))
QUERY = Shape({"pages": (ListOf(PAGE), MapOf(PAGE)), "normalized": ListOf(NORMALIZED)})
QUERY_ANSWER = Shape({"query": QUERY})
API_ERROR = Shape({"code": str, "info": str})

SNAK = Shape({"snaktype": str, "property": str, "datavalue": Shape({"type": str})})
CLAIM = Shape({"mainsnak": SNAK, "rank": str})
ENTITY = Shape(
    {
        "id": str,
        "claims": MapOf(ListOf(CLAIM)),
        "sitelinks": MapOf(Shape({"site": str, "title": str}, required=("title",))),
        "labels": MapOf(Shape({"language": str, "value": str}, required=("value",))),
    }
)
ENTITIES_ANSWER = Shape({"entities": MapOf(ENTITY)}, required=("entities",))


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _describe(expected: Any) -> str:
    if isinstance(expected, tuple):
        return " or ".join(_describe(e) for e in expected)
    if isinstance(expected, Shape | MapOf):
        return "an object"
    if isinstance(expected, ListOf):
        return "a list"
    return {str: "a string", int: "an integer", float: "a number", bool: "a boolean"}.get(
        expected, str(expected)
    )


def _matches(value: Any, expected: Any, where: str) -> bool:
    """Whether ``value`` has the ``expected`` shape (nested mismatches raise)."""
    if isinstance(expected, tuple):
        return any(_matches(value, option, where) for option in expected)
    if isinstance(expected, Shape):
        if not isinstance(value, dict):
            return False
        check(value, expected, where)
        return True
    if isinstance(expected, ListOf):
        if not isinstance(value, list):
            return False
        for n, item in enumerate(value):
            _expect(item, expected.item, f"{where}[{n}]")
        return True
    if isinstance(expected, MapOf):
        if not isinstance(value, dict):
            return False
        for key, item in value.items():
            _expect(item, expected.item, f"{where}.{key}")
        return True
    if expected is int:  # JSON true is not a width
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, expected)


def _expect(value: Any, expected: Any, where: str) -> None:
    if not _matches(value, expected, where):
        raise MalformedResponseError(
            f"Unexpected Wikimedia API answer: {where} is {_type_name(value)}, "
            f"expected {_describe(expected)}"
        )


def check(value: Any, shape: Shape, where: str = "answer") -> dict[str, Any]:
    """``value`` itself when it has ``shape``; otherwise a ``MalformedResponseError``."""
    if not isinstance(value, dict):
        raise MalformedResponseError(
            f"Unexpected Wikimedia API answer: {where} is {_type_name(value)}, expected an object"
        )
    for key in shape.required:
        if key not in value:
            raise MalformedResponseError(f"Unexpected Wikimedia API answer: {where} has no {key!r}")
    for key, expected in shape.fields.items():
        if key in value:
            _expect(value[key], expected, f"{where}.{key}")
    return value


def api_error(payload: Any) -> dict[str, Any] | None:
    """The ``error`` object of an answer, if any (other shapes are checked by the caller)."""
    if not isinstance(payload, dict) or not payload.get("error"):
        return None
    return check(payload["error"], API_ERROR, "answer.error")


def query_answer(payload: Any) -> dict[str, Any]:
    """A checked ``action=query`` answer (pages with imageinfo, normalized titles)."""
    return check(payload, QUERY_ANSWER)


def entities_answer(payload: Any) -> dict[str, Any]:
    """A checked ``wbgetentities`` answer."""
    return check(payload, ENTITIES_ANSWER)
