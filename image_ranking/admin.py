from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils import timezone

from image_ranking.models import (
    HeadChange,
    ImageCandidate,
    ImageTrainingData,
    LearnedHead,
    RankingLease,
    RankingRun,
    RankingState,
    RateLimitBucket,
    SelectedImage,
)
from image_ranking.poi import get_poi_adapter


class PoiSearchAdmin(admin.ModelAdmin):
    """Lists rows with their POI. Searches by the POI's name through
    ``IMAGE_RANKING_POI_FIELDS`` (the host's name field may be called anything), then by
    ``more_search_fields``."""

    more_search_fields: tuple[str, ...] = ()
    related: tuple[str, ...] = ()  # other relations the list shows

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        return [f"poi__{get_poi_adapter().path('name')}", *self.more_search_fields]

    def get_list_select_related(self, request: HttpRequest) -> list[str]:
        # The POI comes with the relations its name shows (a host's __str__ usually names
        # its city): a page of 100 rows is one query, not 101.
        paths = [f"poi__{path}" for path in get_poi_adapter().related_paths()]
        return [*self.related, *(paths or ["poi"])]


@admin.register(ImageTrainingData)
class ImageTrainingDataAdmin(PoiSearchAdmin):
    list_display = [
        "created_at",
        "poi",
        "image_label",
        "aesthetic_score",
        "labelled_by",
        "image_url",
    ]
    list_filter = ["image_label", "created_at"]
    more_search_fields = ("image_url",)
    related = ("labelled_by",)
    raw_id_fields = ["poi"]
    date_hierarchy = "created_at"


@admin.register(ImageCandidate)
class ImageCandidateAdmin(PoiSearchAdmin):
    list_display = [
        "title",
        "poi",
        "source",
        "search_rank",
        "score",
        "scorer_name",
        "filtered_reason",
        "license_name",
    ]
    # Not license_name: its choices are a DISTINCT over every candidate (100,000 rows in
    # a 10,000-POI city).
    list_filter = ["source", "drop", "scorer_name"]
    more_search_fields = ("title", "author", "sha1")
    raw_id_fields = ["poi"]


@admin.register(SelectedImage)
class SelectedImageAdmin(PoiSearchAdmin):
    list_display = ["poi", "title", "chosen_by", "score", "author", "license_name", "updated_at"]
    list_filter = ["chosen_by", "license_name"]
    more_search_fields = ("title", "author")
    raw_id_fields = ["poi", "candidate"]


@admin.register(RankingState)
class RankingStateAdmin(PoiSearchAdmin):
    list_display = ["poi", "outcome", "ranked_at", "candidates_fetched_at"]
    list_filter = ["outcome"]
    more_search_fields = ("message",)
    raw_id_fields = ["poi"]


@admin.register(RateLimitBucket)
class RateLimitBucketAdmin(admin.ModelAdmin):
    list_display = ["name", "tokens", "updated_at", "blocked_until"]


class ReadOnlyAdmin(admin.ModelAdmin):
    """Written only by ranking runs: a hand edit (a run marked finished, a lease freed)
    would make a worker resume wrongly or two workers rank the same POI."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(RankingRun)
class RankingRunAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "status",
        "started_at",
        "finished_at",
        "total_count",
        "outcomes",
        "heartbeat_at",
        "owner",
    ]
    list_filter = ["status"]
    search_fields = ["owner", "message"]
    date_hierarchy = "started_at"

    @admin.display(description="outcomes")
    def outcomes(self, run: RankingRun) -> str:
        counts = run.counts if isinstance(run.counts, dict) else {}
        return ", ".join(f"{name} {count}" for name, count in sorted(counts.items()))


@admin.register(RankingLease)
class RankingLeaseAdmin(PoiSearchAdmin, ReadOnlyAdmin):
    list_display = ["poi", "run", "expires_at", "held"]
    related = ("run",)

    @admin.display(boolean=True, description="held now")
    def held(self, lease: RankingLease) -> bool:
        return lease.expires_at > timezone.now()


@admin.register(LearnedHead)
class LearnedHeadAdmin(ReadOnlyAdmin):
    """Heads are activated and rolled back on the review page's Heads view (or
    ``manage.py heads``), which keep one active and the way back: no hand edits."""

    list_display = ["pk", "state", "created_at", "label_count", "cv", "prior_cv", "summary"]
    list_filter = ["state"]


@admin.register(HeadChange)
class HeadChangeAdmin(ReadOnlyAdmin):
    list_display = ["head", "poi", "old_title", "new_candidate", "new_score", "decision"]
    list_filter = ["decision", "head"]
    list_select_related = ["head", "poi", "new_candidate"]
