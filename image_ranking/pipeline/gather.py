"""Gather stage: a POI's candidates, from the cache while fresh, else from Commons.

The client's ``gather`` (one strategy per POI: Wikidata item and category, coordinates,
or name only) returns the candidates and the POI's Wikidata item; the judge stage reads
both, then the rows are saved at once (upserted by POI and title, the ones Commons no
longer lists deleted), so an interrupted run wastes nothing; a dry run keeps them in
memory. Wikidata look-ups are batched across POIs by ``prefetch``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from image_ranking.commons.http import allowed_hosts
from image_ranking.conf import conf
from image_ranking.drops import SCORING_TIME, Drop
from image_ranking.exceptions import CommonsError, CommonsUnreachableError
from image_ranking.models import ImageCandidate, RankingState, SelectedImage
from image_ranking.pipeline import judge
from image_ranking.poi import PoiInfo, get_poi_adapter

logger = logging.getLogger(__name__)

# Wikidata's wbgetentities takes at most 50 ids per request.
MAX_PREFETCH = 50


# Earlier versions wrote a refused download host onto the candidate for good
# (``Drop.HOST_REFUSED``). It is a configuration problem: released once the host is allowed.
def refused_for_configuration(row: Any) -> bool:
    """Whether ``row`` was written off only because its thumbnail host was not allowed,
    and that host is allowed now."""
    if row.drop != Drop.HOST_REFUSED:
        return False
    return (urlsplit(row.thumbnail_url or "").hostname or "") in allowed_hosts()


def _gather_many(client: Any, pois: Sequence[Model]) -> dict[Any, tuple[Any, list[Any]]]:
    """{pk: (Wikidata item, candidates)} for a batch (``CommonsClient.gather``)."""
    infos = [get_poi_adapter().info(poi) for poi in pois]
    found = client.gather(infos, limit=conf.CANDIDATE_LIMIT)
    return {pk: (g.item, list(g.candidates)) for pk, g in found.items()}


def _gather_one(client: Any, poi: Model) -> tuple[Any, list[Any]]:
    found = client.gather_one(get_poi_adapter().info(poi), limit=conf.CANDIDATE_LIMIT)
    return found.item, list(found.candidates)


class CandidateCache:
    """Candidates per POI for one run; ``client`` is a callable so it is made lazily."""

    def __init__(
        self, client: Callable[[], Any], *, dry_run: bool, refresh: bool, cached_only: bool = False
    ) -> None:
        self._client = client
        self.dry_run = dry_run
        self.refresh = refresh
        # Previews of a new head (learning/preview.py) decide over the cache, however old.
        self.cached_only = cached_only
        self._prefetched: dict[Any, tuple[Any, list[Any]]] = {}  # dry run: not saved
        self._fetched_now: set[Any] = set()  # saved by this run: never fetch twice

    def is_fresh(self, poi: Model) -> bool:
        if poi.pk in self._fetched_now or self.cached_only:
            return True
        if self.refresh:
            return False
        state = RankingState.objects.filter(poi=poi).first()
        if state is None or state.candidates_fetched_at is None:
            return False
        age = timezone.now() - state.candidates_fetched_at
        if age >= timedelta(days=conf.CANDIDATE_CACHE_DAYS):
            return False
        # Rows cached before relevance was judged lack the metadata to judge them: fetch.
        return not ImageCandidate.objects.filter(poi=poi, relevance="").exists()

    def prefetch(self, pois: Sequence[Model]) -> None:
        """Fetch candidates for the POIs whose cache is stale, Wikidata look-ups batched.

        A batch failure is not fatal: those POIs are then fetched one by one.
        """
        stale = [poi for poi in pois if not self.is_fresh(poi)]
        for start in range(0, len(stale), MAX_PREFETCH):
            chunk = stale[start : start + MAX_PREFETCH]
            try:
                fetched = _gather_many(self._client(), chunk)
            except CommonsUnreachableError:
                raise  # no network: every POI would fail the same way
            except CommonsError as exc:
                logger.warning("Batched candidate look-up failed (%s); fetching one by one", exc)
                continue
            by_pk = {poi.pk: poi for poi in chunk}
            for pk, (item, candidates) in fetched.items():
                if pk not in by_pk:
                    continue
                if self.dry_run:
                    self._prefetched[pk] = (item, candidates)
                else:
                    self.save(by_pk[pk], candidates, item)

    def candidates(self, poi: Model) -> list[ImageCandidate]:
        """All the POI's candidates (filtered ones too), fetched or from the cache."""
        prefetched = self._prefetched.pop(poi.pk, None)
        if prefetched is not None:
            return self.save(poi, prefetched[1], prefetched[0])
        if self.is_fresh(poi) and not (self.dry_run and poi.pk in self._fetched_now):
            rows = list(ImageCandidate.objects.filter(poi=poi))
            self._release_refused(rows)
            return rows
        item, fetched = _gather_one(self._client(), poi)
        return self.save(poi, fetched, item)

    def _release_refused(self, rows: list[ImageCandidate]) -> None:
        """Rows written off for a download host that the settings now allow: tried again."""
        for row in rows:
            if refused_for_configuration(row):
                row.drop, row.drop_detail = "", {}
                if not self.dry_run:
                    row.save(update_fields=["drop", "drop_detail", "updated_at"])

    def save(self, poi: Model, fetched: Iterable[Any], item: Any = None) -> list[ImageCandidate]:
        """Upsert Commons candidates by (poi, title), judged against the POI and its
        Wikidata item; drop those Commons no longer lists."""
        existing = {c.title: c for c in ImageCandidate.objects.filter(poi=poi)}
        result: list[ImageCandidate] = []
        seen: set[str] = set()
        for cand in fetched:
            if cand.title in seen:  # the Wikidata image is often also a search result
                continue
            seen.add(cand.title)
            obj = existing.get(cand.title) or ImageCandidate(poi=poi, title=cand.title)
            update_candidate(obj, cand, clear_retries=self.refresh)
            result.append(obj)
        info: PoiInfo = get_poi_adapter().info(poi)
        judge.judge_rows(result, info, item)
        self._fetched_now.add(poi.pk)
        if not self.dry_run:
            _persist(poi, result, seen)
        return result


def update_candidate(obj: ImageCandidate, cand: Any, *, clear_retries: bool = False) -> None:
    """Copy a client ``Candidate`` onto its row; a re-uploaded file loses its old score.

    Scoring-time reasons stay while the file is unchanged, except transient thumbnail
    marks when ``clear_retries`` (``--refresh``).
    """
    if obj.pk and obj.sha1 != cand.sha1:
        obj.score = None
        obj.scorer_name = obj.scorer_version = ""
        obj.scored_at = None
    same_file = obj.sha1 == cand.sha1 and obj.thumbnail_url == (cand.thumbnail_url or "")
    retry = obj.drop == Drop.THUMBNAIL_RETRY
    keep_thumbnail_reason = (
        obj.pk
        and obj.drop in SCORING_TIME
        and same_file
        and not (retry and clear_retries)
        and not refused_for_configuration(obj)
    )
    if not keep_thumbnail_reason:
        obj.thumbnail_failures = 0
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
    obj.categories = list(getattr(cand, "categories", ()) or ())
    obj.assessments = list(getattr(cand, "assessments", ()) or ())
    obj.latitude = getattr(cand, "latitude", None)
    obj.longitude = getattr(cand, "longitude", None)
    obj.description = getattr(cand, "description", "") or ""
    obj.object_name = (getattr(cand, "object_name", "") or "")[:500]
    obj.found_by = list(getattr(cand, "found_by", ()) or ())
    if cand.drop or not keep_thumbnail_reason:
        obj.mark_dropped(cand.drop, cand.drop_detail)
    obj.article_uses = int(getattr(cand, "article_uses", 0) or 0)


def _persist(poi: Model, rows: list[ImageCandidate], seen: set[str]) -> None:
    with transaction.atomic():
        for obj in rows:
            obj.save()
        stale = ImageCandidate.objects.filter(poi=poi).exclude(title__in=seen)
        selected_candidate = (
            SelectedImage.objects.filter(poi=poi).values_list("candidate_id", flat=True).first()
        )
        if selected_candidate:
            # Keep the stored image's provenance row even if Commons dropped it.
            stale = stale.exclude(pk=selected_candidate)
        stale.delete()
        RankingState.objects.update_or_create(
            poi=poi, defaults={"candidates_fetched_at": timezone.now()}
        )
