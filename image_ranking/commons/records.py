"""What the Commons client returns: candidate files, Wikidata items, a POI's gathering.

Plain records with no behaviour beyond rendering a drop's sentence, so the search plans,
the relevance judge and tests can use them without the HTTP client.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from image_ranking.drops import sentence


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
    drop: str = ""  # a ``Drop`` code: dropped before scoring; "" if kept
    drop_detail: dict[str, Any] = field(default_factory=dict, hash=False)  # what it names
    # Relevance evidence from extmetadata (no extra request):
    categories: tuple[str, ...] = ()  # without "Category:", e.g. "Clock Tower (Graz)"
    assessments: tuple[str, ...] = ()  # "featured", "quality", "valued", "poty"...
    latitude: float | None = None  # the file's geotag (GPSLatitude/GPSLongitude)
    longitude: float | None = None
    description: str = ""  # ImageDescription, plain text
    object_name: str = ""  # ObjectName, plain text
    # How it was found: "wikidata" (P18), "depicts", "category", "geo", "name".
    found_by: tuple[str, ...] = ()

    @property
    def filtered_reason(self) -> str:
        """Why it is dropped, as a sentence ("" if kept)."""
        return sentence(self.drop, self.drop_detail)


@dataclass(frozen=True)
class WikidataItem:
    """What Wikidata says about a POI's item (``wbgetentities``)."""

    qid: str
    image: str | None = None  # P18 as "File:..." title
    commons_category: str | None = None  # P373, without "Category:"
    coordinates: tuple[float, float] | None = None  # P625 (lat, lon)
    commonswiki: str | None = None  # sitelink title on Commons ("Category:..." or a gallery)
    labels: dict[str, str] = field(default_factory=dict)  # language -> label


@dataclass
class Gathered:
    """A POI's Wikidata item and candidates (filtered ones included, P18 first)."""

    item: WikidataItem | None
    candidates: list[Candidate]
