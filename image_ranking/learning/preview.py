"""Preview a head before it decides anything, then apply exactly what was previewed.

``plan`` re-decides POIs with a head as a dry run of the ranking pipeline (same gather,
score and decide stages as ``rank_poi_images``): candidates come from the cache,
thumbnails from the thumbnail cache and embeddings from the embedding cache, so a POI
whose candidates are cached costs no Commons request. By default the client is offline:
a thumbnail that is not cached leaves its candidate out (and a POI whose current image
cannot be re-scored keeps it), it never spends budget. ``apply`` stores each planned
winner from the same bytes; ``record``/``accept``/``reject`` keep the plan as
``HeadChange`` rows for the review page (rejecting is a "bad" label on the new image).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from image_ranking.exceptions import CommonsError, ImageRankingError
from image_ranking.media.storage import store_poi_image
from image_ranking.models import (
    HeadChange,
    ImageCandidate,
    ImageTrainingData,
    LearnedHead,
    RankingState,
    SelectedImage,
)
from image_ranking.pipeline.ranker import Ranker
from image_ranking.pipeline.result import Outcome
from image_ranking.poi import get_poi_adapter

logger = logging.getLogger(__name__)

Decision = HeadChange.Decision


class OfflineClient:
    """A Commons client that never sends a request: what is not cached is not there."""

    request_count = 0

    def download_image(self, url: str, max_bytes: int | None = None) -> bytes:
        raise CommonsError(f"not cached ({url}); a preview never downloads")

    def gather(self, infos: Any, limit: int | None = None) -> Any:
        raise CommonsError("candidates not cached; a preview never searches")

    def gather_one(self, info: Any, limit: int | None = None) -> Any:
        raise CommonsError("candidates not cached; a preview never searches")


@dataclass
class Change:
    """A POI whose image the head would change."""

    poi: Model
    new: ImageCandidate  # carries the head's score (in memory only)
    old_sha1: str = ""
    old_title: str = ""
    old_score: float | None = None  # under the scorer that chose it
    old_new_score: float | None = None  # the current image under the head

    @property
    def new_score(self) -> float | None:
        return self.new.score


@dataclass
class Plan:
    head: LearnedHead
    changes: list[Change] = field(default_factory=list)
    unchanged: int = 0
    skipped: list[tuple[Any, str]] = field(default_factory=list)  # (POI pk, why)
    requests: int = 0

    @property
    def poi_ids(self) -> set[Any]:
        return {change.poi.pk for change in self.changes}


def head_scorer(head: LearnedHead) -> Any:
    from image_ranking.scoring.learned import LearnedScorer

    return LearnedScorer(head_path=head.file_path)


def cached_pois(pois: Iterable[Model]) -> list[Model]:
    """The POIs whose candidates were fetched at least once (whatever their age)."""
    pois = list(pois)
    fetched = set(
        RankingState.objects.filter(
            poi__in=[p.pk for p in pois], candidates_fetched_at__isnull=False
        ).values_list("poi_id", flat=True)
    )
    return [poi for poi in pois if poi.pk in fetched]


class Planner:
    """Dry runs of the pipeline with ``head``'s scorer; keeps the bytes it read for apply."""

    def __init__(self, head: LearnedHead, client: Any = None, scorer: Any = None) -> None:
        self.head = head
        self.scorer = scorer or head_scorer(head)
        self.client = client or OfflineClient()
        # cached_only: never search again because candidates grew old.
        self.ranker = Ranker(client=self.client, scorer=self.scorer, dry_run=True, cached_only=True)

    def plan(self, pois: Iterable[Model]) -> Plan:
        result = Plan(self.head)
        before = int(getattr(self.client, "request_count", 0) or 0)
        pois = list(pois)
        cached = {poi.pk for poi in cached_pois(pois)}
        for poi in pois:
            if poi.pk not in cached:
                result.skipped.append((poi.pk, "candidates never fetched"))
                continue
            change, why = self._one(poi)
            if change is not None:
                result.changes.append(change)
            elif why:
                result.skipped.append((poi.pk, why))
            else:
                result.unchanged += 1
        result.requests = int(getattr(self.client, "request_count", 0) or 0) - before
        return result

    def _one(self, poi: Model) -> tuple[Change | None, str]:
        ranked = self.ranker.rank(poi)
        if ranked.failed:
            return None, ranked.message
        if ranked.outcome != Outcome.UPDATED or ranked.chosen is None:
            return None, ""
        selected = SelectedImage.objects.filter(poi=poi).first()
        change = Change(poi=poi, new=ranked.chosen)
        if selected is not None:
            change.old_sha1, change.old_title = selected.sha1, selected.title
            change.old_score = selected.score
            change.old_new_score = self._score_of(poi, selected.sha1)
        return change, ""

    def _score_of(self, poi: Model, sha1: str) -> float | None:
        """The head's score of the POI's current image (None if it cannot be read here)."""
        current = ImageCandidate.objects.filter(poi=poi, sha1=sha1).first() if sha1 else None
        if current is None:
            return None
        try:
            data = self.ranker.scoring.thumbnail_bytes(current)
        except ImageRankingError:
            return None
        return self.scorer.score_images([data])[0]

    def apply(self, change: Change) -> SelectedImage:
        """Store the planned winner (bytes from this run, the cache or another POI's copy)."""
        data = self.ranker.winner_bytes(change.new)
        return store_poi_image(
            change.poi,
            data,
            chosen_by=SelectedImage.ChosenBy.RANKER,
            candidate=change.new,
            score=change.new.score,
            scorer_name=self.scorer.name,
            scorer_version=self.head.version,
            head=self.head,
        )


def plan(head: LearnedHead, pois: Iterable[Model], client: Any = None) -> Plan:
    """The POIs whose winner ``head`` would change, with old and new image and scores."""
    return Planner(head, client).plan(pois)


def apply(head: LearnedHead, pois: Iterable[Model], *, client: Any = None) -> Plan:
    """Re-decide ``pois`` with ``head`` and store every change the plan lists."""
    planner = Planner(head, client)
    result = planner.plan(pois)
    for change in result.changes:
        planner.apply(change)
    return result


# ------------------------------------------------------------------ review (HeadChange)


def record(result: Plan) -> list[HeadChange]:
    """Keep a plan for review: one pending row per change; rows of POIs that no longer
    change are marked stale (a curator cannot accept what the head would not do)."""
    rows = []
    changed = result.poi_ids
    with transaction.atomic():
        HeadChange.objects.filter(head=result.head, decision=Decision.PENDING).exclude(
            poi__in=changed
        ).update(decision=Decision.STALE, decided_at=timezone.now())
        for change in result.changes:
            row, _ = HeadChange.objects.update_or_create(
                head=result.head,
                poi=change.poi,
                defaults={
                    "old_sha1": change.old_sha1,
                    "old_title": change.old_title,
                    "old_score": change.old_score,
                    "old_new_score": change.old_new_score,
                    "new_candidate": change.new if change.new.pk else None,
                    "new_score": change.new_score,
                    "decision": Decision.PENDING,
                    "decided_by": None,
                    "decided_at": None,
                },
            )
            rows.append(row)
    return rows


def _decide(row: HeadChange, decision: str, user: Any, now: dt.datetime | None) -> None:
    row.decision, row.decided_by, row.decided_at = decision, user, now or timezone.now()
    row.save(update_fields=["decision", "decided_by", "decided_at"])


def accept(
    row: HeadChange, *, user: Any = None, client: Any = None, now: dt.datetime | None = None
) -> str:
    """Apply one previewed change; '' when applied, else why not (the row is then stale)."""
    if row.decision != Decision.PENDING:
        return f"This change was already {row.get_decision_display().lower()}."
    planner = Planner(row.head, client)
    poi = type(row.poi)._default_manager.get(pk=row.poi_id)
    result = planner.plan([poi])
    change = result.changes[0] if result.changes else None
    if change is None or change.new.pk != row.new_candidate_id or change.old_sha1 != row.old_sha1:
        _decide(row, Decision.STALE, user, now)
        return "The POI's image or candidates changed since the preview; preview again."
    planner.apply(change)
    _decide(row, Decision.ACCEPTED, user, now)
    return ""


def reject(row: HeadChange, *, user: Any = None, now: dt.datetime | None = None) -> None:
    """Keep the current image; the new one gets a "bad" label (the next head learns it)."""
    if row.decision != Decision.PENDING:
        return
    new = row.new_candidate
    if new is not None:
        ImageTrainingData.objects.create(
            poi_id=row.poi_id,
            image_url=new.image_url,
            thumbnail_url=new.thumbnail_url or None,
            image_label=ImageTrainingData.Label.BAD,
            aesthetic_score=row.new_score,
            labelled_by=user,
        )
    _decide(row, Decision.REJECTED, user, now)


def pending(head: LearnedHead | None = None) -> Sequence[HeadChange]:
    rows = HeadChange.objects.filter(decision=Decision.PENDING).select_related(
        "head", "new_candidate", "poi"
    )
    return list(rows.filter(head=head) if head is not None else rows)


def poi_label(poi: Model) -> str:
    return get_poi_adapter().name(poi) or str(poi)
