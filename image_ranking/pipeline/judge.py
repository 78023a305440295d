"""Judge stage: record on each candidate row whether it shows the POI, and why.

Runs when candidates are fetched (the Wikidata item is at hand then); the verdict and
evidence are saved with the row, so cached candidates keep theirs. Dropped files
(namesakes elsewhere, plans and maps) get a ``drop`` code and are never scored.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from image_ranking.drops import PIXEL_VERDICTS
from image_ranking.models import ImageCandidate
from image_ranking.pipeline.relevance import NOT_A_PHOTO, Judgement, judge
from image_ranking.poi import PoiInfo


def apply(row: ImageCandidate, judgement: Judgement) -> None:
    """Write a judgement onto a row (not saved); a metadata filter reason wins, and the
    pixels' verdict (kept while the file is unchanged) stands."""
    if row.drop in PIXEL_VERDICTS:
        row.relevance = NOT_A_PHOTO
        row.evidence = [row.filtered_reason]
        return
    row.relevance = judgement.verdict
    row.evidence = list(judgement.evidence)
    if judgement.dropped and not row.drop:
        row.mark_dropped(judgement.drop, judgement.detail)


def judge_rows(rows: Iterable[ImageCandidate], poi: PoiInfo, item: Any) -> None:
    """Judge every row for ``poi`` with its Wikidata item (or None)."""
    for row in rows:
        apply(row, judge(row, poi, item))
