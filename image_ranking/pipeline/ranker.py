"""``Ranker``: runs the stages for one POI (``rank``) and for batches (``rank_many``),
with the state a run shares: client, scorer, thumbnail bytes, prefetched candidates."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from django.db.models import Model

from image_ranking.commons.clients import build_commons_client
from image_ranking.conf import conf
from image_ranking.exceptions import (
    CommonsError,
    CommonsUnreachableError,
    HostNotAllowedError,
    ImageRankingError,
    ModelWeightsMissingError,
    UnknownScorerError,
)
from image_ranking.models import ImageCandidate, SelectedImage
from image_ranking.pipeline.decide import decide, no_image_reason, why_keep_current
from image_ranking.pipeline.gather import CandidateCache
from image_ranking.pipeline.relevance import DROPPED
from image_ranking.pipeline.result import Outcome, RankResult
from image_ranking.pipeline.score import ThumbnailScorer
from image_ranking.pipeline.store import Storer, has_file, taken_files
from image_ranking.poi import get_poi_adapter

logger = logging.getLogger(__name__)

# Errors that make every further POI fail the same way: stop the run at once (a missing
# model, an unknown scorer, a download host the settings do not allow).
FATAL_ERRORS: tuple[type[BaseException], ...] = (
    ModelWeightsMissingError,
    UnknownScorerError,
    HostNotAllowedError,
)
# FATAL_ERRORS, and Wikimedia out of reach (an outage for the run: it stops at once too).
STOP_ERRORS: tuple[type[BaseException], ...] = (*FATAL_ERRORS, CommonsUnreachableError)


def _default_scorer() -> Any:
    from image_ranking.scoring import get_scorer

    return get_scorer()


def _doubt(candidates: Sequence[ImageCandidate], selected: SelectedImage | None) -> str:
    """Why the POI's current ranked image seems not to show it ("" if no reason to doubt)."""
    if selected is None or selected.chosen_by != SelectedImage.ChosenBy.RANKER:
        return ""
    current = next((c for c in candidates if selected.sha1 and c.sha1 == selected.sha1), None)
    if current is None or current.relevance not in DROPPED:
        return ""
    return f"{current.title}: {current.filtered_reason or current.relevance}"


def _city_key(poi: Model) -> Any:
    city = get_poi_adapter().city(poi)
    return getattr(city, "pk", city)


class Ranker:
    """Ranking with the state one run shares; the command keeps one for a whole run so
    that images shared by several POIs are scored and fetched once."""

    def __init__(
        self,
        *,
        client: Any = None,
        scorer: Any = None,
        threshold: float | None = None,
        fallback: bool | None = None,
        dry_run: bool = False,
        refresh: bool = False,
        cached_only: bool = False,
    ) -> None:
        self._client = client
        self._scorer = scorer
        self.threshold = conf.SCORE_THRESHOLD if threshold is None else float(threshold)
        self.fallback = conf.FALLBACK_ENABLED if fallback is None else bool(fallback)
        self.dry_run = dry_run
        self.refresh = refresh
        # Collaborators are created lazily, so that cached work needs neither.
        self.cache = CandidateCache(
            lambda: self.client, dry_run=dry_run, refresh=refresh, cached_only=cached_only
        )
        self.scoring = ThumbnailScorer(lambda: self.client, lambda: self.scorer, dry_run=dry_run)
        self.storer = Storer(dry_run=dry_run, fallback=self.fallback)
        # Files chosen in this run, by sha1: (city key, POI pk). A dry run stores nothing,
        # so one photo, one POI needs this memory to say what a real run would do.
        self._claimed: dict[str, tuple[Any, Any]] = {}

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = build_commons_client()
        return self._client

    @property
    def scorer(self) -> Any:
        if self._scorer is None:
            self._scorer = _default_scorer()
        return self._scorer

    def _request_count(self) -> int:
        return int(getattr(self._client, "request_count", 0) or 0) if self._client else 0

    # -- the stages, for callers that need one ------------------------------------------

    def prefetch(self, pois: Sequence[Model]) -> None:
        self.cache.prefetch(pois)

    def candidates(self, poi: Model) -> list[ImageCandidate]:
        return self.cache.candidates(poi)

    def score(self, candidates: Sequence[ImageCandidate], **options: Any) -> int:
        """The score stage (``ThumbnailScorer.score``: taken, threshold, place)."""
        return self.scoring.score(candidates, **options)

    def winner_bytes(self, cand: ImageCandidate) -> bytes:
        return self.scoring.winner_bytes(cand)

    # -- one POI -----------------------------------------------------------------------

    def rank(self, poi: Model) -> RankResult:
        """Rank one POI; Commons or storage trouble gives a FAILED result, not an exception.

        Errors in ``STOP_ERRORS`` (no model weights, unknown scorer, a download host not
        allowed, Wikimedia unreachable) propagate.
        """
        before = self._request_count()
        try:
            result = self._rank(poi)
        except STOP_ERRORS:
            raise
        except Exception as exc:
            kind = "Commons" if isinstance(exc, CommonsError) else type(exc).__name__
            if not isinstance(exc, ImageRankingError):
                logger.exception("Unexpected error while ranking %s", poi)
            message = f"{kind} error: {exc}"
            logger.warning("Ranking %s failed: %s", poi, message)
            name = get_poi_adapter().name(poi) or str(poi)
            result = RankResult(
                poi.pk, name, Outcome.FAILED, message, commons_failure=isinstance(exc, CommonsError)
            )
            self.storer.record(poi, result)
        result.requests = self._request_count() - before
        result.dry_run = self.dry_run
        return result

    def _rank(self, poi: Model) -> RankResult:
        name = get_poi_adapter().name(poi) or str(poi)
        selected = SelectedImage.objects.filter(poi=poi).first()
        if selected is not None and selected.chosen_by == SelectedImage.ChosenBy.CURATOR:
            result = RankResult(
                poi.pk, name, Outcome.UNCHANGED, "Kept the image a curator chose; not re-ranked."
            )
            self.storer.record(poi, result)
            return result

        candidates = self.candidates(poi)
        taken = self._taken(poi, candidates)
        place = (name, get_poi_adapter().city_name(poi))
        scored_now = self.score(candidates, taken=taken, threshold=self.threshold, place=place)
        decision = decide(candidates, self.threshold, taken)
        result = RankResult(
            poi.pk,
            name,
            Outcome.NO_IMAGE,
            "",
            best_score=decision.best.score if decision.best else None,
            candidate_count=len(candidates),
            kept_count=len(decision.kept),
            scored_count=scored_now,
        )
        keep_why = self._keep_why(poi, decision, selected)
        if keep_why:
            assert selected is not None
            result.chosen = next((c for c in candidates if c.sha1 == selected.sha1), None)
            self.storer.keep_current(result, keep_why)
        elif decision.winner is not None:
            self.storer.store_winner(poi, decision.winner, selected, result, self.winner_bytes)
        else:
            reason = no_image_reason(decision, self.threshold, name)
            self.storer.store_nothing(poi, selected, result, reason, _doubt(candidates, selected))
        if self.scoring.stopped:  # why some files were never downloaded, in one line
            result.message = f"{result.message} ({self.scoring.stopped})".strip()
        self.storer.record(poi, result)
        if result.chosen is not None and result.chosen.sha1:
            self._claimed[result.chosen.sha1] = (_city_key(poi), poi.pk)
        return result

    def _taken(self, poi: Model, candidates: Sequence[ImageCandidate]) -> frozenset[str]:
        """Files another POI of the city shows (stored, or chosen earlier in this run)."""
        sha1s = {c.sha1 for c in candidates if c.sha1}
        city = _city_key(poi)
        claimed = {
            sha1
            for sha1 in sha1s
            if sha1 in self._claimed
            and self._claimed[sha1][0] == city
            and self._claimed[sha1][1] != poi.pk
        }
        return taken_files(poi, sha1s) | claimed

    def _keep_why(self, poi: Model, decision: Any, selected: SelectedImage | None) -> str:
        """Why the current ranked image stays although another file won ("" if not)."""
        winner = decision.winner
        if winner is None or selected is None or selected.sha1 == winner.sha1:
            return ""
        if selected.chosen_by != SelectedImage.ChosenBy.RANKER or not has_file(poi):
            return ""
        return why_keep_current(decision, selected, (self.scorer.name, self.scorer.version))

    # -- many POIs ---------------------------------------------------------------------

    def rank_many(
        self, pois: Iterable[Model], *, batch_size: int | None = None
    ) -> Iterator[RankResult]:
        """Rank POIs in batches, one batched Wikidata look-up per batch; yields each result.

        Stop iterating to stop: the POI being ranked finishes first.
        """
        batch_size = max(1, batch_size or conf.BATCH_SIZE)
        batch: list[Model] = []
        for poi in pois:
            batch.append(poi)
            if len(batch) >= batch_size:
                yield from self._rank_batch(batch)
                batch = []
        if batch:
            yield from self._rank_batch(batch)

    def _rank_batch(self, batch: list[Model]) -> Iterator[RankResult]:
        try:
            self.prefetch(batch)
        except STOP_ERRORS:
            raise
        except Exception:
            # Each POI then fetches its own candidates and fails (or not) on its own.
            logger.exception("Could not prefetch candidates for a batch of %d POIs", len(batch))
        for poi in batch:
            yield self.rank(poi)
