"""Store stage: write the decision down (the winner's file, the Validation, the fallback,
the POI's RankingState). A real image is never taken away because nothing better was found.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable

from django.db.models import Model
from django.utils import timezone

from image_ranking import validations
from image_ranking.conf import conf
from image_ranking.media.storage import store_poi_image
from image_ranking.models import ImageCandidate, LearnedHead, RankingState, SelectedImage
from image_ranking.pipeline.result import Outcome, RankResult
from image_ranking.poi import get_poi_adapter

FALLBACK_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".webp")


def has_file(poi: Model) -> bool:
    """True if the POI's image field names a file that exists."""
    field_file = get_poi_adapter().image(poi)
    if not field_file:
        return False
    try:
        return field_file.storage.exists(field_file.name)
    except OSError:
        return False


def taken_files(poi: Model, sha1s: Iterable[str]) -> frozenset[str]:
    """Of ``sha1s``, the files another POI of the same city shows (one photo, one POI).

    Without a city role every POI counts as one city. Fallback images do not count.
    """
    wanted = {s for s in sha1s if s}
    if not wanted:
        return frozenset()
    rows = (
        SelectedImage.objects.filter(sha1__in=wanted)
        .exclude(poi=poi)
        .exclude(chosen_by=SelectedImage.ChosenBy.FALLBACK)
    )
    adapter = get_poi_adapter()
    path = adapter.path("city")
    if path:
        city = adapter.city(poi)
        lookup = {f"poi__{path}": city} if city is not None else {f"poi__{path}__isnull": True}
        rows = rows.filter(**lookup)
    return frozenset(rows.values_list("sha1", flat=True))


def shows_same_file(poi: Model, selected: SelectedImage | None, sha1: str) -> bool:
    """True if the POI already shows this very file (not as a fallback)."""
    return bool(
        selected is not None
        and selected.chosen_by != SelectedImage.ChosenBy.FALLBACK
        and sha1
        and selected.sha1 == sha1
        and has_file(poi)
    )


class Storer:
    """Applies decisions; in a dry run it only says what it would do."""

    def __init__(self, *, dry_run: bool, fallback: bool) -> None:
        self.dry_run = dry_run
        self.fallback = fallback

    def store_winner(
        self,
        poi: Model,
        best: ImageCandidate,
        selected: SelectedImage | None,
        result: RankResult,
        winner_bytes: Callable[[ImageCandidate], bytes],
    ) -> None:
        result.chosen = best
        if shows_same_file(poi, selected, best.sha1):
            assert selected is not None
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
                    head=LearnedHead.for_scorer(best.scorer_name, best.scorer_version),
                    updated_at=timezone.now(),
                )
                validations.resolve_no_image(poi)
            return
        result.outcome = Outcome.UPDATED
        if self.dry_run:
            result.message = f"Would store {best.title} ({best.score:.2f})."
            return
        result.selected = store_poi_image(
            poi,
            winner_bytes(best),
            chosen_by=SelectedImage.ChosenBy.RANKER,
            candidate=best,
            score=best.score,
            scorer_name=best.scorer_name,
            scorer_version=best.scorer_version,
        )
        result.message = f"Stored {best.title} ({best.score:.2f})."

    def keep_current(self, result: RankResult, why: str) -> None:
        result.outcome = Outcome.UNCHANGED
        result.message = f"No better image ({why}); kept the current one."

    def store_nothing(
        self,
        poi: Model,
        selected: SelectedImage | None,
        result: RankResult,
        reason: str,
        doubt: str = "",
    ) -> None:
        """No candidate passes: keep a real image, else report (and maybe fall back).

        ``doubt``: why the kept image seems not to show the POI (e.g. a namesake); it is
        kept, as nothing better exists, but reported so that a curator can look.
        """
        is_fallback = selected is not None and selected.chosen_by == SelectedImage.ChosenBy.FALLBACK
        city = get_poi_adapter().city_name(poi) or "no city"
        if has_file(poi) and not is_fallback:
            self.keep_current(result, reason)
            if doubt and not self.dry_run:
                validations.report_no_image(
                    poi,
                    f"The image of {result.poi_name} ({city}) seems not to show it ({doubt}) "
                    f"and no photo replaces it: {reason}.",
                )
            return
        description = f"No suitable image for {result.poi_name} ({city}): {reason}."
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
        names = [f"{folder}/{category}{ext}" for ext in FALLBACK_EXTENSIONS] if category else []
        found = next((name for name in names if storage.exists(name)), None)
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
            and has_file(poi)
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

    def record(self, poi: Model, result: RankResult) -> None:
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
