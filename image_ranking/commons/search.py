"""Which Commons searches find a POI's own files, within one or two requests.

Commons search is CirrusSearch: every word must match the title, description or
categories, and keywords (``incategory:``, ``haswbstatement:``, ``nearcoord:``,
``filetype:``) narrow it in the same query; there is no OR across keywords, so each
source of relevance costs its own request. The plan per POI:

1. The most relevant query that is likely to return files:
   - the POI's Commons category (Wikidata P373, or its ``commonswiki`` sitelink when that is
     a category): ``incategory:"Clock Tower (Graz)" filetype:bitmap`` returns the POI's
     own files (found_by "category");
   - otherwise the plain name (found_by "name"): unique names find their photos, and
     extmetadata (GPS, categories) tells the judge which ones are namesakes elsewhere.
2. A second query only when the first leaves the judge too little:
   - the category held fewer than ``MIN_USABLE`` usable files (its files may sit in
     subcategories): a narrowing query (below), else the plain name;
   - the name search returned a full page showing namesakes elsewhere (a geotag
     kilometres away, categories that never name the city) and fewer than ``MIN_USABLE``
     files of this place: a narrowing query, which finds this place's files among more
     famous namesakes: the name with the city's name, else the name near the POI
     (``nearcoord:``), else files depicting the item (``haswbstatement:P180=Q``). Those
     queries only return files the name search would return too, further down its
     ranking, so after a short page they cannot find anything new and are not asked.

So a POI costs one search, two at most; the Wikidata look-up (50 POIs per request) and
the P18 images that no search returned (50 per request) are shared by the batch, and so
are the category searches of up to five POIs (``incategory:"A|B|C"``, one request; the
files' categories say whose they are).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from image_ranking.commons.categories import about_non_photo
from image_ranking.commons.records import Candidate, WikidataItem
from image_ranking.conf import conf
from image_ranking.poi import PoiInfo

# Fewer usable files than this after the first query: a second query is worth a request.
MIN_USABLE = 3
# nearcoord radius for "the name near the POI": a large site fits, the next town does not.
NEAR_KM = 2.0
# (A geotag farther than conf.RELEVANCE_FAR_KM shows a namesake elsewhere, as for the judge.)
# CirrusSearch syntax a POI name must not smuggle into a query.
_SYNTAX = re.compile(r'["\\:*?~()\[\]{}<>|!^]')


@dataclass(frozen=True)
class Query:
    """One ``gsrsearch`` string and the evidence it stands for (``Candidate.found_by``)."""

    search: str
    found_by: tuple[str, ...]
    # Its files go before the first query's: it narrowed a name search to this place.
    ranks_first: bool = False


def search_words(text: str) -> str:
    """``text`` as plain search words: keyword syntax, quotes and negation removed."""
    words = _SYNTAX.sub(" ", text).split()
    return " ".join(w.lstrip("-") for w in words if w.lstrip("-"))


def commons_category(item: WikidataItem | None) -> str | None:
    """The item's Commons category: P373, else a ``commonswiki`` sitelink to a category."""
    if item is None:
        return None
    # getattr: the judge passes rows and stand-ins of items as well as WikidataItems.
    if getattr(item, "commons_category", None):
        return item.commons_category
    sitelink = getattr(item, "commonswiki", None) or ""
    if sitelink.startswith("Category:"):
        return sitelink.removeprefix("Category:") or None
    return None


def coordinates(poi: PoiInfo, item: WikidataItem | None) -> tuple[float, float] | None:
    """The POI's own coordinates, else the item's P625."""
    return poi.coordinates or (item.coordinates if item is not None else None)


def category_query(category: str) -> Query:
    quoted = category.replace('"', " ")
    return Query(f'incategory:"{quoted}" filetype:bitmap', ("category",))


def categories_query(categories: Sequence[str]) -> Query:
    """Files in any of ``categories``: several POIs' first searches in one request (the
    client gives each file to the POIs whose category it lists)."""
    names = "|".join(c.replace('"', " ").replace("|", " ") for c in categories)
    return Query(f'incategory:"{names}" filetype:bitmap', ("category",))


def name_query(name: str) -> Query | None:
    words = search_words(name)
    return Query(words, ("name",)) if words else None


def near_query(name: str, point: tuple[float, float]) -> Query | None:
    words = search_words(name)
    if not words:
        return None
    lat, lon = point
    return Query(f"{words} nearcoord:{NEAR_KM:g}km,{lat:.5f},{lon:.5f}", ("geo",))


def depicts_query(qid: str) -> Query:
    return Query(f"haswbstatement:P180={qid}", ("depicts",))


def first_query(poi: PoiInfo, item: WikidataItem | None) -> Query | None:
    """The POI's first search (None: nothing to search for, e.g. an empty name)."""
    category = commons_category(item)
    if category:
        return category_query(category)
    return name_query(poi.name)


def second_query(
    poi: PoiInfo,
    item: WikidataItem | None,
    first: Query,
    found: Sequence[Candidate],
    limit: int,
) -> Query | None:
    """A second search when the first leaves too little (None: one request was enough)."""
    usable = [c for c in found if is_usable(c)]
    point = coordinates(poi, item)
    if "category" in first.found_by:
        if len(usable) >= MIN_USABLE:
            return None
        # Files in subcategories, or never categorised: look by name, narrowly if possible.
        return narrow_query(poi, item, point) or name_query(poi.name)
    # The name-with-city and name-near-here queries are subsets of the name search (its
    # words are required too): after less than a full page they cannot find anything new.
    # (Depicts is not a subset, but it is only reached when there is neither a city nor
    # coordinates, and then no file can show itself to be elsewhere.)
    if len(found) < limit:
        return None
    here = sum(1 for c in usable if shows_here(c, poi, item, point))
    elsewhere = sum(1 for c in usable if shows_elsewhere(c, poi, point))
    if here >= MIN_USABLE or not elsewhere:
        return None
    narrow = narrow_query(poi, item, point)
    return replace(narrow, ranks_first=True) if narrow else None


def is_usable(c: Candidate) -> bool:
    """Neither filtered nor, by its title or categories, about a map or plan (the judge's
    rule; a geotag keeps a file whose category alone says so)."""
    if c.drop or about_non_photo(c.title):
        return False
    return c.latitude is not None or not any(about_non_photo(cat) for cat in c.categories)


def narrow_query(
    poi: PoiInfo, item: WikidataItem | None, point: tuple[float, float] | None
) -> Query | None:
    """The name with the city's name (files categorised or described under the city),
    else the name near the POI (geotagged files), else files depicting the item."""
    name, city = search_words(poi.name), search_words(poi.city_name)
    if name and city and not set(city.casefold().split()) <= set(name.casefold().split()):
        return Query(f"{name} {city}", ("name",))
    if point:
        return near_query(poi.name, point)
    if item is not None and item.qid:
        return depicts_query(item.qid)
    return None


def shows_here(
    c: Candidate, poi: PoiInfo, item: WikidataItem | None, point: tuple[float, float] | None
) -> bool:
    """Cheap evidence that a file shows this place (the judge weighs it properly)."""
    near = point and c.latitude is not None and c.longitude is not None
    if near and distance_km(point, (c.latitude, c.longitude)) <= NEAR_KM:
        return True
    category = commons_category(item)
    if category and category in c.categories:
        return True
    city = poi.city_name.casefold()
    text = " ".join((*c.categories, c.description)).casefold()
    return bool(city) and city in text


def shows_elsewhere(c: Candidate, poi: PoiInfo, point: tuple[float, float] | None) -> bool:
    """Cheap evidence of a namesake: a far geotag, or categories that never name the city."""
    if point and c.latitude is not None and c.longitude is not None:
        return distance_km(point, (c.latitude, c.longitude)) > conf.RELEVANCE_FAR_KM
    city = poi.city_name.casefold()
    return bool(city and c.categories) and not any(city in cat.casefold() for cat in c.categories)


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance (haversine, mean Earth radius)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(h)))
