"""Rank a POI's Commons candidates by aesthetic score and store the best one.

Per POI: candidates (from the cache while fresh, else one Commons search plus the
Wikidata P18 image, batched across POIs) -> metadata filters (no download) -> the
thumbnails of the kept ones scored once per file (sha1) and scorer version -> the best
at or above the threshold stored from the very bytes that were scored (thumbnails are
fetched at a standard width >= 800, so there is no separate winner download and the
full original is never fetched). An unchanged winner costs nothing; no suitable image
opens one Validation for the POI and optionally applies a category fallback image.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter, OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from image_ranking.conf import conf
from image_ranking.exceptions import (
    CommonsError,
    DisallowedHostError,
    DownloadTooLargeError,
    ImageRankingError,
    ModelWeightsMissingError,
    TransientCommonsError,
    UnknownScorerError,
)
from image_ranking.models import ImageCandidate, RankingState, SelectedImage
from image_ranking.poi import get_poi_adapter
from image_ranking.services import validations
from image_ranking.services.storage import store_poi_image

logger = logging.getLogger(__name__)

Outcome = RankingState.Outcome

# Errors that make every further POI fail the same way: stop the run at once.
FATAL_ERRORS: tuple[type[BaseException], ...] = (ModelWeightsMissingError, UnknownScorerError)

# Wikidata's wbgetentities takes at most 50 ids per request.
MAX_PREFETCH = 50

# Scored thumbnails kept in memory for the run (by sha1), so an image shared by
# several POIs is never downloaded twice. About 150 KB each at 960 px.
BYTES_CACHE_SIZE = 64

# filtered_reason prefix for candidates dropped at scoring time (thumbnail trouble),
# as opposed to the client's metadata filters.
THUMBNAIL_REASON = "thumbnail"

FALLBACK_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".webp")


@dataclass
class RankResult:
    """What ranking did (or, in a dry run, would do) for one POI."""

    poi_id: Any
    poi_name: str
    outcome: str  # a RankingState.Outcome value
    message: str
    best_score: float | None = None
    chosen: ImageCandidate | None = None
    selected: SelectedImage | None = None
    candidate_count: int = 0
    kept_count: int = 0
    scored_count: int = 0
    requests: int = 0
    dry_run: bool = False

    @property
    def failed(self) -> bool:
        return self.outcome == Outcome.FAILED

    def as_dict(self) -> dict[str, Any]:
        return {
            "poi_id": self.poi_id,
            "poi_name": self.poi_name,
            "outcome": str(self.outcome),
            "message": self.message,
            "best_score": self.best_score,
            "chosen": self.chosen.title if self.chosen is not None else None,
            "requests": self.requests,
        }


def _default_client() -> Any:
    from image_ranking.services import wikimedia

    # Thumbnails at a standard width >= 800: the winner is stored from the scored bytes.
    return wikimedia.CommonsClient(thumb_width=conf.RANKING_THUMBNAIL_WIDTH)


def _default_scorer() -> Any:
    from image_ranking.services.scoring import get_scorer

    return get_scorer()


def candidate_order_key(candidate: ImageCandidate) -> tuple:
    """Search order: the Wikidata image first, then Commons search rank."""
    return (
        candidate.source != ImageCandidate.Source.WIKIDATA,
        candidate.search_rank if candidate.search_rank is not None else 10**6,
        candidate.title,
    )


def score_order_key(candidate: ImageCandidate) -> tuple:
    """Best first; unscored last; ties broken by search order."""
    return (candidate.score is None, -(candidate.score or 0.0), *candidate_order_key(candidate))


def _reason_key(reason: str) -> str:
    # "too small (320 px wide)" and "too small (400 px wide)" count as one reason.
    return reason.split(" (")[0].split(":")[0].strip() or reason


def _city_name(poi: Model) -> str:
    return get_poi_adapter().city_name(poi) or "no city"


class Ranker:
    """Ranking with the state one run shares: client, scorer, thumbnail bytes, prefetches.

    The module functions below are thin wrappers; the command keeps one Ranker for a
    whole run so that images shared by several POIs are scored and fetched once.
    """

    def __init__(
        self,
        *,
        client: Any = None,
        scorer: Any = None,
        threshold: float | None = None,
        fallback: bool | None = None,
        dry_run: bool = False,
        refresh: bool = False,
    ) -> None:
        self._client = client
        self._scorer = scorer
        self.threshold = conf.SCORE_THRESHOLD if threshold is None else float(threshold)
        self.fallback = conf.FALLBACK_ENABLED if fallback is None else bool(fallback)
        self.dry_run = dry_run
        self.refresh = refresh
        self._bytes: OrderedDict[str, bytes] = OrderedDict()
        self._prefetched: dict[Any, list[Any]] = {}  # dry run: fetched, not saved
        self._fetched_now: set[Any] = set()  # saved by this run: never fetch twice

    # -- collaborators, created lazily so that cached work needs neither ---------------

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = _default_client()
        return self._client

    @property
    def scorer(self) -> Any:
        if self._scorer is None:
            self._scorer = _default_scorer()
        return self._scorer

    def _request_count(self) -> int:
        return int(getattr(self._client, "request_count", 0) or 0) if self._client else 0

    # -- candidates --------------------------------------------------------------------

    def cache_is_fresh(self, poi: Model) -> bool:
        if poi.pk in self._fetched_now:
            return True
        if self.refresh:
            return False
        state = RankingState.objects.filter(poi=poi).first()
        if state is None or state.candidates_fetched_at is None:
            return False
        age = timezone.now() - state.candidates_fetched_at
        return age < timedelta(days=conf.CANDIDATE_CACHE_DAYS)

    def prefetch(self, pois: Sequence[Model]) -> None:
        """Fetch candidates for the POIs whose cache is stale, Wikidata look-ups batched.

        Results are saved at once (unless dry run), so an interruption wastes nothing.
        A batch failure is not fatal: those POIs are then fetched one by one.
        """
        stale = [poi for poi in pois if not self.cache_is_fresh(poi)]
        for start in range(0, len(stale), MAX_PREFETCH):
            chunk = stale[start : start + MAX_PREFETCH]
            try:
                fetched = self.client.fetch_candidates_for_pois(chunk, limit=conf.CANDIDATE_LIMIT)
            except CommonsError as exc:
                logger.warning("Batched candidate look-up failed (%s); fetching one by one", exc)
                continue
            by_pk = {poi.pk: poi for poi in chunk}
            for pk, candidates in fetched.items():
                if pk not in by_pk:
                    continue
                if self.dry_run:
                    self._prefetched[pk] = list(candidates)
                else:
                    self._save_fetched(by_pk[pk], candidates)

    def candidates(self, poi: Model) -> list[ImageCandidate]:
        """All the POI's candidates (filtered ones too), fetched or from the cache."""
        prefetched = self._prefetched.pop(poi.pk, None)
        if prefetched is not None:
            return self._save_fetched(poi, prefetched)
        if self.cache_is_fresh(poi) and not (self.dry_run and poi.pk in self._fetched_now):
            return list(ImageCandidate.objects.filter(poi=poi))
        fetched = self.client.fetch_candidates(
            poi, limit=conf.CANDIDATE_LIMIT, include_filtered=True
        )
        return self._save_fetched(poi, fetched)

    def _save_fetched(self, poi: Model, fetched: Iterable[Any]) -> list[ImageCandidate]:
        """Upsert Commons candidates by (poi, title); drop those Commons no longer lists."""
        existing = {c.title: c for c in ImageCandidate.objects.filter(poi=poi)}
        result: list[ImageCandidate] = []
        seen: set[str] = set()
        for cand in fetched:
            if cand.title in seen:  # the Wikidata image is often also a search result
                continue
            seen.add(cand.title)
            obj = existing.get(cand.title) or ImageCandidate(poi=poi, title=cand.title)
            if obj.pk and obj.sha1 != cand.sha1:
                # The file was re-uploaded: its old score says nothing about it.
                obj.score = None
                obj.scorer_name = obj.scorer_version = ""
                obj.scored_at = None
            keep_thumbnail_reason = (
                obj.pk
                and obj.filtered_reason.startswith(THUMBNAIL_REASON)
                and obj.sha1 == cand.sha1
                and obj.thumbnail_url == (cand.thumbnail_url or "")
            )
            obj.source = cand.source or ImageCandidate.Source.COMMONS
            obj.sha1 = cand.sha1 or ""
            obj.image_url = cand.image_url
            obj.thumbnail_url = cand.thumbnail_url or ""
            obj.thumbnail_width = cand.thumbnail_width
            obj.thumbnail_height = cand.thumbnail_height
            obj.page_url = cand.page_url or ""
            obj.width = cand.width
            obj.height = cand.height
            obj.mime = cand.mime or ""
            obj.author = cand.author or ""
            obj.license_name = cand.license_name or ""
            obj.license_url = cand.license_url or ""
            obj.attribution_required = cand.attribution_required
            obj.search_rank = cand.search_rank
            if cand.filtered_reason or not keep_thumbnail_reason:
                obj.filtered_reason = cand.filtered_reason or ""
            result.append(obj)
        self._fetched_now.add(poi.pk)
        if self.dry_run:
            return result
        now = timezone.now()
        with transaction.atomic():
            for obj in result:
                obj.save()
            stale = ImageCandidate.objects.filter(poi=poi).exclude(title__in=seen)
            selected_candidate = (
                SelectedImage.objects.filter(poi=poi).values_list("candidate_id", flat=True).first()
            )
            if selected_candidate:
                # Keep the stored image's provenance row even if Commons dropped it.
                stale = stale.exclude(pk=selected_candidate)
            stale.delete()
            RankingState.objects.update_or_create(poi=poi, defaults={"candidates_fetched_at": now})
        return result

    # -- scoring -----------------------------------------------------------------------

    def score(self, candidates: Sequence[ImageCandidate]) -> int:
        """Give every kept candidate a score from the current scorer; returns how many
        thumbnails were scored now (downloads are only for sha1s never scored before)."""
        kept = sorted((c for c in candidates if not c.filtered_reason), key=candidate_order_key)
        if not kept:
            return 0
        to_score = kept[: conf.SCORE_TOP_K or len(kept)]
        scorer = self.scorer
        name, version = scorer.name, scorer.version
        missing = [c for c in to_score if not c.score_is_current(name, version)]
        if not missing:
            return 0
        self._reuse_scores(missing, name, version)
        missing = [c for c in missing if not c.score_is_current(name, version)]

        # One download and one score per distinct file.
        by_key: dict[str, list[ImageCandidate]] = {}
        for cand in missing:
            by_key.setdefault(cand.sha1 or cand.title, []).append(cand)
        payloads: list[bytes] = []
        groups: list[list[ImageCandidate]] = []
        for key, group in by_key.items():
            cand = group[0]
            try:
                data = self._thumbnail_bytes(cand)
            except (DisallowedHostError, DownloadTooLargeError) as exc:
                self._mark_unusable(group, f"{THUMBNAIL_REASON} refused: {exc}")
                continue
            except TransientCommonsError:
                raise  # Commons is struggling: fail this POI, retry it later
            except CommonsError as exc:
                self._mark_unusable(group, f"{THUMBNAIL_REASON} unavailable: {exc}")
                continue
            payloads.append(data)
            groups.append(group)
            self._remember(key, data)
        if not payloads:
            return 0
        scores = scorer.score_images(payloads)
        now = timezone.now()
        for group, value in zip(groups, scores, strict=True):
            for cand in group:
                if value is None:
                    self._mark_unusable(
                        [cand], f"{THUMBNAIL_REASON} could not be decoded or scored"
                    )
                    continue
                cand.score = float(value)
                cand.scorer_name, cand.scorer_version, cand.scored_at = name, version, now
                self._save(cand, ["score", "scorer_name", "scorer_version", "scored_at"])
        return len(payloads)

    def _reuse_scores(self, missing: list[ImageCandidate], name: str, version: str) -> None:
        sha1s = {c.sha1 for c in missing if c.sha1}
        if not sha1s:
            return
        known = dict(
            ImageCandidate.objects.filter(
                sha1__in=sha1s, scorer_name=name, scorer_version=version, score__isnull=False
            ).values_list("sha1", "score")
        )
        now = timezone.now()
        for cand in missing:
            if cand.sha1 in known:
                cand.score = known[cand.sha1]
                cand.scorer_name, cand.scorer_version, cand.scored_at = name, version, now
                self._save(cand, ["score", "scorer_name", "scorer_version", "scored_at"])

    def _mark_unusable(self, group: Iterable[ImageCandidate], reason: str) -> None:
        for cand in group:
            logger.info("Candidate %s dropped: %s", cand.title, reason)
            cand.filtered_reason = reason[:200]
            self._save(cand, ["filtered_reason"])

    def _save(self, cand: ImageCandidate, fields: list[str]) -> None:
        if not self.dry_run and cand.pk:
            cand.save(update_fields=[*fields, "updated_at"])

    # -- bytes -------------------------------------------------------------------------

    def _remember(self, key: str, data: bytes) -> None:
        self._bytes[key] = data
        self._bytes.move_to_end(key)
        while len(self._bytes) > BYTES_CACHE_SIZE:
            self._bytes.popitem(last=False)

    def _thumbnail_bytes(self, cand: ImageCandidate) -> bytes:
        key = cand.sha1 or cand.title
        if key in self._bytes:
            self._bytes.move_to_end(key)
            return self._bytes[key]
        if not cand.thumbnail_url:
            raise CommonsError("Commons gave no thumbnail URL for this file")
        # Never the original: thumbnails come at a standard width >= the target.
        return self.client.download_image(cand.thumbnail_url, max_bytes=conf.MAX_DOWNLOAD_BYTES)

    def winner_bytes(self, cand: ImageCandidate) -> bytes:
        """The bytes to store for a candidate, fetching only when nothing local has them."""
        key = cand.sha1 or cand.title
        if key in self._bytes:
            return self._bytes[key]
        if cand.sha1:
            # Another POI may already show this very file: copy it, no request.
            other = (
                SelectedImage.objects.filter(sha1=cand.sha1)
                .exclude(chosen_by=SelectedImage.ChosenBy.FALLBACK)
                .exclude(file_name="")
                .first()
            )
            if other is not None:
                storage = get_poi_adapter().image(other.poi).storage
                try:
                    with storage.open(other.file_name, "rb") as handle:
                        return handle.read()
                except OSError:
                    pass
        data = self._thumbnail_bytes(cand)
        self._remember(key, data)
        return data

    # -- ranking -----------------------------------------------------------------------

    def rank(self, poi: Model) -> RankResult:
        """Rank one POI; Commons or storage trouble gives a FAILED result, not an exception.

        Errors in ``FATAL_ERRORS`` (no model weights, unknown scorer) propagate.
        """
        before = self._request_count()
        try:
            result = self._rank(poi)
        except FATAL_ERRORS:
            raise
        except Exception as exc:
            kind = "Commons" if isinstance(exc, CommonsError) else type(exc).__name__
            if not isinstance(exc, ImageRankingError):
                logger.exception("Unexpected error while ranking %s", poi)
            message = f"{kind} error: {exc}"
            logger.warning("Ranking %s failed: %s", poi, message)
            name = get_poi_adapter().name(poi) or str(poi)
            result = RankResult(poi.pk, name, Outcome.FAILED, message)
            self._record(poi, result)
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
            self._record(poi, result)
            return result

        candidates = self.candidates(poi)
        scored_now = self.score(candidates)
        kept = [c for c in candidates if not c.filtered_reason]
        scored = sorted((c for c in kept if c.score is not None), key=score_order_key)
        best = scored[0] if scored else None
        result = RankResult(
            poi.pk,
            name,
            Outcome.NO_IMAGE,
            "",
            best_score=best.score if best else None,
            candidate_count=len(candidates),
            kept_count=len(kept),
            scored_count=scored_now,
        )
        if best is not None and best.score >= self.threshold:
            self._apply_winner(poi, best, selected, result)
        else:
            self._apply_no_image(poi, candidates, kept, best, selected, result)
        self._record(poi, result)
        return result

    def _has_file(self, poi: Model) -> bool:
        field_file = get_poi_adapter().image(poi)
        if not field_file:
            return False
        try:
            return field_file.storage.exists(field_file.name)
        except OSError:
            return False

    def _apply_winner(
        self,
        poi: Model,
        best: ImageCandidate,
        selected: SelectedImage | None,
        result: RankResult,
    ) -> None:
        result.chosen = best
        same_file = (
            selected is not None
            and selected.chosen_by != SelectedImage.ChosenBy.FALLBACK
            and best.sha1
            and selected.sha1 == best.sha1
            and self._has_file(poi)
        )
        if same_file:
            result.outcome = Outcome.UNCHANGED
            result.message = f"Best image {best.title} ({best.score:.2f}) is already stored."
            result.selected = selected
            if not self.dry_run:
                # Refresh the score (new scorer version) and the candidate link; no download.
                SelectedImage.objects.filter(pk=selected.pk).update(
                    candidate=best if best.pk else None,
                    score=best.score,
                    scorer_name=best.scorer_name,
                    scorer_version=best.scorer_version,
                    updated_at=timezone.now(),
                )
                validations.resolve_no_image(poi)
            return
        result.outcome = Outcome.UPDATED
        if self.dry_run:
            result.message = f"Would store {best.title} ({best.score:.2f})."
            return
        data = self.winner_bytes(best)
        result.selected = store_poi_image(
            poi,
            data,
            chosen_by=SelectedImage.ChosenBy.RANKER,
            candidate=best,
            score=best.score,
            scorer_name=best.scorer_name,
            scorer_version=best.scorer_version,
        )
        result.message = f"Stored {best.title} ({best.score:.2f})."

    def no_image_reason(
        self,
        candidates: Sequence[ImageCandidate],
        kept: Sequence[ImageCandidate],
        best: ImageCandidate | None,
    ) -> str:
        if not candidates:
            return "Wikimedia Commons and Wikidata have no candidate images for it"
        if not kept:
            counts = Counter(_reason_key(c.filtered_reason) for c in candidates)
            detail = ", ".join(f"{n} {reason}" for reason, n in counts.most_common())
            return (
                f"all {len(candidates)} candidate images were filtered out before scoring "
                f"({detail})"
            )
        if best is None:
            return f"none of the {len(kept)} kept candidate images has a score yet"
        scored = sum(1 for c in kept if c.score is not None)
        return (
            f"all {scored} scored candidate images are below the threshold "
            f"{self.threshold:.1f}; the best, {best.title}, scores {best.score:.2f}"
        )

    def _apply_no_image(
        self,
        poi: Model,
        candidates: Sequence[ImageCandidate],
        kept: Sequence[ImageCandidate],
        best: ImageCandidate | None,
        selected: SelectedImage | None,
        result: RankResult,
    ) -> None:
        reason = self.no_image_reason(candidates, kept, best)
        is_fallback = selected is not None and selected.chosen_by == SelectedImage.ChosenBy.FALLBACK
        if self._has_file(poi) and not is_fallback:
            # Never take a real image away because nothing better was found.
            result.outcome = Outcome.UNCHANGED
            result.message = f"No better image ({reason}); kept the current one."
            return
        description = f"No suitable image for {result.poi_name} ({_city_name(poi)}): {reason}."
        result.outcome = Outcome.NO_IMAGE
        result.message = description
        if not self.dry_run:
            validations.report_no_image(poi, description)
        if self.fallback:
            self._apply_fallback(poi, selected, result)

    def _apply_fallback(
        self, poi: Model, selected: SelectedImage | None, result: RankResult
    ) -> None:
        adapter = get_poi_adapter()
        category = adapter.category(poi)
        storage = adapter.image(poi).storage
        folder = conf.FALLBACK_DIR.strip("/")
        found = None
        for extension in FALLBACK_EXTENSIONS:
            name = f"{folder}/{category}{extension}"
            if category and storage.exists(name):
                found = name
                break
        if found is None:
            result.message += (
                f" No fallback image for category {category or '(none)'!r} in {folder}/."
            )
            return
        with storage.open(found, "rb") as handle:
            data = handle.read()
        sha1 = hashlib.sha1(data, usedforsecurity=False).hexdigest()
        result.outcome = Outcome.FALLBACK
        if (
            selected is not None
            and selected.chosen_by == SelectedImage.ChosenBy.FALLBACK
            and selected.title == found
            and selected.sha1 == sha1
            and self._has_file(poi)
        ):
            result.message += f" Fallback {found} already in place."
            result.selected = selected
            return
        if self.dry_run:
            result.message += f" Would use the fallback image {found}."
            return
        result.selected = store_poi_image(
            poi,
            data,
            chosen_by=SelectedImage.ChosenBy.FALLBACK,
            source={"title": found, "sha1": sha1, "attribution_required": False},
        )
        result.message += f" Used the fallback image {found}."

    def _record(self, poi: Model, result: RankResult) -> None:
        if self.dry_run:
            return
        RankingState.objects.update_or_create(
            poi=poi,
            defaults={
                "ranked_at": timezone.now(),
                "outcome": result.outcome,
                "message": result.message[:2000],
            },
        )

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
        except FATAL_ERRORS:
            raise
        except Exception:
            # Each POI then fetches its own candidates and fails (or not) on its own.
            logger.exception("Could not prefetch candidates for a batch of %d POIs", len(batch))
        for poi in batch:
            yield self.rank(poi)


# -- public API ------------------------------------------------------------------------


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
    kept = [c for c in candidates if not c.filtered_reason]
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
    ranker = Ranker(client=client)
    selected = SelectedImage.objects.filter(poi=poi).first()
    if (
        selected is not None
        and candidate.sha1
        and selected.sha1 == candidate.sha1
        and selected.chosen_by != SelectedImage.ChosenBy.FALLBACK
        and ranker._has_file(poi)
    ):
        selected.chosen_by = chosen_by
        selected.candidate = candidate
        selected.save(update_fields=["chosen_by", "candidate", "updated_at"])
        validations.resolve_no_image(poi)
        return selected
    data = ranker.winner_bytes(candidate)
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


def rank_poi_images(
    poi: Model,
    *,
    threshold: float | None = None,
    fallback: bool | None = None,
    dry_run: bool = False,
    client: Any = None,
    scorer: Any = None,
) -> RankResult:
    """Rank one POI's candidates and store the best at or above ``threshold``.

    Returns a ``RankResult`` (outcome UPDATED, UNCHANGED, NO_IMAGE, FALLBACK or FAILED);
    Commons and storage errors give FAILED, only a missing model raises.
    """
    ranker = Ranker(
        client=client, scorer=scorer, threshold=threshold, fallback=fallback, dry_run=dry_run
    )
    return ranker.rank(poi)


def rank_pois(
    pois: Iterable[Model],
    *,
    threshold: float | None = None,
    fallback: bool | None = None,
    dry_run: bool = False,
    refresh: bool = False,
    batch_size: int | None = None,
    client: Any = None,
    scorer: Any = None,
) -> Iterator[RankResult]:
    """Rank many POIs, batching Wikidata look-ups; yields one ``RankResult`` per POI."""
    ranker = Ranker(
        client=client,
        scorer=scorer,
        threshold=threshold,
        fallback=fallback,
        dry_run=dry_run,
        refresh=refresh,
    )
    return ranker.rank_many(pois, batch_size=batch_size)
