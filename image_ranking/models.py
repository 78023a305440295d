"""Data kept by image_ranking.

The POI model belongs to the host and is named by ``IMAGE_RANKING_POI_MODEL``; the
foreign keys below point at it through that setting (as Django does for the user
model), so this module never imports the host app.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from image_ranking import get_poi_model_string
from image_ranking.choices import ChosenBy as _ChosenBy
from image_ranking.drops import Drop, sentence

POI_MODEL = get_poi_model_string()


class RateLimitBucket(models.Model):
    """State of one token bucket shared by every process using the database.

    Times are seconds since the epoch as floats so that tests can inject a clock.
    """

    name = models.CharField(max_length=100, primary_key=True)
    tokens = models.FloatField()
    updated_at = models.FloatField(help_text="When tokens were last refilled (epoch seconds).")
    blocked_until = models.FloatField(
        default=0.0, help_text="No request before this time (a server's Retry-After)."
    )

    class Meta:
        verbose_name = "rate-limit bucket"

    def __str__(self) -> str:
        return f"{self.name}: {self.tokens:.2f} tokens"


class ImageCandidate(models.Model):
    """One candidate image found for a POI, with its metadata, licence and score.

    Kept so that re-runs and the review page reuse scores instead of downloading
    thumbnails again.
    """

    class Source(models.TextChoices):
        COMMONS = "commons", "Commons search"
        WIKIDATA = "wikidata", "Wikidata image (P18)"

    class Relevance(models.TextChoices):
        VERIFIED = "verified", "Shows this POI (verified)"
        LIKELY = "likely", "Likely shows this POI"
        UNKNOWN = "unknown", "No evidence either way"
        ELSEWHERE = "elsewhere", "A namesake elsewhere"
        NOT_A_PHOTO = "not_a_photo", "Not a photo of the place"

    poi = models.ForeignKey(POI_MODEL, on_delete=models.CASCADE, related_name="image_candidates")
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.COMMONS)
    title = models.CharField(max_length=500, help_text="Commons file title, e.g. 'File:X.jpg'.")
    sha1 = models.CharField(max_length=40, blank=True)
    image_url = models.URLField(max_length=1000, help_text="URL of the original file.")
    thumbnail_url = models.URLField(max_length=1000, blank=True)
    thumbnail_width = models.PositiveIntegerField(null=True, blank=True)
    thumbnail_height = models.PositiveIntegerField(null=True, blank=True)
    page_url = models.URLField(max_length=1000, blank=True, help_text="File description page.")
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    mime = models.CharField(max_length=100, blank=True)
    author = models.TextField(blank=True, help_text="Plain text.")
    license_name = models.CharField(max_length=200, blank=True)
    license_url = models.URLField(max_length=500, blank=True)
    attribution_required = models.BooleanField(default=True)
    search_rank = models.PositiveIntegerField(null=True, blank=True)
    drop = models.CharField(
        max_length=30,
        choices=Drop.choices,
        blank=True,
        help_text="Why it was dropped or not scored; blank if kept.",
    )
    drop_detail = models.JSONField(
        default=dict, blank=True, help_text="The values the drop's sentence names."
    )
    # Commons metadata the relevance judge reads (pipeline/relevance.py).
    categories = models.JSONField(default=list, blank=True, help_text="Without 'Category:'.")
    assessments = models.JSONField(default=list, blank=True, help_text="featured/quality/valued.")
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    description = models.TextField(blank=True, help_text="Plain text.")
    object_name = models.CharField(max_length=500, blank=True)
    found_by = models.JSONField(
        default=list, blank=True, help_text="Queries that found it: wikidata, depicts, ..."
    )
    article_uses = models.PositiveIntegerField(
        default=0, help_text="Wiki articles that show it (Commons globalusage, namespace 0)."
    )
    relevance = models.CharField(
        max_length=20,
        choices=Relevance.choices,
        blank=True,
        help_text="Does it show this POI? Blank: not judged yet.",
    )
    evidence = models.JSONField(default=list, blank=True, help_text="Why, one line each.")
    thumbnail_failures = models.PositiveSmallIntegerField(
        default=0, help_text="Failed thumbnail downloads in a row (retried up to a bound)."
    )
    score = models.FloatField(null=True, blank=True)
    scorer_name = models.CharField(max_length=100, blank=True)
    scorer_version = models.CharField(max_length=100, blank=True)
    scored_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["poi", "title"], name="image_candidate_unique_title"),
        ]
        indexes = [
            models.Index(fields=["sha1"]),
            # The default ordering: a POI's candidates in search order, and the admin's
            # list of every candidate (100,000 rows in a 10,000-POI city) without a sort.
            models.Index(fields=["poi", "search_rank", "id"], name="image_cand_poi_rank_idx"),
            # A scorer's newest scores (the ceiling in pipeline/promise.py) and its name in
            # the admin's filter, without reading every candidate.
            models.Index(
                fields=["scorer_name", "scorer_version", "-scored_at"],
                name="image_cand_scorer_idx",
            ),
        ]
        # poi_id, not poi: ordering by the relation follows the host's POI ordering (city,
        # name), a join and a sort of every candidate; the column follows the index.
        ordering = ["poi_id", "search_rank", "id"]

    def __str__(self) -> str:
        return self.title

    @property
    def filtered_reason(self) -> str:
        """Why it was dropped, as a sentence ("" if kept); rendered from ``drop``."""
        return sentence(self.drop, self.drop_detail, self.thumbnail_failures)

    def mark_dropped(self, drop: str, detail: dict | None = None) -> list[str]:
        """Record why it is dropped (not saved); returns the fields to save."""
        self.drop, self.drop_detail = drop, dict(detail or {})
        return ["drop", "drop_detail"]

    def score_is_current(self, scorer_name: str, scorer_version: str) -> bool:
        """True if the stored score came from this exact scorer (never mix models)."""
        return (
            self.score is not None
            and self.scorer_name == scorer_name
            and self.scorer_version == scorer_version
        )


class LearnedHead(models.Model):
    """A head trained by ``train_ranker`` (or registered by hand): its file and its record.

    At most one head is active; the ``learned`` scorer reads it on its next use, no
    restart (``IMAGE_RANKING_LEARNED_HEAD``, when set, overrides it). ``previous`` is the
    head that was active before this one was activated, so going back is one step.
    """

    class State(models.TextChoices):
        CANDIDATE = "candidate", "Trained, not active"
        ACTIVE = "active", "Active"
        RETIRED = "retired", "Was active"

    version = models.CharField(
        max_length=100, unique=True, help_text="The scorer version, learned-<sha256 prefix>."
    )
    sha256 = models.CharField(max_length=64)
    file_path = models.CharField(max_length=1000, help_text="The head file (content-addressed).")
    backbone = models.CharField(max_length=100)
    state = models.CharField(max_length=20, choices=State.choices, default=State.CANDIDATE)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    label_count = models.PositiveIntegerField(default=0, help_text="Good/bad labels used.")
    pair_count = models.PositiveIntegerField(default=0, help_text="Preferences used.")
    prior_name = models.CharField(max_length=200, blank=True)
    prior_cv = models.FloatField(
        null=True, blank=True, help_text="Cross-validated concordance of the prior alone."
    )
    cv = models.FloatField(
        null=True, blank=True, help_text="Cross-validated concordance of this head."
    )
    metrics = models.JSONField(default=dict, blank=True, help_text="Cross-validated figures.")
    leanings = models.JSONField(
        default=list,
        blank=True,
        help_text="[statistic, weight relative to the prior], largest first.",
    )
    summary = models.TextField(blank=True, help_text="What it favours, in words.")
    activated_at = models.DateTimeField(null=True, blank=True)
    activated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    previous = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["state"], condition=models.Q(state="active"), name="one_active_head"
            ),
        ]

    def __str__(self) -> str:
        return f"head {self.pk} ({self.version}, {self.state})"

    @classmethod
    def active_file(cls) -> tuple[str, str] | None:
        """(version, file path) of the active head, or None: one small query."""
        rows = cls.objects.filter(state=cls.State.ACTIVE).values_list("version", "file_path")
        return rows.first()

    @classmethod
    def for_scorer(cls, scorer_name: str, scorer_version: str) -> LearnedHead | None:
        """The head behind a ``learned`` score, for an image's provenance."""
        if scorer_name != "learned" or not scorer_version:
            return None
        return cls.objects.filter(version=scorer_version).first()

    @property
    def beats_prior(self) -> bool:
        """Its cross-validated figure is at least the prior's (or there is no prior)."""
        return self.prior_cv is None or (self.cv is not None and self.cv >= self.prior_cv)


class SelectedImage(models.Model):
    """Provenance of the image stored on a POI: where it came from and its licence."""

    ChosenBy = _ChosenBy  # defined in image_ranking.choices, for hosts to import

    poi = models.OneToOneField(POI_MODEL, on_delete=models.CASCADE, related_name="selected_image")
    candidate = models.ForeignKey(
        ImageCandidate, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    chosen_by = models.CharField(max_length=20, choices=ChosenBy.choices)
    # Which curator, when a curator chose it: the review page names them to a curator
    # whose choice on the same POI came second and was refused.
    chosen_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    file_name = models.CharField(max_length=500, help_text="Stored file, relative to storage.")
    title = models.CharField(max_length=500, blank=True)
    sha1 = models.CharField(max_length=40, blank=True)
    source_url = models.URLField(max_length=1000, blank=True)
    page_url = models.URLField(max_length=1000, blank=True)
    author = models.TextField(blank=True)
    license_name = models.CharField(max_length=200, blank=True)
    license_url = models.URLField(max_length=500, blank=True)
    attribution_required = models.BooleanField(default=True)
    score = models.FloatField(null=True, blank=True)
    scorer_name = models.CharField(max_length=100, blank=True)
    scorer_version = models.CharField(max_length=100, blank=True)
    # The learned head that chose it (scorer "learned"); scorer_version names it too, and
    # still does when the head's row is deleted.
    head = models.ForeignKey(
        LearnedHead, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        # One photo, one POI: every ranked POI asks which of its files others show.
        indexes = [models.Index(fields=["sha1"], name="image_sel_sha1_idx")]

    def __str__(self) -> str:
        return f"{self.title or self.file_name} for POI {self.poi_id}"


class RankingState(models.Model):
    """What the last ranking run did for a POI; lets an interrupted run carry on."""

    class Outcome(models.TextChoices):
        UPDATED = "updated", "Image updated"
        UNCHANGED = "unchanged", "Best image already stored"
        NO_IMAGE = "no_image", "No suitable image"
        FALLBACK = "fallback", "Fallback image used"
        FAILED = "failed", "Failed"

    poi = models.OneToOneField(POI_MODEL, on_delete=models.CASCADE, related_name="ranking_state")
    candidates_fetched_at = models.DateTimeField(null=True, blank=True)
    ranked_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, blank=True)
    message = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"POI {self.poi_id}: {self.outcome or 'never ranked'}"


class ImageTrainingData(models.Model):
    """A curator's good/bad label on an image, used to train the learned ranker."""

    class Label(models.TextChoices):
        GOOD = "good", "Good"
        BAD = "bad", "Bad"

    poi = models.ForeignKey(POI_MODEL, on_delete=models.CASCADE, related_name="image_labels")
    image_url = models.URLField(max_length=1000)
    thumbnail_url = models.URLField(max_length=1000, null=True, blank=True)  # noqa: DJ001 (as specified)
    image_label = models.CharField(max_length=10, choices=Label.choices)
    aesthetic_score = models.FloatField(null=True, blank=True)
    labelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "image training data"
        verbose_name_plural = "image training data"
        indexes = [
            models.Index(fields=["poi"], name="image_train_poi_idx"),
            models.Index(fields=["image_label"], name="image_train_label_idx"),
            # The admin's list and a curator's latest label, newest first.
            models.Index(fields=["-created_at", "-id"], name="image_train_newest_idx"),
        ]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.image_label}: {self.image_url}"


class RankingRun(models.Model):
    """One run of ``rank_poi_images``: lets a re-run carry on after an interruption.

    ``selection`` holds the options that decide which POIs a run covers (mode, city,
    threshold...). A later run with the same selection resumes an interrupted one: it
    skips POIs whose ``RankingState.ranked_at`` is after the interrupted run started.
    """

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCESS = "success", "Finished"
        INTERRUPTED = "interrupted", "Interrupted"
        FAILED = "failed", "Failed"
        RESUMED = "resumed", "Interrupted, then resumed by a later run"

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RUNNING)
    selection = models.JSONField(default=dict)
    resumed_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # A run started while another with the same selection was alive shares its list: it
    # is not resumed from it (that one goes on), but carries on the same work.
    joined = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The live run with the same selection this run shared the list with.",
    )
    total_count = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True)
    message = models.TextField(blank=True)
    # A run whose heartbeat is older than IMAGE_RANKING_LEASE_SECONDS is taken for dead
    # (crashed, killed): its POIs and its resume are taken over by the next run.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    owner = models.CharField(max_length=255, blank=True, help_text="host:pid of the process.")

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["status", "started_at"], name="ranking_run_status_idx")]

    def __str__(self) -> str:
        return f"Ranking run {self.pk} ({self.status}) started {self.started_at:%Y-%m-%d %H:%M}"


class RankingLease(models.Model):
    """A POI claimed by a ranking run, so that concurrent runs (and machines) split a list.

    Free when ``expires_at`` has passed; the holder renews it while it ranks the POI and
    frees it when done (``leases.py``). A crashed run's leases simply expire.
    """

    poi = models.OneToOneField(POI_MODEL, on_delete=models.CASCADE, related_name="ranking_lease")
    run = models.ForeignKey(
        RankingRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"POI {self.poi_id} leased to run {self.run_id} until {self.expires_at:%H:%M:%S}"


class ReviewClaim(models.Model):
    """A POI a curator has open in the review queue, so the queue hands it to no one else.

    Soft: it only orders the queue and says "<curator> is reviewing this POI"; every
    write is still checked against the POI's image (the review page's version token).
    Free when ``expires_at`` has passed (a closed tab simply lets it expire).
    """

    poi = models.OneToOneField(POI_MODEL, on_delete=models.CASCADE, related_name="review_claim")
    curator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"POI {self.poi_id} reviewed by {self.curator_id} until {self.expires_at:%H:%M:%S}"


class HeadChange(models.Model):
    """One POI whose image a head would change (its preview), and what a curator said.

    Written by a preview over cached candidates; accepting stores ``new_candidate`` as the
    POI's image, rejecting records a "bad" label on it (training data for the next head).
    """

    class Decision(models.TextChoices):
        PENDING = "pending", "Waiting for review"
        ACCEPTED = "accepted", "Accepted and applied"
        REJECTED = "rejected", "Rejected"
        STALE = "stale", "Superseded (the POI's image changed since)"

    head = models.ForeignKey(LearnedHead, on_delete=models.CASCADE, related_name="changes")
    poi = models.ForeignKey(POI_MODEL, on_delete=models.CASCADE, related_name="+")
    old_sha1 = models.CharField(max_length=40, blank=True)
    old_title = models.CharField(max_length=500, blank=True)
    old_score = models.FloatField(null=True, blank=True, help_text="Under the stored scorer.")
    old_new_score = models.FloatField(
        null=True, blank=True, help_text="The current image's score under this head."
    )
    new_candidate = models.ForeignKey(
        ImageCandidate, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    new_score = models.FloatField(null=True, blank=True)
    decision = models.CharField(max_length=20, choices=Decision.choices, default=Decision.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["head", "id"]
        constraints = [
            models.UniqueConstraint(fields=["head", "poi"], name="head_change_unique_poi"),
        ]

    def __str__(self) -> str:
        return f"{self.head_id}: POI {self.poi_id} {self.old_title} -> {self.new_candidate_id}"
