from __future__ import annotations

from django.contrib import admin

from image_ranking.models import (
    ImageCandidate,
    ImageTrainingData,
    RankingState,
    RateLimitBucket,
    SelectedImage,
)


@admin.register(ImageTrainingData)
class ImageTrainingDataAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "poi",
        "image_label",
        "aesthetic_score",
        "labelled_by",
        "image_url",
    ]
    list_filter = ["image_label", "created_at"]
    search_fields = ["poi__name", "image_url"]
    list_select_related = ["poi", "labelled_by"]
    raw_id_fields = ["poi"]
    date_hierarchy = "created_at"


@admin.register(ImageCandidate)
class ImageCandidateAdmin(admin.ModelAdmin):
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
    list_filter = ["source", "scorer_name", "license_name"]
    search_fields = ["title", "poi__name", "author", "sha1"]
    list_select_related = ["poi"]
    raw_id_fields = ["poi"]


@admin.register(SelectedImage)
class SelectedImageAdmin(admin.ModelAdmin):
    list_display = ["poi", "title", "chosen_by", "score", "author", "license_name", "updated_at"]
    list_filter = ["chosen_by", "license_name"]
    search_fields = ["poi__name", "title", "author"]
    list_select_related = ["poi"]
    raw_id_fields = ["poi", "candidate"]


@admin.register(RankingState)
class RankingStateAdmin(admin.ModelAdmin):
    list_display = ["poi", "outcome", "ranked_at", "candidates_fetched_at"]
    list_filter = ["outcome"]
    search_fields = ["poi__name", "message"]
    raw_id_fields = ["poi"]


@admin.register(RateLimitBucket)
class RateLimitBucketAdmin(admin.ModelAdmin):
    list_display = ["name", "tokens", "updated_at", "blocked_until"]
