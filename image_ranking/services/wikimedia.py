"""Wikimedia Commons and Wikidata client (contract; implemented in the Commons-client issue)."""

from __future__ import annotations

from dataclasses import dataclass


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
