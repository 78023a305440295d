"""Wikimedia Commons and Wikidata client: candidate images for POIs, and safe downloads.

Every request (API calls and image downloads alike) goes through the transport in
``commons/http.py``: it takes a token from the shared, database-backed ``RateLimiter``
first, carries ``IMAGE_RANKING_USER_AGENT`` and is counted in ``request_count``.
Transient failures (network errors, 5xx, 429, ``maxlag``) are retried a bounded number
of times with backoff; a server's ``Retry-After`` pushes the shared bucket out so every
process waits. Other 4xx are not retried. ``CommonsClient(wait_for_budget=False)`` never
sleeps (for web requests): an exhausted budget raises ``BudgetExhaustedError``.

``gather`` finds a POI's candidates with one or two searches chosen per POI (its Commons
category, its name, its name near its coordinates, files depicting its Wikidata item: see
``commons_search``), plus its Wikidata P18 image; the Wikidata items (P18, P373 category,
P625 coordinates, commonswiki sitelink) come from ``wbgetentities`` batched by 50.
Thumbnails are at a standard width (always the ``thumburl`` Commons returns, on
``upload.wikimedia.org`` or ``thumb.wikimedia.org``); the extmetadata the relevance judge
needs (assessments, GPS, description) and the file's *visible* categories
(``prop=categories&clshow=!hidden``: hidden tracking and licence categories are no
evidence, see ``commons/categories.py``) come with the same request; answers are checked
against ``commons_schema`` first. Metadata filters mark files that cannot be a good POI
photo (not raster, too small, extreme aspect ratio) before anything is downloaded; what a
file is *about* (a map, a plan) is the relevance judge's. Downloads only go to
``IMAGE_RANKING_DOWNLOAD_HOSTS``, each redirect hop checked again and connected to the
checked address, streamed under a byte cap (``http.check_download_url``).
"""

from __future__ import annotations

import html
import json
import logging
import math
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any

import requests
from django.utils.html import strip_tags

from image_ranking.commons import categories as commons_categories
from image_ranking.commons import http
from image_ranking.commons import schema as commons_schema
from image_ranking.commons import search as commons_search
from image_ranking.commons.http import Resolver, _Response, retry_after_seconds
from image_ranking.commons.ratelimit import RateLimiter
from image_ranking.commons.records import Candidate, Gathered, WikidataItem
from image_ranking.conf import conf
from image_ranking.drops import Drop
from image_ranking.exceptions import CommonsError, TransientCommonsError
from image_ranking.poi import PoiInfo, get_poi_adapter

logger = logging.getLogger(__name__)

# Widths Commons renders thumbnails at; others are rounded up or refused.
STANDARD_THUMB_WIDTHS = (20, 40, 60, 120, 250, 330, 500, 960, 1280, 1920, 3840)
# wbgetentities and titles= accept at most 50 ids/titles per request.
MAX_IDS_PER_REQUEST = 50
RASTER_MIMES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
# extmetadata the client reads (asked with iiextmetadatafilter: smaller answers).
EXTMETADATA_FIELDS = (
    "Artist",
    "Credit",
    "LicenseShortName",
    "LicenseUrl",
    "AttributionRequired",
    "Categories",
    "Assessments",
    "GPSLatitude",
    "GPSLongitude",
    "ImageDescription",
    "ObjectName",
    "DateTimeOriginal",
)
# Descriptions are kept for evidence and review, not as documents.
MAX_DESCRIPTION_CHARS = 1000
WIKIDATA_ID = re.compile(r"Q[1-9][0-9]*")


# ------------------------------------------------------------------ parsing and filters


def plain_text(value: Any) -> str:
    """Commons ``extmetadata`` values are HTML: tags stripped, entities decoded, spaces tidied."""
    if value is None:
        return ""
    # Tags become spaces first, so "<td>a</td><td>b</td>" does not read "ab".
    text = strip_tags(str(value).replace("<", " <"))
    return " ".join(html.unescape(text).split())


def standard_thumb_width(width: int) -> int:
    """The standard Commons width at or above ``width`` (the largest one above them all)."""
    for standard in STANDARD_THUMB_WIDTHS:
        if standard >= width:
            return standard
    return STANDARD_THUMB_WIDTHS[-1]


def filter_drop(candidate: Candidate) -> tuple[str, dict[str, Any]]:
    """Why a candidate cannot be a POI photo, from the file alone: a ``Drop`` code and its
    details (``("", {})`` if it can be one): its type, size, shape, and what its title says
    it is ("Map of Paris.jpg"). What its categories say is weighed by the relevance judge
    (a geotag outweighs them)."""
    mime = (candidate.mime or "").lower()
    if mime not in RASTER_MIMES:
        return Drop.NOT_RASTER, {"mime": mime}
    noun = commons_categories.about_non_photo(candidate.title)
    if noun:
        return Drop.TITLE_NOT_PHOTO, {"word": noun}
    width, height = candidate.width or 0, candidate.height or 0
    if width and width < conf.MIN_IMAGE_WIDTH:
        return Drop.TOO_SMALL, {"width": width, "min_width": conf.MIN_IMAGE_WIDTH}
    if width and height:
        ratio = max(width / height, height / width)
        if ratio > conf.MAX_ASPECT_RATIO:
            return Drop.ASPECT_RATIO, {"ratio": round(ratio, 3)}
    if not candidate.thumbnail_url:
        return Drop.NO_THUMBNAIL, {}
    return "", {}


def _meta(extmetadata: dict[str, Any], key: str) -> str:
    entry = extmetadata.get(key) or {}
    value = entry.get("value") if isinstance(entry, dict) else entry
    if isinstance(value, dict):  # several languages ("_type": "lang"): English, else the first
        texts = {k: v for k, v in value.items() if k != "_type"}
        value = texts.get("en") or next(iter(texts.values()), "")
    return plain_text(value)


def _meta_list(extmetadata: dict[str, Any], key: str, *, lower: bool = False) -> tuple[str, ...]:
    """A pipe-separated extmetadata value (Categories, Assessments) as a tuple."""
    items = []
    for part in _meta(extmetadata, key).split("|"):
        part = part.strip().removeprefix("Category:").replace("_", " ").strip()
        if part:
            items.append(part.lower() if lower else part)
    return tuple(dict.fromkeys(items))


def _coordinate(extmetadata: dict[str, Any], key: str, bound: float) -> float | None:
    try:
        value = float(_meta(extmetadata, key))
    except ValueError:
        return None
    return value if math.isfinite(value) and -bound <= value <= bound else None


def geotag(extmetadata: dict[str, Any]) -> tuple[float | None, float | None]:
    """GPSLatitude/GPSLongitude as decimal degrees; (None, None) unless both are valid."""
    lat = _coordinate(extmetadata, "GPSLatitude", 90.0)
    lon = _coordinate(extmetadata, "GPSLongitude", 180.0)
    return (lat, lon) if lat is not None and lon is not None else (None, None)


def page_categories(page: dict[str, Any], extmetadata: dict[str, Any]) -> tuple[str, ...]:
    """A file's visible categories: ``prop=categories`` (asked with ``clshow=!hidden``) when
    the page carries them, else extmetadata's list without the hidden ones by name."""
    listed = page.get("categories")
    if isinstance(listed, list):
        titles = (str(c.get("title", "")) for c in listed if isinstance(c, dict))
        names = (t.removeprefix("Category:").replace("_", " ").strip() for t in titles)
        return tuple(dict.fromkeys(n for n in names if n))
    return commons_categories.visible(_meta_list(extmetadata, "Categories"))


def candidate_from_page(
    page: dict[str, Any], *, source: str = "commons", visible_listed: bool = False
) -> Candidate | None:
    """A ``Candidate`` from one page of an imageinfo query (formatversion 1 or 2); None for
    a page without imageinfo (missing, invalid, or cut off by continuation).

    ``visible_listed``: the request asked ``prop=categories&clshow=!hidden`` and the answer
    was not cut, so a page without ``categories`` has no visible category. A page marked
    ``missing`` but ``known`` (a file of the shared repository) with imageinfo is a file.
    """
    infos = page.get("imageinfo") or []
    if not infos or "invalid" in page:
        return None
    if visible_listed and "categories" not in page:
        page = {**page, "categories": []}
    info = infos[0]
    meta = info.get("extmetadata") or {}
    required = _meta(meta, "AttributionRequired").lower()
    latitude, longitude = geotag(meta)
    index = page.get("index")  # 1-based search position; Wikidata images rank first
    if index is not None:
        rank: int | None = int(index) - 1
    else:
        rank = 0 if source == "wikidata" else None
    candidate = Candidate(
        title=str(page.get("title", "")),
        image_url=str(info.get("url", "")),
        thumbnail_url=str(info.get("thumburl", "")),
        thumbnail_width=info.get("thumbwidth"),
        thumbnail_height=info.get("thumbheight"),
        width=info.get("width"),
        height=info.get("height"),
        mime=str(info.get("mime", "")),
        sha1=str(info.get("sha1", "")),
        page_url=str(info.get("descriptionurl", "")),
        author=_meta(meta, "Artist") or _meta(meta, "Credit"),
        license_name=_meta(meta, "LicenseShortName"),
        license_url=_meta(meta, "LicenseUrl"),
        # Public-domain files say "false"; when Commons says nothing, credit anyway.
        attribution_required=required != "false",
        source=source,
        search_rank=rank,
        categories=page_categories(page, meta),
        assessments=_meta_list(meta, "Assessments", lower=True),
        latitude=latitude,
        longitude=longitude,
        description=_meta(meta, "ImageDescription")[:MAX_DESCRIPTION_CHARS],
        object_name=_meta(meta, "ObjectName"),
        found_by=("wikidata",) if source == "wikidata" else (),
    )
    drop, detail = filter_drop(candidate)
    return replace(candidate, drop=drop, drop_detail=detail)


def query_pages(payload: Any) -> list[dict[str, Any]]:
    """The pages of a ``query`` response (shape checked): a list (formatversion 2) or a
    dict (version 1), in the order the server gave them."""
    pages = (commons_schema.query_answer(payload).get("query") or {}).get("pages") or []
    if isinstance(pages, dict):
        pages = list(pages.values())
    return pages


def _claim_values(entity: dict[str, Any], prop: str) -> list[Any]:
    """A property's values, preferred rank first, deprecated ones left out."""
    claims = [
        c for c in (entity.get("claims") or {}).get(prop) or [] if c.get("rank") != "deprecated"
    ]
    claims.sort(key=lambda c: c.get("rank") != "preferred")
    values = []
    for claim in claims:
        value = ((claim.get("mainsnak") or {}).get("datavalue") or {}).get("value")
        if value is not None:
            values.append(value)
    return values


def p18_title(entity: dict[str, Any]) -> str | None:
    """The first P18 (image) of a Wikidata entity, as a Commons file title."""
    for value in _claim_values(entity, "P18"):
        if isinstance(value, str) and value.strip():
            return "File:" + value.strip().replace("_", " ")
    return None


def p625_coordinates(entity: dict[str, Any]) -> tuple[float, float] | None:
    """The first valid P625 (coordinate location) as (lat, lon)."""
    for value in _claim_values(entity, "P625"):
        if not isinstance(value, dict):
            continue
        try:
            lat, lon = float(value["latitude"]), float(value["longitude"])
        except (KeyError, TypeError, ValueError):
            continue
        globe = str(value.get("globe") or "")
        if globe and not globe.endswith("/Q2"):  # coordinates on the Moon or Mars
            continue
        if math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180:
            return (lat, lon)
    return None


def wikidata_item(qid: str, entity: dict[str, Any]) -> WikidataItem:
    """A ``WikidataItem`` from one (shape-checked) ``wbgetentities`` entity."""
    category = next(
        (
            v.strip().removeprefix("Category:")
            for v in _claim_values(entity, "P373")
            if isinstance(v, str) and v.strip()
        ),
        None,
    )
    sitelink = (entity.get("sitelinks") or {}).get("commonswiki") or {}
    labels = {
        str(language): str(label.get("value", ""))
        for language, label in (entity.get("labels") or {}).items()
        if label.get("value")
    }
    return WikidataItem(
        qid=qid,
        image=p18_title(entity),
        commons_category=category.replace("_", " ") if category else None,
        coordinates=p625_coordinates(entity),
        commonswiki=str(sitelink.get("title") or "") or None,
        labels=labels,
    )


# ------------------------------------------------------------------ client


class CommonsClient:
    """Commons/Wikidata client; one per run (it counts the requests it makes)."""

    def __init__(
        self,
        *,
        thumb_width: int | None = None,
        limiter: RateLimiter | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        api_url: str | None = None,
        wikidata_url: str | None = None,
        wait_for_budget: bool = True,
        resolve: Resolver | None = None,
    ) -> None:
        """``wait_for_budget=False`` for web requests: never sleep (see http.Transport)."""
        self.thumb_width = standard_thumb_width(thumb_width or conf.RANKING_THUMBNAIL_WIDTH)
        self.limiter = limiter or RateLimiter()
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = conf.USER_AGENT
        self.sleep = sleep
        self.api_url = api_url or conf.COMMONS_API_URL
        self.wikidata_url = wikidata_url or conf.WIKIDATA_API_URL
        self.http = http.Transport(
            session=self.session,
            limiter=self.limiter,
            sleep=sleep,
            wait_for_budget=wait_for_budget,
            resolve=resolve,
        )

    @property
    def request_count(self) -> int:
        """Requests sent so far (API calls and downloads)."""
        return self.http.request_count

    # -- candidates --------------------------------------------------------------------

    def search(self, query: str, limit: int = 10) -> list[Candidate]:
        """One ``generator=search`` request: files matching ``query``, in search order."""
        return self._generator_files(
            {
                "generator": "search",
                "gsrnamespace": "6",
                "gsrsearch": query,
                "gsrlimit": str(_clamp_limit(limit)),
            }
        )

    def _generator_files(self, params: dict[str, str]) -> list[Candidate]:
        """Files of one generator request, in the server's order (search ``index`` first)."""
        payload = self._api(self.api_url, {"action": "query", **params, **self._imageinfo_params()})
        found = self._candidates(payload, "commons", complete=True)
        order = {c.title: n for n, c in enumerate(found)}
        return sorted(
            found,
            key=lambda c: (c.search_rank if c.search_rank is not None else 10**6, order[c.title]),
        )

    def _candidates(self, payload: Any, source: str, *, complete: bool) -> list[Candidate]:
        """The files of one imageinfo answer. Pages that continuation cut off (no imageinfo
        yet) are asked again by title when ``complete`` (one more request), else logged."""
        pages = query_pages(payload)  # checks the shape of the whole answer
        cut = _categories_cut_at(payload)
        # No page with a ``categories`` list: the module was not answered (a proxy, an old
        # recording); each file's categories then come from extmetadata, hidden ones left out.
        answered = any("categories" in page for page in pages)
        found: list[Candidate] = []
        unfinished: dict[str, int | None] = {}
        for page in pages:
            pageid = page.get("pageid")
            before_cut = cut is None or (isinstance(pageid, int) and pageid < cut)
            listed = answered and before_cut
            if not listed:
                page = {k: v for k, v in page.items() if k != "categories"}
            candidate = candidate_from_page(page, source=source, visible_listed=listed)
            if candidate is not None:
                found.append(candidate)
            elif not page.get("imageinfo") and not {"missing", "invalid"} & page.keys():
                index = page.get("index")
                unfinished[str(page.get("title", ""))] = int(index) if index else None
        if unfinished and complete:
            logger.info(
                "%d file(s) came without imageinfo (continued): asked again", len(unfinished)
            )
            again = self.image_info(list(unfinished), source=source, complete=False)
            for title, index in unfinished.items():
                if title in again:
                    rank = index - 1 if index else again[title].search_rank
                    found.append(replace(again[title], search_rank=rank))
        elif unfinished:
            logger.warning("Commons sent no imageinfo for %s; left out", ", ".join(unfinished))
        return found

    def image_info(
        self, titles: Sequence[str], *, source: str = "commons", complete: bool = True
    ) -> dict[str, Candidate]:
        """Candidates for known file titles (``titles=`` batched by 50), by title."""
        result: dict[str, Candidate] = {}
        unique = list(dict.fromkeys(titles))
        for start in range(0, len(unique), MAX_IDS_PER_REQUEST):
            chunk = unique[start : start + MAX_IDS_PER_REQUEST]
            payload = self._api(
                self.api_url,
                {"action": "query", "titles": "|".join(chunk), **self._imageinfo_params()},
            )
            found = self._candidates(payload, source, complete=complete)
            # Commons normalises titles ("File:A_b.jpg" -> "File:A b.jpg"): map them back.
            normalized = (payload.get("query") or {}).get("normalized") or []
            aliases = {n["to"]: n["from"] for n in normalized}
            for candidate in found:
                result[candidate.title] = candidate
                if candidate.title in aliases:
                    result[aliases[candidate.title]] = candidate
        return result

    def fetch_wikidata_items(self, qids: Iterable[str]) -> dict[str, WikidataItem]:
        """Wikidata items by id (one ``wbgetentities`` per 50 ids; ids that are not
        ``Q<number>`` are skipped, as one would fail the whole batch). Missing items are
        left out; an item reached through a redirect is also keyed by its new id."""
        wanted = []
        for qid in dict.fromkeys((q or "").strip().upper() for q in qids):
            if WIKIDATA_ID.fullmatch(qid):
                wanted.append(qid)
            elif qid:
                logger.warning("Skipping %r: not a Wikidata item id", qid)
        items: dict[str, WikidataItem] = {}
        for start in range(0, len(wanted), MAX_IDS_PER_REQUEST):
            chunk = wanted[start : start + MAX_IDS_PER_REQUEST]
            payload = self._api(
                self.wikidata_url,
                {
                    "action": "wbgetentities",
                    "ids": "|".join(chunk),
                    "props": "claims|sitelinks|labels",
                    # Only what is used: famous items have labels in 300 languages.
                    "sitefilter": "commonswiki",
                    "languages": "en",
                },
            )
            for key, entity in commons_schema.entities_answer(payload)["entities"].items():
                if "missing" in entity:
                    continue
                qid = str(entity.get("id") or key).upper()
                item = wikidata_item(qid, entity)
                items[str(key).upper()] = items[qid] = item
        return items

    def fetch_wikidata_images(self, qids: Iterable[str]) -> dict[str, str]:
        """P18 image titles by Wikidata id (one ``wbgetentities`` per 50 ids)."""
        items = self.fetch_wikidata_items(qids)
        return {qid: item.image for qid, item in items.items() if item.image}

    def gather(self, pois: Sequence[Any], limit: int = 10) -> dict[Any, Gathered]:
        """Candidates for many POIs (``PoiInfo``, or host POIs read through the contract),
        by POI pk: one or two searches each (see ``commons_search``), Wikidata items and
        P18 images that no search returned batched by 50.

        A POI whose search fails is left out (the caller gathers it alone later); a failing
        Wikidata or P18 look-up raises, as it concerns the whole batch.
        """
        return self._gather([_poi_info(poi) for poi in pois], limit, strict=False)

    def gather_one(self, poi: Any, limit: int = 10) -> Gathered:
        """``gather`` for one POI; its search failing raises."""
        info = _poi_info(poi)
        return self._gather([info], limit, strict=True)[info.pk]

    def _gather(self, infos: list[PoiInfo], limit: int, *, strict: bool) -> dict[Any, Gathered]:
        items = self.fetch_wikidata_items(p.wikidata_id for p in infos if p.wikidata_id)
        found: dict[Any, tuple[WikidataItem | None, list[Candidate]]] = {}
        for poi in infos:
            item = items.get(poi.wikidata_id) if poi.wikidata_id else None
            try:
                found[poi.pk] = (item, self._search_poi(poi, item, limit))
            except CommonsError as exc:
                if strict:
                    raise
                logger.warning("Commons search for %s failed: %s", poi.name or poi.pk, exc)
        # The P18 image is usually among the search results; only the others cost a
        # (batched) imageinfo request.
        missing = sorted(
            {
                item.image
                for item, candidates in found.values()
                if item is not None
                and item.image
                and item.image not in {c.title for c in candidates}
            }
        )
        p18 = self.image_info(missing, source="wikidata") if missing else {}
        return {
            pk: Gathered(item, _with_wikidata_image(candidates, item, p18))
            for pk, (item, candidates) in found.items()
        }

    def _search_poi(self, poi: PoiInfo, item: WikidataItem | None, limit: int) -> list[Candidate]:
        """The POI's first search, and a second one when the first leaves too little;
        every file marked with the queries that found it."""
        first = commons_search.first_query(poi, item)
        if first is None:
            return []
        found = _merge([], self.search(first.search, limit), first.found_by)
        second = commons_search.second_query(poi, item, first, found, limit)
        if second is None or second.search == first.search:
            return found
        more = _merge([], self.search(second.search, limit), second.found_by)
        if second.ranks_first:
            return _merge(more, found, first.found_by)
        return _merge(found, more, second.found_by)

    def _imageinfo_params(self) -> dict[str, str]:
        # The visible categories in the same request: extmetadata's list holds the hidden
        # tracking and licence ones too ("Pages with maps" on every geotagged file).
        return {
            "prop": "imageinfo|categories",
            "iiprop": "url|size|mime|sha1|extmetadata",
            "iiurlwidth": str(self.thumb_width),
            "iiextmetadatafilter": "|".join(EXTMETADATA_FIELDS),
            "clshow": "!hidden",
            "cllimit": "max",
        }

    # -- downloads ---------------------------------------------------------------------

    def download_image(self, url: str, *, max_bytes: int | None = None) -> bytes:
        """The bytes at ``url`` (allowed hosts only, every redirect hop checked, capped)."""
        return self.http.download(url, max_bytes=max_bytes)

    # -- HTTP --------------------------------------------------------------------------

    def _api(self, url: str, params: dict[str, str]) -> dict[str, Any]:
        params = {**params, "format": "json", "formatversion": "2", "maxlag": "5"}

        def call() -> dict[str, Any]:
            response = self._get(url, params, cap=conf.MAX_DOWNLOAD_BYTES)
            if response.status != 200:
                raise CommonsError(f"HTTP {response.status} from {url}")
            try:
                payload = json.loads(response.body)
            except ValueError:
                raise TransientCommonsError(f"{url} returned something that is not JSON") from None
            error = commons_schema.api_error(payload)
            if error:
                code = str(error.get("code", ""))
                info = plain_text(error.get("info", ""))
                if code == "maxlag":
                    # Replication lag: Commons asks every bot to wait (Retry-After, ~5 s).
                    wait = retry_after_seconds(response.headers.get("retry-after")) or 5.0
                    self.limiter.defer(wait)
                    raise TransientCommonsError(f"Commons is lagged ({info})", retry_after=wait)
                raise CommonsError(f"Wikimedia API error {code}: {info}")
            return payload

        return self._with_retries(call)

    def _get(self, url: str, params: dict[str, str] | None, *, cap: int) -> _Response:
        """One counted, rate-limited GET; transient failures raise TransientCommonsError."""
        return self.http.get(url, params, cap=cap)

    def _with_retries(self, call: Callable[[], Any]) -> Any:
        return self.http.with_retries(call)


def _categories_cut_at(payload: Any) -> int | None:
    """The page id from which ``prop=categories`` was cut by continuation (``clcontinue``
    is "pageid|category"), else None: those pages' lists are incomplete."""
    token = str(
        ((payload.get("continue") or {}) if isinstance(payload, dict) else {}).get("clcontinue", "")
    )
    head = token.split("|", 1)[0]
    return int(head) if head.isdigit() else None


def _clamp_limit(limit: int) -> int:
    return max(1, min(int(limit), 50))


def _poi_info(poi: Any) -> PoiInfo:
    return poi if isinstance(poi, PoiInfo) else get_poi_adapter().info(poi)


def _merge(
    found: list[Candidate], new: Sequence[Candidate], found_by: tuple[str, ...]
) -> list[Candidate]:
    """``found`` then the files of ``new`` not in it; ``found_by`` added to each file."""
    merged = {c.title: c for c in found}
    for c in new:
        known = merged.get(c.title, c)
        merged[c.title] = replace(known, found_by=tuple(dict.fromkeys(known.found_by + found_by)))
    return list(merged.values())


def _with_wikidata_image(
    found: list[Candidate], item: WikidataItem | None, p18: dict[str, Candidate]
) -> list[Candidate]:
    """The P18 image first (from the results when there, else from ``p18``), then the
    rest; ranks renumbered in that order."""
    title = item.image if item is not None else None
    image = next((c for c in found if c.title == title), None) or p18.get(title or "")
    if image is not None:
        image = replace(
            image, source="wikidata", found_by=tuple(dict.fromkeys(("wikidata", *image.found_by)))
        )
    ordered = ([image] if image is not None else []) + [c for c in found if c.title != title]
    return [replace(c, search_rank=n) for n, c in enumerate(ordered)]
