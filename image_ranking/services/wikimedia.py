"""Wikimedia Commons and Wikidata client: candidate images for POIs, and safe downloads.

Every request (API calls and image downloads alike) goes through the transport in
``services/http.py``: it takes a token from the shared, database-backed ``RateLimiter``
first, carries ``IMAGE_RANKING_USER_AGENT`` and is counted in ``request_count``.
Transient failures (network errors, 5xx, 429, ``maxlag``) are retried a bounded number
of times with backoff; a server's ``Retry-After`` pushes the shared bucket out so every
process waits. Other 4xx are not retried. ``CommonsClient(wait_for_budget=False)`` never
sleeps (for web requests): an exhausted budget raises ``BudgetExhaustedError``.

Candidates come from one ``generator=search`` request per POI (thumbnails at a standard
width, always the ``thumburl`` Commons returns) and from the POI's Wikidata P18 image
(``wbgetentities`` batched by 50). Metadata filters mark files that cannot be a good POI
photo (not raster, too small, extreme aspect ratio, maps/logos/flags...) before anything
is downloaded. Downloads only go to ``IMAGE_RANKING_DOWNLOAD_HOSTS``, each redirect hop
checked again and connected to the checked address, streamed under a byte cap
(``http.check_download_url``).
"""

from __future__ import annotations

import html
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import requests
from tenacity import RetryCallState

from image_ranking.conf import conf
from image_ranking.exceptions import CommonsError, TransientCommonsError
from image_ranking.poi import get_poi_adapter
from image_ranking.services import http
from image_ranking.services.http import (  # noqa: F401 (re-exported: callers import them here)
    MAX_REDIRECTS,
    TRANSIENT_STATUS,
    Resolver,
    _Response,
    _short_url,
    check_download_url,
    retry_after_seconds,
)
from image_ranking.services.ratelimit import RateLimiter

logger = logging.getLogger(__name__)

# Widths Commons renders thumbnails at; others are rounded up or refused.
STANDARD_THUMB_WIDTHS = (20, 40, 60, 120, 250, 330, 500, 960, 1280, 1920, 3840)
# wbgetentities and titles= accept at most 50 ids/titles per request.
MAX_IDS_PER_REQUEST = 50
RASTER_MIMES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
# Words in a file title that mark something other than a photo of the place.
NOT_A_PHOTO = re.compile(
    r"\b(maps?|locator|location map|plans?|floor ?plans?|grundriss|karte|carte|mapa|plano|"
    r"logos?|flags?|flagge|drapeau|bandera|coat of arms|wappen|blason|escudo|emblem|seal|"
    r"diagrams?|schema|scheme|chart|signatures?|unterschrift|icon)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Candidate:
    """One candidate image for a POI, as Commons describes it (all text is plain text)."""

    title: str  # "File:Tour Eiffel.jpg"
    image_url: str  # original file URL (never downloaded by the ranking service)
    thumbnail_url: str  # the thumburl the API returned (never built by hand)
    thumbnail_width: int | None
    thumbnail_height: int | None
    width: int | None  # original size
    height: int | None
    mime: str
    sha1: str
    page_url: str  # file description page
    author: str = ""
    license_name: str = ""
    license_url: str = ""
    attribution_required: bool = True
    source: str = "commons"  # "commons" or "wikidata"
    search_rank: int | None = None
    filtered_reason: str = ""  # non-empty: dropped before scoring, and why


# ------------------------------------------------------------------ parsing and filters


_TAGS = re.compile(r"<[^>]+>")


def plain_text(value: Any) -> str:
    """Commons ``extmetadata`` values are HTML: tags stripped, entities decoded, spaces tidied."""
    if value is None:
        return ""
    text = _TAGS.sub(" ", str(value))
    return " ".join(html.unescape(text).split())


def standard_thumb_width(width: int) -> int:
    """The standard Commons width at or above ``width`` (the largest one above them all)."""
    for standard in STANDARD_THUMB_WIDTHS:
        if standard >= width:
            return standard
    return STANDARD_THUMB_WIDTHS[-1]


def filter_reason(candidate: Candidate) -> str:
    """Why a candidate cannot be a POI photo, from its metadata alone ("" if it can)."""
    mime = (candidate.mime or "").lower()
    if mime not in RASTER_MIMES:
        return f"not a raster photo ({mime or 'unknown type'})"
    title = candidate.title.removeprefix("File:")
    match = NOT_A_PHOTO.search(title.replace("_", " "))
    if match:
        return f"title marks a map, plan, logo, flag or diagram ({match.group(0).lower()!r})"
    width, height = candidate.width or 0, candidate.height or 0
    if width and width < conf.MIN_IMAGE_WIDTH:
        return f"too small ({width} px wide, under {conf.MIN_IMAGE_WIDTH})"
    if width and height:
        ratio = max(width / height, height / width)
        if ratio > conf.MAX_ASPECT_RATIO:
            return f"extreme aspect ratio ({ratio:.1f}:1)"
    if not candidate.thumbnail_url:
        return "no thumbnail URL"
    return ""


def _meta(extmetadata: dict[str, Any], key: str) -> str:
    entry = extmetadata.get(key) or {}
    return plain_text(entry.get("value") if isinstance(entry, dict) else entry)


def candidate_from_page(page: dict[str, Any], *, source: str = "commons") -> Candidate | None:
    """A ``Candidate`` from one page of an imageinfo query (formatversion 1 or 2)."""
    infos = page.get("imageinfo") or []
    if not infos or "missing" in page or "invalid" in page:
        return None
    info = infos[0]
    meta = info.get("extmetadata") or {}
    required = _meta(meta, "AttributionRequired").lower()
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
    )
    return replace(candidate, filtered_reason=filter_reason(candidate))


def query_pages(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The pages of a ``query`` response: a list (formatversion 2) or a dict (version 1)."""
    pages = (payload.get("query") or {}).get("pages") or []
    if isinstance(pages, dict):
        pages = list(pages.values())
    return [p for p in pages if isinstance(p, dict)]


def p18_title(entity: dict[str, Any]) -> str | None:
    """The first P18 (image) of a Wikidata entity, as a Commons file title."""
    for claim in (entity.get("claims") or {}).get("P18") or []:
        value = ((claim.get("mainsnak") or {}).get("datavalue") or {}).get("value")
        if isinstance(value, str) and value:
            return "File:" + value.replace("_", " ")
    return None


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
        self.thumb_width = standard_thumb_width(thumb_width or conf.THUMBNAIL_WIDTH)
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
        payload = self._api(
            self.api_url,
            {
                "action": "query",
                "generator": "search",
                "gsrnamespace": "6",
                "gsrsearch": query,
                "gsrlimit": str(max(1, min(int(limit), 50))),
                **self._imageinfo_params(),
            },
        )
        found = [candidate_from_page(page) for page in query_pages(payload)]
        return sorted(
            (c for c in found if c is not None),
            key=lambda c: (c.search_rank if c.search_rank is not None else 10**6, c.title),
        )

    def image_info(self, titles: Sequence[str], *, source: str = "commons") -> dict[str, Candidate]:
        """Candidates for known file titles (``titles=`` batched by 50), by title."""
        result: dict[str, Candidate] = {}
        unique = list(dict.fromkeys(titles))
        for start in range(0, len(unique), MAX_IDS_PER_REQUEST):
            chunk = unique[start : start + MAX_IDS_PER_REQUEST]
            payload = self._api(
                self.api_url,
                {"action": "query", "titles": "|".join(chunk), **self._imageinfo_params()},
            )
            # Commons normalises titles ("File:A_b.jpg" -> "File:A b.jpg"): map them back.
            aliases = {
                n.get("to"): n.get("from")
                for n in (payload.get("query") or {}).get("normalized") or []
            }
            for page in query_pages(payload):
                candidate = candidate_from_page(page, source=source)
                if candidate is not None:
                    result[candidate.title] = candidate
                    if page.get("title") in aliases:
                        result[aliases[page["title"]]] = candidate
        return result

    def fetch_wikidata_images(self, qids: Iterable[str]) -> dict[str, str]:
        """P18 image titles by Wikidata id (one ``wbgetentities`` per 50 ids)."""
        wanted = list(dict.fromkeys(q.strip().upper() for q in qids if q and q.strip()))
        images: dict[str, str] = {}
        for start in range(0, len(wanted), MAX_IDS_PER_REQUEST):
            chunk = wanted[start : start + MAX_IDS_PER_REQUEST]
            payload = self._api(
                self.wikidata_url,
                {"action": "wbgetentities", "ids": "|".join(chunk), "props": "claims"},
            )
            entities = payload.get("entities") or {}
            for key, entity in entities.items():
                if not isinstance(entity, dict) or "missing" in entity:
                    continue
                title = p18_title(entity)
                if title:
                    images[str(key).upper()] = title
                    images[str(entity.get("id", key)).upper()] = title  # after a redirect
        return images

    def fetch_candidates(
        self, poi: Any, limit: int = 10, *, include_filtered: bool = False
    ) -> list[Candidate]:
        """The POI's Wikidata image (first) and Commons search results, in that order."""
        qid = get_poi_adapter().wikidata_id(poi)
        title = self.fetch_wikidata_images([qid]).get(qid) if qid else None
        name = get_poi_adapter().name(poi)
        found = self._with_wikidata_image(self.search(name, limit), title, None)
        return [c for c in found if include_filtered or not c.filtered_reason]

    def fetch_candidates_for_pois(
        self, pois: Iterable[Any], limit: int = 10
    ) -> dict[Any, list[Candidate]]:
        """Candidates (filtered ones included) for many POIs, Wikidata look-ups batched.

        A POI whose search fails is left out (the caller fetches it alone later); a
        failing Wikidata look-up raises, as it concerns the whole batch.
        """
        pois = list(pois)
        adapter = get_poi_adapter()
        qids = {poi.pk: adapter.wikidata_id(poi) for poi in pois}
        images = self.fetch_wikidata_images(q for q in qids.values() if q)
        searched: dict[Any, list[Candidate]] = {}
        for poi in pois:
            try:
                searched[poi.pk] = self.search(adapter.name(poi), limit)
            except CommonsError as exc:
                logger.warning("Commons search for %s failed: %s", poi, exc)
        # The P18 image is usually among the search results; only the others cost a
        # (batched) imageinfo request.
        missing = sorted(
            {
                images[qids[pk]]
                for pk, found in searched.items()
                if images.get(qids[pk]) and images[qids[pk]] not in {c.title for c in found}
            }
        )
        infos = self.image_info(missing, source="wikidata") if missing else {}
        return {
            pk: self._with_wikidata_image(found, images.get(qids[pk]), infos)
            for pk, found in searched.items()
        }

    def _with_wikidata_image(
        self, found: list[Candidate], title: str | None, infos: dict[str, Candidate] | None
    ) -> list[Candidate]:
        """Search results with the P18 image first (taken from the results when there).

        ``infos``: imageinfo already fetched for P18 images not in the results (None: ask).
        """
        if not title:
            return found
        in_results = next((c for c in found if c.title == title), None)
        if in_results is not None:
            image: Candidate | None = replace(in_results, source="wikidata", search_rank=0)
        else:
            if infos is None:
                infos = self.image_info([title], source="wikidata")
            image = infos.get(title)
        rest = [c for c in found if c.title != title]
        return ([image] if image is not None else []) + rest

    def _imageinfo_params(self) -> dict[str, str]:
        return {
            "prop": "imageinfo",
            "iiprop": "url|size|mime|sha1|extmetadata",
            "iiurlwidth": str(self.thumb_width),
            "iiextmetadatafilter": "Artist|Credit|LicenseShortName|LicenseUrl|AttributionRequired",
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
            error = payload.get("error") if isinstance(payload, dict) else None
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

    @staticmethod
    def _backoff(state: RetryCallState) -> float:
        return http.BACKOFF(state)

    @staticmethod
    def _log_retry(state: RetryCallState) -> None:
        http.log_retry(state)
