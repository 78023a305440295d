"""Tiles: one image on the page (a POI's current image or a candidate) with its label.

A page of cards is built with a constant number of queries: the POIs come with their
``SelectedImage`` (select_related), and every label of the page's POIs is read at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Model
from django.http import HttpRequest

from image_ranking.models import ImageCandidate, ImageTrainingData, SelectedImage
from image_ranking.pipeline.relevance import DROPPED
from image_ranking.poi import get_poi_adapter

# Commons thumbnail widths the page asks for (standard widths Commons keeps rendered).
DISPLAY_WIDTHS = (330, 500, 960)
DISPLAY_WIDTH = 500
FULL_WIDTH = 1920
_THUMB_WIDTH = re.compile(r"/(\d+)px-([^/]+)$")
DROPPED_RELEVANCE = DROPPED


def thumb_at(thumbnail_url: str, width: int) -> str:
    """The Commons thumbnail URL at another width (Commons' URL layout), else ''. The
    query string Commons appends (``?utm_source=...``) is kept as it was."""
    path, mark, query = thumbnail_url.partition("?")
    if "/thumb/" not in path or not _THUMB_WIDTH.search(path):
        return ""
    return _THUMB_WIDTH.sub(lambda m: f"/{width}px-{m.group(2)}", path) + mark + query


def _http_only(url: str) -> str:
    # Commons text is data: a javascript: or data: "licence URL" must never become a link.
    return url if url.lower().startswith(("https://", "http://")) else ""


@dataclass
class Tile:
    """One image on the page: the current one or a candidate, with its label state."""

    poi: Model
    url: str  # the URL a label records (a Commons URL where there is one)
    src: str  # what the browser shows
    alt: str
    is_current: bool
    score: float | None = None
    width: int | None = None
    height: int | None = None
    title: str = ""
    author: str = ""
    license_name: str = ""
    license_url: str = ""
    page_url: str = ""
    candidate: ImageCandidate | None = None
    label: ImageTrainingData | None = None
    srcset: str = ""
    full: str = ""  # the enlarged view
    not_scored: str = ""  # why there is no score
    evidence: str = ""
    relevance: str = ""
    dropped_reason: str = ""
    version: str = ""  # the POI's image as this page shows it (views/stale.py)
    number: int = 0  # a candidate's number in the queue (its key, 1-9)
    tier: str = ""  # "Shows this POI (verified)" (views/explain.py)
    rank: str = ""  # "2nd of 5 scored here"
    why: str = ""  # on the current image: why it is the one shown

    @property
    def license_href(self) -> str:
        return _http_only(self.license_url)

    @property
    def page_href(self) -> str:
        return _http_only(self.page_url)

    @property
    def key(self) -> str:
        return f"{self.poi.pk}-{'current' if self.is_current else self.candidate.pk}"

    @property
    def portrait(self) -> bool:
        return bool(self.width and self.height and self.height > self.width)


def _media_url(request: HttpRequest, poi: Model) -> str:
    field_file = get_poi_adapter().image(poi)
    return request.build_absolute_uri(field_file.url) if field_file else ""


def selected_of(poi: Model) -> SelectedImage | None:
    try:
        return poi.selected_image  # select_related by the page's queryset
    except SelectedImage.DoesNotExist:
        return None


def current_tile(request: HttpRequest, poi: Model) -> Tile | None:
    field_file = get_poi_adapter().image(poi)
    if not field_file:
        return None
    name = get_poi_adapter().name(poi)
    tile = Tile(poi, _media_url(request, poi), field_file.url, f"{name}: current image", True)
    tile.full = field_file.url
    selected = selected_of(poi)
    if selected is None:
        tile.not_scored = "stored without a score (not chosen by a ranking run)"
        return tile
    tile.score = selected.score
    tile.title, tile.author = selected.title, selected.author
    tile.license_name, tile.license_url = selected.license_name, selected.license_url
    tile.page_url = selected.page_url
    # Label the Commons file, which train_ranker can fetch, not our resized copy.
    tile.url = selected.source_url or tile.url
    tile.candidate = selected.candidate
    if tile.candidate is not None:
        tile.width, tile.height = tile.candidate.width, tile.candidate.height
        _relevance(tile, tile.candidate)
        # Enlarged beside a candidate, from Commons at the same resolution as it (the
        # stored copy is only 800 px wide: an unfair comparison).
        tile.full = full_size(tile.candidate) or tile.full
    if tile.score is None:
        tile.not_scored = f"{selected.get_chosen_by_display().lower()}, not scored"
    return tile


def _relevance(tile: Tile, candidate: ImageCandidate) -> None:
    # The relevance fields come with issue 11's migration; absent before it.
    evidence = getattr(candidate, "evidence", None) or []
    # A dropped file's evidence is often its reason again: say it once ("Dropped: ...").
    lines = [str(e) for e in evidence if not tile.dropped_reason or str(e) != tile.dropped_reason]
    tile.evidence = " · ".join(lines)
    tile.relevance = getattr(candidate, "relevance", "") or ""


def candidate_tile(poi: Model, candidate: ImageCandidate, top_k: int = 0) -> Tile:
    tile = Tile(
        poi,
        candidate.image_url,
        candidate.thumbnail_url or candidate.image_url,
        candidate.title.removeprefix("File:"),
        False,
        score=candidate.score,
        width=candidate.width,
        height=candidate.height,
        title=candidate.title,
        author=candidate.author,
        license_name=candidate.license_name,
        license_url=candidate.license_url,
        page_url=candidate.page_url,
        candidate=candidate,
    )
    _display_sizes(tile, candidate)
    tile.dropped_reason = candidate.filtered_reason
    _relevance(tile, candidate)
    if tile.score is None:
        tile.not_scored = _not_scored(candidate, top_k)
    return tile


def _not_scored(candidate: ImageCandidate, top_k: int) -> str:
    """Why a candidate has no score, in a curator's words (no setting names)."""
    if candidate.drop:
        return "dropped before scoring"
    if top_k:
        return f"a ranking run scores only the {top_k} most promising candidates of a POI"
    return "not scored yet"


def _display_sizes(tile: Tile, candidate: ImageCandidate) -> None:
    """Ask Commons for the displayed size (330/500 px), not the 960 px the run scored."""
    widest = candidate.width or 10**6
    widths = [w for w in DISPLAY_WIDTHS if w < widest]
    urls = [(thumb_at(candidate.thumbnail_url, w), w) for w in widths]
    urls = [(u, w) for u, w in urls if u]
    if not urls:
        return
    tile.srcset = ", ".join(f"{u} {w}w" for u, w in urls)
    tile.src = next((u for u, w in urls if w == DISPLAY_WIDTH), urls[-1][0])
    tile.full = full_size(candidate)


def full_size(candidate: ImageCandidate) -> str:
    """The file for the enlarged view: a 1920 px thumbnail, or the original if smaller."""
    widest = candidate.width or 10**6
    big = thumb_at(candidate.thumbnail_url, FULL_WIDTH) if widest > FULL_WIDTH else ""
    return big or candidate.image_url


def attach_labels(tiles: Iterable[Tile], labels: Sequence[ImageTrainingData] | None = None):
    """Each tile's latest label (when curators change their mind, the latest counts).

    ``labels`` are the page's labels read at once (newest first); without them, one
    query for the tiles' POIs.
    """
    tiles = [t for t in tiles if t is not None]
    if labels is None:
        labels = list(
            ImageTrainingData.objects.filter(
                poi__in={t.poi.pk for t in tiles}, image_url__in={t.url for t in tiles}
            )
        )
    latest: dict[tuple[Any, str], ImageTrainingData] = {}
    for label in labels:
        latest.setdefault((label.poi_id, label.image_url), label)  # ordered newest first
    for tile in tiles:
        tile.label = latest.get((tile.poi.pk, tile.url))
    return tiles


def known_image(request: HttpRequest, poi: Model, url: str) -> Tile | None:
    """The tile for ``url`` if it is the POI's current image or one of its candidates."""
    current = current_tile(request, poi)
    if current is not None and url in {current.url, _media_url(request, poi)}:
        return current
    for candidate in ImageCandidate.objects.filter(poi=poi):
        if url in {candidate.image_url, candidate.thumbnail_url}:
            return candidate_tile(poi, candidate)
    return None


@dataclass
class Card:
    """One POI's card: its current image, and its alternatives once fetched."""

    poi: Model
    name: str
    meta: str
    current: Tile | None
    alternatives: list[Tile] | None = None
    dropped: list[Tile] = field(default_factory=list)
    alternatives_error: str = ""
    card_error: str = ""
    report: str = ""  # the open "no suitable image" Validation, if any
    version: str = ""  # the POI's image as this page shows it (views/stale.py)
    offer: Any = None  # a refused or failed action, offered again (stale.Offer)

    @property
    def tiles(self) -> list[Tile]:
        return [t for t in [self.current, *(self.alternatives or [])] if t is not None]
