"""Where a curator's label teaches most: the queue's default order after open reports.

A label moves the ranking most where the current head is least sure of its choice:
- the top two candidates score close together (a label on either decides the POI);
- the winner sits near the threshold (a label decides whether the POI has an image);
- the prior and the adapted head (or a trained head awaiting review) pick different images.

``informativeness`` weighs these on a POI's candidate scores (pure, used by the queue and
by ``bench/bench_curator_loop.py`` alike); ``asks`` reads the scores from the database for
many POIs at once. Each POI gets a reason a curator can read: "two candidates within 0.15".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

# Scores are on 0-10. A gap of CLOSE between the top two is "close" (weight 1/e).
CLOSE = 0.5
# A winner this far from the threshold is "near" it (weight 1/e).
NEAR = 0.5
# Weights of the three signals; disagreement between two heads is the strongest hint.
WEIGHTS = {"close": 1.0, "threshold": 0.6, "disagree": 1.5}


@dataclass(frozen=True)
class Ask:
    """How much a label on this POI would teach (higher first) and why, in words."""

    poi_id: Any
    value: float
    reason: str


def informativeness(
    scores: Sequence[float], threshold: float, other: Sequence[float] | None = None
) -> tuple[float, str]:
    """(value, reason) for a POI from its eligible candidates' scores under the current
    head, and optionally the same candidates' scores under a second head (``other``)."""
    if not scores:
        return 0.0, ""
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    top = scores[order[0]]
    signals: dict[str, tuple[float, str]] = {}
    if len(scores) >= 2:
        gap = top - scores[order[1]]
        signals["close"] = (math.exp(-gap / CLOSE), f"two candidates within {gap:.2f}")
    distance = abs(top - threshold)
    side = "above" if top >= threshold else "below"
    signals["threshold"] = (
        math.exp(-distance / NEAR),
        f"the best scores {distance:.2f} {side} the threshold",
    )
    if other is not None and len(other) == len(scores) and len(scores) >= 2:
        theirs = max(range(len(other)), key=lambda i: other[i])
        if theirs != order[0]:
            signals["disagree"] = (1.0, "the prior and the adapted head pick different images")
    value = sum(WEIGHTS[name] * weight for name, (weight, _why) in signals.items())
    strongest = max(signals, key=lambda name: WEIGHTS[name] * signals[name][0])
    return round(value, 4), signals[strongest][1]


def asks(poi_ids: Iterable[Any] | Any, threshold: float | None = None) -> dict[Any, Ask]:
    """``Ask`` per POI from the scores stored on its candidates (the current scorer's) and
    the pending previews of a trained head (it would pick another image: they disagree)."""
    from image_ranking.conf import conf
    from image_ranking.models import HeadChange, ImageCandidate

    # A queryset stays a subquery: one query for the scores, one for the previews.
    ids = poi_ids if hasattr(poi_ids, "query") else list(poi_ids)
    threshold = conf.SCORE_THRESHOLD if threshold is None else threshold
    by_poi: dict[Any, list[float]] = {}
    rows = ImageCandidate.objects.filter(poi_id__in=ids, drop="", score__isnull=False).values_list(
        "poi_id", "score"
    )
    for poi_id, score in rows:
        by_poi.setdefault(poi_id, []).append(score)
    disagree = set(
        HeadChange.objects.filter(poi_id__in=ids, decision=HeadChange.Decision.PENDING).values_list(
            "poi_id", flat=True
        )
    )
    result = {}
    for poi_id in {*by_poi, *disagree}:
        value, reason = informativeness(by_poi.get(poi_id, []), threshold)
        if poi_id in disagree:
            value += WEIGHTS["disagree"]
            reason = "a newly trained head would pick another image"
        # Coarse steps: tiny differences between sure POIs must not reorder the queue
        # (the lowest current score then decides, as before).
        value = round(value, 1)
        if value > 0:
            result[poi_id] = Ask(poi_id, value, reason)
    return result


# POIs whose informativeness orders the queue; past them, the lowest score decides (a
# curator labels a few hundred a day, far fewer than this).
MAX_ANNOTATED = 1000


def annotate(queryset: Any) -> Any:
    """``queryset`` of POIs with ``ask`` (how much a label teaches; 0 when unknown)."""
    from django.db.models import Case, FloatField, Value, When

    found = asks(queryset.order_by().values("pk"))
    # Only the head of the queue is ever asked: the most informative POIs get their value,
    # one WHEN per value (they come in steps of 0.1), so the query stays small however
    # large the city (a WHEN per POI would send one parameter per POI).
    top = sorted(found.values(), key=lambda a: -a.value)[:MAX_ANNOTATED]
    by_value: dict[float, list[Any]] = {}
    for ask in top:
        by_value.setdefault(ask.value, []).append(ask.poi_id)
    whens = [When(pk__in=pks, then=Value(value)) for value, pks in by_value.items()]
    if not whens:
        return queryset.annotate(ask=Value(0.0, output_field=FloatField()))
    return queryset.annotate(ask=Case(*whens, default=Value(0.0), output_field=FloatField()))
