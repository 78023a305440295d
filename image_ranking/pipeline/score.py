"""Score stage: the candidates that could win get a score from the current scorer.

Scores are reused by file (sha1) and scorer name and version; a thumbnail is downloaded
only for a file never scored by this scorer, once per run (an in-memory LRU by sha1),
and the winner is later stored from those very bytes. Downloaded thumbnails that are
plans, maps or logos (``photo_check``) are dropped before the scorer sees them.

Within a tier, thumbnails go in order of promise (``promise.py``: the Wikidata image,
assessed files, large landscape photos first) and stop once the best file scored so far
cannot be beaten by the rest by more than ``promise.MARGIN``.

Failures: a refused download (host, size) and content that decodes but cannot be scored
are permanent; a 404, an HTML page or a truncated body is marked for a retry
(``Drop.THUMBNAIL_RETRY``, "thumbnail retry n/3") and tried again on a later run
(``--refresh`` starts the count again); network errors and 5xx fail the POI
(``TransientCommonsError``), which is ranked again later.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.db.models import Model
from django.utils import timezone

from image_ranking.conf import conf
from image_ranking.drops import MAX_THUMBNAIL_FAILURES, Drop, sentence
from image_ranking.exceptions import (
    CommonsError,
    DisallowedHostError,
    DownloadTooLargeError,
    DownloadUnavailableError,
    HostNotAllowedError,
    ImageDecodeError,
    TransientCommonsError,
    TruncatedDownloadError,
)
from image_ranking.media.images import open_image
from image_ranking.media.thumbnails import ThumbnailCache
from image_ranking.models import ImageCandidate, SelectedImage
from image_ranking.pipeline import clip_check, promise
from image_ranking.pipeline.decide import scoring_order, tier
from image_ranking.pipeline.photo_check import check_image
from image_ranking.pipeline.relevance import NOT_A_PHOTO, TIERS
from image_ranking.poi import get_poi_adapter

logger = logging.getLogger(__name__)

# Scored thumbnails kept in memory for the run (by sha1), so an image shared by
# several POIs is never downloaded twice. About 150 KB each at 960 px.
BYTES_CACHE_SIZE = 64

SCORE_FIELDS = ["score", "scorer_name", "scorer_version", "scored_at"]
# Details are short: an error message is cut to this many characters.
MAX_ERROR_CHARS = 200
# POIs between two readings of the scorer's ceiling (one query): it moves as scores come.
CEILING_EVERY = 10


class ThumbnailScorer:
    """Scores candidates' thumbnails; ``client`` and ``scorer`` are lazy callables."""

    def __init__(
        self, client: Callable[[], Any], scorer: Callable[[], Any], *, dry_run: bool
    ) -> None:
        self._client = client
        self._scorer = scorer
        self.dry_run = dry_run
        self._bytes: OrderedDict[str, bytes] = OrderedDict()
        self._attempted: set[str] = set()  # thumbnails that failed in this run
        self._ceiling: promise.Ceiling | None = None
        self._calls = 0
        self.stopped = ""  # the last POI's stop line ("" if everything was downloaded)
        self._disk = ThumbnailCache()  # across runs: a new head re-scores without requests

    def retry_due(self, cand: ImageCandidate) -> bool:
        """A transient thumbnail failure from an earlier run, still within the bound."""
        return (
            cand.drop == Drop.THUMBNAIL_RETRY
            and cand.thumbnail_failures < MAX_THUMBNAIL_FAILURES
            and (cand.sha1 or cand.title) not in self._attempted
        )

    def score(
        self,
        candidates: Sequence[ImageCandidate],
        *,
        taken: frozenset[str] = frozenset(),
        threshold: float | None = None,
        place: tuple[str, str] = ("", ""),
    ) -> int:
        """Score the first ``SCORE_TOP_K`` candidates that could win (most relevant first,
        see ``decide.scoring_order``) lacking a current score; returns how many thumbnails
        were scored now.

        ``taken``: sha1s another POI of the city shows; they keep their place in the top
        K (so the files scored do not change when another POI takes one) but are not
        scored. With ``threshold``, tiers are scored in order and the next tier only when
        none of this one passes: a verified winner needs no unknown file's thumbnail.
        ``place``: the POI's name and city, for the optional CLIP check.
        """
        usable = [c for c in candidates if not c.drop or self.retry_due(c)]
        ordered = scoring_order(usable)
        # The top K in search order, as before (the files that may win do not change);
        # within them, the most promising is downloaded first.
        budget = promise.promise_order(
            [
                c
                for c in ordered[: conf.SCORE_TOP_K or len(ordered)]
                if c.sha1 not in taken or not c.sha1
            ]
        )
        scored, self.stopped = 0, ""
        self._calls += 1
        for level in TIERS:
            group = [c for c in budget if tier(c) == level]
            scored += self._score_group(group, place, threshold)
            if threshold is not None and any(
                c.score is not None and c.score >= threshold and not c.drop for c in group
            ):
                break
        return scored

    def _score_group(
        self, to_score: list[ImageCandidate], place: tuple[str, str], threshold: float | None
    ) -> int:
        if not to_score:
            return 0
        scorer = self._scorer()
        name, version = scorer.name, scorer.version
        missing = [c for c in to_score if not c.score_is_current(name, version)]
        if not missing:
            return 0
        self._reuse_scores(missing, name, version)
        missing = [c for c in missing if not c.score_is_current(name, version)]
        if threshold is None:  # the review page: every alternative gets its score
            return self._score_now(missing, scorer, place)
        limit = self.ceiling(name, version)
        scored = 0
        for n, cand in enumerate(missing):  # in order of promise, one download at a time
            best = _best(to_score, name, version)
            if best is not None and best.score >= threshold and limit.reached(best.score):
                self.stopped = promise.stop_line(best, len(missing) - n, limit)
                logger.info("%s", self.stopped)
                break
            scored += self._score_now([cand], scorer, place)
        return scored

    def ceiling(self, name: str, version: str) -> promise.Ceiling:
        """The scorer's ceiling, read again every ``CEILING_EVERY`` POIs."""
        if self._ceiling is None or self._calls % CEILING_EVERY == 0:
            self._ceiling = promise.ceiling(promise.kept_scores(name, version))
        return self._ceiling

    def _score_now(self, missing: list[ImageCandidate], scorer: Any, place: tuple[str, str]) -> int:
        """Download, check and score ``missing`` now; returns how many were scored."""
        if not missing:
            return 0
        name, version = scorer.name, scorer.version
        groups, payloads, images = self._download(missing)
        if conf.RELEVANCE_CLIP_CHECK and payloads:
            groups, payloads = self._clip_filter(scorer, groups, payloads, images, place)
        if not payloads:
            return 0
        scores = scorer.score_images(payloads)
        now = timezone.now()
        for group, value in zip(groups, scores, strict=True):
            for cand in group:
                if value is None:
                    self._mark_unusable([cand], Drop.THUMBNAIL_UNSCORABLE)
                    continue
                cand.score = float(value)
                cand.scorer_name, cand.scorer_version, cand.scored_at = name, version, now
                fields = list(SCORE_FIELDS)
                if cand.drop == Drop.THUMBNAIL_RETRY:
                    cand.thumbnail_failures = 0
                    fields += [*cand.mark_dropped(""), "thumbnail_failures"]
                self._save(cand, fields)
        return len(payloads)

    def _download(
        self, missing: list[ImageCandidate]
    ) -> tuple[list[list[ImageCandidate]], list[bytes], list[Any]]:
        """One download per distinct file; refused, missing, undecodable and line-art
        thumbnails are marked and left out."""
        by_key: dict[str, list[ImageCandidate]] = {}
        for cand in missing:
            by_key.setdefault(cand.sha1 or cand.title, []).append(cand)
        payloads: list[bytes] = []
        groups: list[list[ImageCandidate]] = []
        images: list[Any] = []
        for key, group in by_key.items():
            try:
                data = self.thumbnail_bytes(group[0])
            except HostNotAllowedError:
                raise  # the settings' fault, not the file's: the run stops, nothing marked
            except (DisallowedHostError, DownloadTooLargeError) as exc:
                self._mark_unusable(group, Drop.THUMBNAIL_REFUSED, {"error": _short(exc)})
                continue
            except (DownloadUnavailableError, TruncatedDownloadError) as exc:
                self._retry_later(key, group, str(exc))  # 404, an HTML page, cut short
                continue
            except TransientCommonsError:
                raise  # Commons is struggling: fail this POI, retry it later
            except CommonsError as exc:
                self._retry_later(key, group, str(exc))
                continue
            try:
                image = open_image(data)
            except ImageDecodeError as exc:
                self._retry_later(key, group, f"not an image (HTML or truncated?): {exc}")
                continue
            self._record_size(group, image.size)
            check = check_image(image)
            if not check.is_photo:
                self._mark_not_a_photo(group, Drop.PIXELS_NOT_PHOTO, check.detail)
                continue
            payloads.append(data)
            groups.append(group)
            images.append(image)
            self._remember(key, data)
            # Only bytes that decode as a photo: an HTML error page must be fetched again.
            self._disk.put(group[0].sha1, group[0].thumbnail_url, data)
        return groups, payloads, images

    def _record_size(self, group: list[ImageCandidate], size: tuple[int, int]) -> None:
        """The thumbnail's real size, read from its bytes: Commons' ``thumbwidth`` and
        ``thumbheight`` echo the asked width, even for a narrower file served unscaled."""
        for cand in group:
            if (cand.thumbnail_width, cand.thumbnail_height) != size:
                cand.thumbnail_width, cand.thumbnail_height = size
                self._save(cand, ["thumbnail_width", "thumbnail_height"])

    def _clip_filter(
        self,
        scorer: Any,
        groups: list[list[ImageCandidate]],
        payloads: list[bytes],
        images: list[Any],
        place: tuple[str, str],
    ) -> tuple[list[list[ImageCandidate]], list[bytes]]:
        """Drop what the scorer's CLIP text tower sees as a map, plan, arms or logo."""
        scorer.ensure_loaded()
        encoder = clip_check.text_encoder(scorer)
        if encoder is None:
            return groups, payloads  # no text tower: the other checks stand alone
        verdicts = clip_check.check_images(encoder, images, *place)
        kept_groups, kept_payloads = [], []
        for group, data, detail in zip(groups, payloads, verdicts, strict=True):
            if detail is not None:
                self._mark_not_a_photo(group, Drop.CLIP_NOT_PHOTO, detail)
            else:
                kept_groups.append(group)
                kept_payloads.append(data)
        return kept_groups, kept_payloads

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
                self._save(cand, SCORE_FIELDS)

    def _retry_later(self, key: str, group: Iterable[ImageCandidate], why: str) -> None:
        self._attempted.add(key)
        for cand in group:
            failures = cand.thumbnail_failures + 1
            cand.thumbnail_failures = failures
            fields = cand.mark_dropped(Drop.THUMBNAIL_RETRY, {"error": why[:MAX_ERROR_CHARS]})
            logger.info("Thumbnail of %s failed: %s", cand.title, cand.filtered_reason)
            self._save(cand, [*fields, "thumbnail_failures"])

    def _mark_not_a_photo(
        self, group: list[ImageCandidate], drop: str, detail: dict[str, Any]
    ) -> None:
        for cand in group:
            cand.relevance = NOT_A_PHOTO
            cand.evidence = [sentence(drop, detail)]
        self._mark_unusable(group, drop, detail, extra=["relevance", "evidence"])

    def _mark_unusable(
        self,
        group: Iterable[ImageCandidate],
        drop: str,
        detail: dict[str, Any] | None = None,
        extra: Sequence[str] = (),
    ) -> None:
        for cand in group:
            fields = cand.mark_dropped(drop, detail)
            logger.info("Candidate %s dropped: %s", cand.title, cand.filtered_reason)
            self._save(cand, [*fields, *extra])

    def _save(self, cand: ImageCandidate, fields: list[str]) -> None:
        if not self.dry_run and cand.pk:
            cand.save(update_fields=[*fields, "updated_at"])

    # -- bytes -------------------------------------------------------------------------

    def _remember(self, key: str, data: bytes) -> None:
        self._bytes[key] = data
        self._bytes.move_to_end(key)
        while len(self._bytes) > BYTES_CACHE_SIZE:
            self._bytes.popitem(last=False)

    def thumbnail_bytes(self, cand: ImageCandidate) -> bytes:
        key = cand.sha1 or cand.title
        if key in self._bytes:
            self._bytes.move_to_end(key)
            return self._bytes[key]
        if not cand.thumbnail_url:
            raise CommonsError("Commons gave no thumbnail URL for this file")
        cached = self._disk.get(cand.sha1, cand.thumbnail_url)
        if cached is not None:
            return cached
        # Never the original: thumbnails come at a standard width >= the target.
        return self._client().download_image(cand.thumbnail_url, max_bytes=conf.MAX_DOWNLOAD_BYTES)

    def winner_bytes(self, cand: ImageCandidate) -> bytes:
        """The bytes to store for a candidate, fetching only when nothing local has them."""
        key = cand.sha1 or cand.title
        if key in self._bytes:
            return self._bytes[key]
        stored = _stored_copy(cand.sha1)
        if stored is not None:
            return stored
        data = self.thumbnail_bytes(cand)
        self._remember(key, data)
        return data


def _short(exc: Exception) -> str:
    return str(exc)[:MAX_ERROR_CHARS]


def _best(candidates: Sequence[ImageCandidate], name: str, version: str) -> Any:
    """The best kept candidate scored by this scorer, if any."""
    scored = [c for c in candidates if not c.drop and c.score_is_current(name, version)]
    return max(scored, key=lambda c: c.score, default=None)


def _stored_copy(sha1: str) -> bytes | None:
    """The file another POI already shows for this sha1 (no request), if readable."""
    if not sha1:
        return None
    other = (
        SelectedImage.objects.filter(sha1=sha1)
        .exclude(chosen_by=SelectedImage.ChosenBy.FALLBACK)
        .exclude(file_name="")
        .select_related("poi")
        .first()
    )
    if other is None:
        return None
    poi: Model = other.poi
    storage = get_poi_adapter().image(poi).storage
    try:
        with storage.open(other.file_name, "rb") as handle:
            return handle.read()
    except OSError:
        return None
