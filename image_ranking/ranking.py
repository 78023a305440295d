"""Rank a POI's Commons candidates and store the best one: the public entry points.

The work is done by the stages in ``image_ranking.pipeline`` (gather -> judge
-> score -> decide -> store, see its docstring); this module keeps the names the
command, the review page and the run service import.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Model
from django.utils import timezone

from image_ranking import validations
from image_ranking.media.storage import store_poi_image
from image_ranking.models import ImageCandidate, RankingState, SelectedImage
from image_ranking.pipeline.decide import candidate_order_key, score_order_key
from image_ranking.pipeline.ranker import FATAL_ERRORS, Ranker
from image_ranking.pipeline.result import Outcome, RankResult
from image_ranking.pipeline.store import shows_same_file

__all__ = [
    "FATAL_ERRORS",
    "Outcome",
    "RankResult",
    "Ranker",
    "candidate_order_key",
    "choose_candidate",
    "get_candidates",
    "score_order_key",
]


def get_candidates(
    poi: Model,
    *,
    refresh: bool = False,
    score: bool = True,
    client: Any = None,
    scorer: Any = None,
) -> list[ImageCandidate]:
    """The POI's kept (not filtered out) candidates, best score first.

    From the cache while it is fresh (``IMAGE_RANKING_CANDIDATE_CACHE_DAYS``), else
    fetched from Commons and Wikidata and saved, filtered ones included so they are not
    examined again. With ``score``, thumbnails are scored only where no score from the
    current scorer (name and version) exists yet.
    """
    ranker = Ranker(client=client, scorer=scorer, refresh=refresh)
    candidates = ranker.candidates(poi)
    if score:
        ranker.score(candidates)
    kept = [c for c in candidates if not c.drop]
    return sorted(kept, key=score_order_key)


def choose_candidate(
    poi: Model,
    candidate: ImageCandidate,
    *,
    chosen_by: str = SelectedImage.ChosenBy.CURATOR,
    client: Any = None,
) -> SelectedImage:
    """Store ``candidate`` as the POI's image (e.g. a curator's pick on the review page).

    Choosing the file already shown only records who chose it: no download.
    """
    if candidate.poi_id != poi.pk:
        raise ValueError(f"Candidate {candidate.pk} belongs to another POI, not {poi.pk}.")
    selected = SelectedImage.objects.filter(poi=poi).first()
    if selected is not None and shows_same_file(poi, selected, candidate.sha1):
        selected.chosen_by = chosen_by
        selected.candidate = candidate
        selected.save(update_fields=["chosen_by", "candidate", "updated_at"])
        validations.resolve_no_image(poi)
        return selected
    data = Ranker(client=client).winner_bytes(candidate)
    selected = store_poi_image(
        poi,
        data,
        chosen_by=chosen_by,
        candidate=candidate,
        score=candidate.score,
        scorer_name=candidate.scorer_name,
        scorer_version=candidate.scorer_version,
    )
    RankingState.objects.update_or_create(
        poi=poi,
        defaults={
            "ranked_at": timezone.now(),
            "outcome": Outcome.UPDATED,
            "message": f"{candidate.title} chosen by {chosen_by}.",
        },
    )
    return selected
