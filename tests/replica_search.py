"""CirrusSearch as the loopback Commons replica understands it (a small, honest subset).

What Commons' search does, and so what this does: every word of the query must match the
file's title, description (ObjectName included) or one of its categories, case- and
accent-insensitively, with a light plural folding ("bridges" finds "bridge"); a quoted
phrase must appear as consecutive words in one of them; ``-word`` excludes. Keywords
narrow in the same query and combine with words (AND; no OR across keywords):

- ``incategory:"Clock Tower (Graz)"`` / ``incategory:Graz`` (``A|B``: in either),
- ``haswbstatement:P180=Q123`` (files whose structured data depicts Q123; ``|``: any),
- ``nearcoord:2km,47.07,15.44`` (geotagged within the radius; ``500m`` too; 5 km default),
- ``filetype:bitmap`` (``drawing``, ``office``, ``video``, ``audio``),
- ``intitle:word``.

Results are ordered by a simple relevance: words in the title count most, then in
categories, then in the description; ties keep the order files were added.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from image_ranking.commons.search import distance_km

DEFAULT_NEAR_KM = 5.0
FILETYPES = {
    "bitmap": {"image/jpeg", "image/png", "image/gif", "image/webp", "image/tiff"},
    "drawing": {"image/svg+xml"},
    "office": {"application/pdf"},
    "video": {"video/webm", "video/ogg", "video/mpeg"},
    "audio": {"audio/ogg", "audio/mpeg", "audio/wav"},
}
_TOKEN = re.compile(r'(-?)(?:(\w+):("[^"]*"|\S+)|"([^"]*)"|(\S+))')


class SearchableFile(Protocol):
    title: str
    mime: str
    categories: Sequence[str]
    description: str
    object_name: str
    gps: tuple[float, float] | None
    depicts: Sequence[str]


def words(text: str) -> list[str]:
    """Folded words: accents and case dropped, a plural "s" folded away."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    return [_fold(w) for w in re.findall(r"\w+", plain)]


def _fold(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") else word


@dataclass
class ParsedQuery:
    required: list[list[str]] = field(default_factory=list)  # words or phrases (word lists)
    excluded: list[list[str]] = field(default_factory=list)
    in_title: list[str] = field(default_factory=list)
    categories: list[set[str]] = field(default_factory=list)  # each: any of these
    not_categories: list[set[str]] = field(default_factory=list)
    depicts: list[set[str]] = field(default_factory=list)
    near: list[tuple[float, float, float]] = field(default_factory=list)  # lat, lon, km
    filetypes: list[set[str]] = field(default_factory=list)
    invalid: bool = False  # a keyword Commons would reject: no results


def parse(query: str) -> ParsedQuery:
    parsed = ParsedQuery()
    for negate, key, value, phrase, word in _TOKEN.findall(query):
        if key:
            _keyword(parsed, negate == "-", key.lower(), value.strip('"'))
        else:
            text = phrase if phrase else word
            target = parsed.excluded if negate else parsed.required
            if phrase:
                target.append(words(text))
            else:
                target.extend([w] for w in words(text))
    return parsed


def _keyword(parsed: ParsedQuery, negate: bool, key: str, value: str) -> None:
    options = [v.strip() for v in value.split("|") if v.strip()]
    if key == "incategory":
        names = {_category_key(v) for v in options}
        (parsed.not_categories if negate else parsed.categories).append(names)
    elif key == "haswbstatement":
        parsed.depicts.append({v.upper().removeprefix("P180=") for v in options})
    elif key == "nearcoord":
        near = _nearcoord(value)
        if near is None:
            parsed.invalid = True
        else:
            parsed.near.append(near)
    elif key == "filetype":
        parsed.filetypes.append(set().union(*(FILETYPES.get(v.lower(), set()) for v in options)))
    elif key == "intitle":
        parsed.in_title.extend(words(value))
    else:  # not a keyword after all: "Paris:1900" is words
        parsed.required.extend([w] for w in words(f"{key} {value}"))


def _nearcoord(value: str) -> tuple[float, float, float] | None:
    parts = value.split(",")
    radius = DEFAULT_NEAR_KM
    if len(parts) == 3:
        unit = parts.pop(0).strip().lower()
        try:
            radius = float(unit[:-2]) if unit.endswith("km") else float(unit.rstrip("m")) / 1000
        except ValueError:
            return None
    try:
        lat, lon = float(parts[0]), float(parts[1])
    except (IndexError, ValueError):
        return None
    return (lat, lon, radius)


def _category_key(name: str) -> str:
    return " ".join(name.removeprefix("Category:").replace("_", " ").split()).casefold()


def _fields(f: SearchableFile) -> tuple[list[str], list[list[str]], list[str]]:
    stem = f.title.removeprefix("File:").rsplit(".", 1)[0]
    return words(stem), [words(c) for c in f.categories], words(f"{f.description} {f.object_name}")


def _has_phrase(haystack: list[str], phrase: list[str]) -> bool:
    n = len(phrase)
    return any(haystack[i : i + n] == phrase for i in range(len(haystack) - n + 1))


def _score(f: SearchableFile, parsed: ParsedQuery) -> int | None:
    """The file's relevance to the words of ``parsed`` (None: it does not match)."""
    title, categories, text = _fields(f)
    score = 0
    for phrase in parsed.required:
        weights = [(3, title), *((2, c) for c in categories), (1, text)]
        best = max((w for w, field_ in weights if _has_phrase(field_, phrase)), default=0)
        if not best:
            return None
        score += best
    for phrase in parsed.excluded:
        if any(_has_phrase(f_, phrase) for f_ in (title, *categories, text)):
            return None
    if any(w not in title for w in parsed.in_title):
        return None
    return score


def _passes_keywords(f: SearchableFile, parsed: ParsedQuery) -> bool:
    categories = {_category_key(c) for c in f.categories}
    if any(not (wanted & categories) for wanted in parsed.categories):
        return False
    if any(unwanted & categories for unwanted in parsed.not_categories):
        return False
    depicted = {q.upper() for q in f.depicts}
    if any(not (wanted & depicted) for wanted in parsed.depicts):
        return False
    for lat, lon, km in parsed.near:
        if f.gps is None or distance_km((lat, lon), f.gps) > km:
            return False
    return all(f.mime in mimes for mimes in parsed.filetypes)


def search(files: Iterable[SearchableFile], query: str) -> list[SearchableFile]:
    """The files matching ``query``, best first (ties: the order given)."""
    parsed = parse(query)
    if parsed.invalid or not (parsed.required or parsed.in_title or _has_keywords(parsed)):
        return []
    scored = []
    for n, f in enumerate(files):
        if not _passes_keywords(f, parsed):
            continue
        score = _score(f, parsed)
        if score is not None:
            scored.append((-score, n, f))
    return [f for _score_, _n, f in sorted(scored, key=lambda t: (t[0], t[1]))]


def _has_keywords(parsed: ParsedQuery) -> bool:
    return bool(parsed.categories or parsed.depicts or parsed.near or parsed.filetypes)


def in_category(files: Iterable[SearchableFile], category: str) -> list[SearchableFile]:
    """``categorymembers``: files directly in the category, by title (Commons' sort key)."""
    key = _category_key(category)
    members = [f for f in files if key in {_category_key(c) for c in f.categories}]
    return sorted(members, key=lambda f: f.title)


def near(
    files: Iterable[SearchableFile], point: tuple[float, float], radius_km: float
) -> list[SearchableFile]:
    """``geosearch``: geotagged files within the radius, nearest first."""
    hits = [(distance_km(point, f.gps), f.title, f) for f in files if f.gps is not None]
    return [f for d, _t, f in sorted(hits, key=lambda t: (t[0], t[1])) if d <= radius_km]
