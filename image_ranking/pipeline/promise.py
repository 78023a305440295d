"""Which thumbnails to download first, and when the rest cannot matter (issue 24).

Every thumbnail is a request, and at 500 requests an hour most of them are scored only to
lose. What the search answer already says orders them: relevance tier first (a verified
file wins over any unknown one), then the Wikidata image (editors chose it for the item),
Commons' own assessments (Featured, Quality, Valued), use in wiki articles (globalusage in
the same request), a resolution that leaves room to crop, a landscape shape that fits the
guide's 4:3 frame, then search rank.

Downloads stop once the best file scored so far cannot be beaten by the rest by more than
``MARGIN``: no file of the POI can score above what this scorer has ever given
(``Ceiling``, the 99th percentile of the scores the app has kept, as rows are data), so a
best file within ``MARGIN`` of that ceiling is as good as the rest can be, give or take
``MARGIN``. The rule says so in one line (``stop_line``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from image_ranking.models import ImageCandidate
from image_ranking.pipeline.decide import candidate_order_key, tier
from image_ranking.pipeline.relevance import ASSESSMENT_FACTORS, TIERS

# Score points a file left undownloaded may beat the chosen one by. Measured with the
# benches' --margin (first-run requests vs the seed design / mean pick percentile; without
# the rule: Paris 0.59x / 0.981, namesakes 0.60x / 0.95): Paris 0.5: 0.57x / 0.981,
# 1: 0.55x / 0.965, 2: 0.49x / 0.932, 5: 0.41x / 0.833; namesakes 0.5 and 1: 0.54x / 0.95
# (with shared category searches), 2: 0.50x / 0.95, 5: 0.38x / 0.87. The largest margin
# that keeps the picks.
MARGIN = 0.5
# The ceiling is the 99th percentile of the scorer's kept scores (one outlier does not
# make every POI download everything); fewer scores than this: the scale's top.
MIN_SCORES = 30
PERCENTILE = 0.99
SCALE_TOP = 10.0
# Guide images are 800x600: a photo below this many megapixels leaves no room to crop.
GOOD_MEGAPIXELS = 2.0
GUIDE_ASPECT = 4 / 3


def promise_key(candidate: ImageCandidate) -> tuple:
    """Most promising first: tier, Wikidata image, assessment, article use, size, shape,
    search rank."""
    width, height = candidate.width or 0, candidate.height or 0
    megapixels = width * height / 1e6
    aspect = width / height if width and height else GUIDE_ASPECT
    assessed = max((ASSESSMENT_FACTORS.get(a, 0.0) for a in candidate.assessments or ()), default=0)
    return (
        TIERS.index(tier(candidate)),
        candidate.source != ImageCandidate.Source.WIKIDATA,
        -assessed,
        not candidate.article_uses,  # in a Wikipedia article: editors chose it
        megapixels < GOOD_MEGAPIXELS,
        round(abs(math.log(aspect / GUIDE_ASPECT)), 1),  # 4:3 and 3:2 before portraits
        *candidate_order_key(candidate),
    )


def promise_order(candidates: Sequence[ImageCandidate]) -> list[ImageCandidate]:
    return sorted(candidates, key=promise_key)


@dataclass(frozen=True)
class Ceiling:
    """The highest score this scorer gives, as far as the kept scores tell."""

    value: float
    scores: int  # how many kept scores it comes from (0: the scale's top)

    def reached(self, best: float | None) -> bool:
        """Whether no other file can beat ``best`` by more than ``MARGIN``."""
        return best is not None and best >= self.value - MARGIN

    def text(self) -> str:
        if not self.scores:
            return f"the top of the scale, {self.value:g}"
        return f"{self.value:.2f}, the 99th percentile of {self.scores} scores kept"


def ceiling(scores: Sequence[float]) -> Ceiling:
    """The ceiling from kept scores (any order)."""
    if len(scores) < MIN_SCORES:
        return Ceiling(SCALE_TOP, 0)
    ordered = sorted(scores)
    index = min(len(ordered) - 1, math.ceil(PERCENTILE * len(ordered)) - 1)
    return Ceiling(ordered[index], len(ordered))


def kept_scores(scorer_name: str, scorer_version: str, limit: int = 1000) -> list[float]:
    """The newest scores this scorer version gave (one query, bounded)."""
    rows = ImageCandidate.objects.filter(
        scorer_name=scorer_name, scorer_version=scorer_version, score__isnull=False
    ).order_by("-scored_at")
    return list(rows.values_list("score", flat=True)[:limit])


def stop_line(best: Any, left: int, limit: Ceiling) -> str:
    """Why the other files were not downloaded, in one line."""
    return (
        f"{left} less promising file{'s' if left != 1 else ''} not downloaded: "
        f"{best.title} scores {best.score:.2f}, and no file scores above {limit.text()} "
        f"(at most {MARGIN:g} better)"
    )
