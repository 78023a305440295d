"""Why a candidate was dropped before scoring or not scored: a code and its details.

A row keeps the code (``ImageCandidate.drop``, one of ``Drop``) and the few values its
sentence names (``drop_detail``, e.g. ``{"width": 320, "min_width": 640}``); the human
sentence shown to curators and in Validations is rendered here, from them, and nowhere
else. Code branches on the code, never on the sentence.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.db import models

# Runs a 404/HTML/truncated thumbnail is tried on before it is given up (until --refresh).
MAX_THUMBNAIL_FAILURES = 3


class Drop(models.TextChoices):
    """The reasons; the label is the short form counted in "all 3 were filtered out (...)"."""

    # Metadata filters of the Commons client (``commons.client.filter_reason``).
    NOT_RASTER = "not_raster", "not a raster photo"
    TITLE_NOT_PHOTO = "title_not_photo", "title marks a map, plan, logo, flag or diagram"
    CATEGORY_NOT_PHOTO = "category_not_photo", "category marks a map, plan, logo, flag or drawing"
    TOO_SMALL = "too_small", "too small"
    ASPECT_RATIO = "aspect_ratio", "extreme aspect ratio"
    NO_THUMBNAIL = "no_thumbnail", "no thumbnail URL"
    # The relevance judge (``pipeline.relevance``).
    NOT_A_PHOTO_CATEGORY = "not_a_photo_category", "not a photo"
    NOT_A_PHOTO_TITLE = "not_a_photo_title", "not a photo"
    ELSEWHERE_CATEGORY = "elsewhere_category", "elsewhere"
    ELSEWHERE_DISTANCE = "elsewhere_distance", "elsewhere"
    ELSEWHERE_DESCRIPTION = "elsewhere_description", "elsewhere"
    # Scoring time (``pipeline.score``): kept while the file is unchanged.
    THUMBNAIL_REFUSED = "thumbnail_refused", "thumbnail refused"
    # Its host was not in IMAGE_RANKING_DOWNLOAD_HOSTS: written by earlier versions only
    # (a refused host now stops the run); released once the host is allowed.
    HOST_REFUSED = "host_refused", "thumbnail refused"
    THUMBNAIL_UNSCORABLE = "thumbnail_unscorable", "thumbnail could not be decoded or scored"
    THUMBNAIL_RETRY = "thumbnail_retry", "thumbnail retry"
    PIXELS_NOT_PHOTO = "pixels_not_photo", "not a photo (pixels)"
    CLIP_NOT_PHOTO = "clip_not_photo", "not a photo (CLIP)"
    # A sentence stored before codes existed that matched none of them (migration 0006).
    OTHER = "other", "other"


# Set when the thumbnail is downloaded and looked at, not from metadata: such a mark stays
# while the file is unchanged (a re-fetch from Commons does not clear it).
SCORING_TIME = frozenset(
    {
        Drop.THUMBNAIL_REFUSED,
        Drop.HOST_REFUSED,
        Drop.THUMBNAIL_UNSCORABLE,
        Drop.THUMBNAIL_RETRY,
        Drop.PIXELS_NOT_PHOTO,
        Drop.CLIP_NOT_PHOTO,
    }
)
# The pixels (or CLIP) saw no photo: that verdict stands over the metadata's.
PIXEL_VERDICTS = frozenset({Drop.PIXELS_NOT_PHOTO, Drop.CLIP_NOT_PHOTO})


def format_distance(metres: float) -> str:
    """'80 m away', '1.2 km away', '900 km away'."""
    if metres < 1000:
        return f"{metres:.0f} m away"
    return f"{metres / 1000:.1f} km away" if metres < 10_000 else f"{metres / 1000:.0f} km away"


def _retry(detail: Mapping[str, Any], failures: int) -> str:
    until = " (given up until --refresh)" if failures >= MAX_THUMBNAIL_FAILURES else ""
    return f"thumbnail retry {failures}/{MAX_THUMBNAIL_FAILURES}{until}: {detail['error']}"


_SENTENCES: dict[str, Callable[[Mapping[str, Any], int], str]] = {
    Drop.NOT_RASTER: lambda d, _: f"not a raster photo ({d['mime'] or 'unknown type'})",
    Drop.TITLE_NOT_PHOTO: lambda d, _: (
        f"title marks a map, plan, logo, flag or diagram ({d['word']!r})"
    ),
    Drop.CATEGORY_NOT_PHOTO: lambda d, _: (
        f"category marks a map, plan, logo, flag or drawing (Category:{d['category']})"
    ),
    Drop.TOO_SMALL: lambda d, _: f"too small ({d['width']} px wide, under {d['min_width']})",
    Drop.ASPECT_RATIO: lambda d, _: f"extreme aspect ratio ({d['ratio']:.1f}:1)",
    Drop.NO_THUMBNAIL: lambda d, _: "no thumbnail URL",
    Drop.NOT_A_PHOTO_CATEGORY: lambda d, _: f"not a photo: Category:{d['category']}",
    Drop.NOT_A_PHOTO_TITLE: lambda d, _: f"not a photo: {d['word']!r} in the title",
    Drop.ELSEWHERE_CATEGORY: lambda d, _: f"elsewhere: Category:{d['category']}",
    Drop.ELSEWHERE_DISTANCE: lambda d, _: f"elsewhere: {format_distance(d['metres'])}",
    Drop.ELSEWHERE_DESCRIPTION: lambda d, _: f"elsewhere: described as in {d['place']}",
    Drop.THUMBNAIL_REFUSED: lambda d, _: f"thumbnail refused: {d['error']}",
    Drop.HOST_REFUSED: lambda d, _: f"thumbnail refused: {d['error']}",
    Drop.THUMBNAIL_UNSCORABLE: lambda d, _: "thumbnail could not be decoded or scored",
    Drop.THUMBNAIL_RETRY: _retry,
    Drop.PIXELS_NOT_PHOTO: lambda d, _: (
        f"not a photo (pixels): {d['background']:.0%} blank background, "
        f"{d['colours']} colours (a plan, map, logo or diagram)"
    ),
    Drop.CLIP_NOT_PHOTO: lambda d, _: (
        f"not a photo (CLIP): looks like {d['label']} ({d['share']:.2f})"
    ),
    Drop.OTHER: lambda d, _: str(d.get("text", "")),
}


def sentence(drop: str, detail: Mapping[str, Any] | None = None, failures: int = 0) -> str:
    """The human sentence for a drop code and its details ("" when not dropped).

    ``failures``: the row's ``thumbnail_failures``, which a retry sentence counts.
    """
    if not drop:
        return ""
    return _SENTENCES[drop](detail or {}, failures)


def short(drop: str) -> str:
    """The short form counted in summaries: "too small", "elsewhere"."""
    return Drop(drop).label if drop else ""
