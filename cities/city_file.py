"""The declared schema of a city file (pydantic), and its errors in an operator's words.

Types are strict: a number is a JSON number (``true`` is no latitude), a name is a JSON
string (``{"en": "A"}`` is no name), and text may hold neither NUL characters (PostgreSQL
refuses them) nor lone surrogates (``"\\ud800"``, which no database can store). The
host model's own rules (categories, coordinate ranges, Wikidata ids) are checked by the
loader with ``full_clean`` on top of this.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError

# How many problems one error message lists before "and N more".
MAX_REPORTED = 5


class CitySchemaError(ValueError):
    """The document does not match the schema; the message names entry and field."""


def _clean_text(value: str) -> str:
    if "\x00" in value:
        raise ValueError("contains a NUL character (\\u0000)")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("contains a lone surrogate (an unpaired \\ud800-\\udfff escape)")
    return value.strip()


def _not_empty(value: str) -> str:
    if not value:
        raise ValueError("must not be empty")
    return value


Text = Annotated[str, AfterValidator(_clean_text)]
Name = Annotated[Text, AfterValidator(_not_empty)]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)


class CityEntry(_Strict):
    name: Name
    slug: Text | None = None
    country: Text | None = None


class PoiEntry(_Strict):
    name: Name
    category: Text | None = None
    latitude: float | None = None
    longitude: float | None = None
    wikidata_id: Text | None = None


class ListEntry(_Strict):
    name: Name
    pois: list[Text] = []


class CityDocument(_Strict):
    city: CityEntry
    pois: list[PoiEntry] = []
    lists: list[ListEntry] = []


def parse_city_document(data: Any) -> CityDocument:
    """``data`` as a ``CityDocument``, or ``CitySchemaError`` listing what is wrong."""
    try:
        return CityDocument.model_validate(data)
    except ValidationError as exc:
        problems = _problems(data, exc)
        more = len(problems) - MAX_REPORTED
        text = "; ".join(problems[:MAX_REPORTED]) + (f"; and {more} more" if more > 0 else "")
        # Field names come from the file too: escape what a terminal cannot print.
        text = text.encode("utf-8", "backslashreplace").decode().replace("\x00", "\\x00")
        raise CitySchemaError(text) from None


def _problems(data: Any, exc: ValidationError) -> list[str]:
    problems: list[str] = []
    unknown: dict[str, list[str]] = {}
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        where, field = entry_label(data, loc), _field_path(loc)
        kind = error["type"]
        if kind == "extra_forbidden":
            unknown.setdefault(where, []).append(str(loc[-1]))
        elif loc == ("city",) and kind in ("missing", "model_type"):
            problems.append("city must be an object with at least a 'name'")
        elif kind == "missing":
            problems.append(f"{where}.{field} is required")
        elif kind == "model_type":
            problems.append(f"{where} must be an object, got {describe(error['input'])}")
        else:
            message = error["msg"].removeprefix("Value error, ")
            label = f"{where}: {field}" if field else where
            problems.append(f"{label}: {message}, got {describe(error['input'])}")
    problems += [f"{w}: unknown field(s) {', '.join(sorted(f))}" for w, f in unknown.items()]
    return problems


def entry_label(data: Any, loc: tuple[Any, ...]) -> str:
    """``pois[3] ('Louvre')`` for a location inside the 4th POI; ``city``; ``the top level``."""
    if not loc:
        return "the top level"
    if loc[0] in ("pois", "lists") and len(loc) > 1 and isinstance(loc[1], int):
        label = f"{loc[0]}[{loc[1]}]"
        try:
            name = data[loc[0]][loc[1]].get("name")
        except (AttributeError, IndexError, KeyError, TypeError):
            name = None
        return f"{label} ({name!r})" if isinstance(name, str) and name.strip() else label
    return str(loc[0])


def _field_path(loc: tuple[Any, ...]) -> str:
    rest = loc[2:] if loc and loc[0] in ("pois", "lists") and len(loc) > 1 else loc[1:]
    if not loc[:1]:
        return ""
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in rest).lstrip(
        "."
    )


def describe(value: Any) -> str:
    """A short, printable description of a JSON value (never a huge or nested repr)."""
    if isinstance(value, dict):
        return f"an object with {len(value)} key(s)"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    text = repr(value)  # repr escapes NUL and surrogates, so the message always prints
    return text if len(text) <= 60 else text[:57] + "..."
