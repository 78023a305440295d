"""Training the learned ranker's head: fetch, encode, adapt the prior (or fit), check, save.

``train`` does the whole run for ``manage.py train_ranker`` (which only parses arguments,
wires progress and prints). Labels adapt a prior when one exists for the backbone (the
bundled quality prior, a LAION head on CLIP, or ``--prior FILE``); scores (``--score-column``)
fit a ridge head, which is how the prior itself is made. A head whose cross-validated
ranking is worse than the prior's is not saved unless forced.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from image_ranking.exceptions import ImageRankingError
from image_ranking.learning import adaptation, fitting
from image_ranking.learning.examples import Example, TrainingSet
from image_ranking.scoring import embeddings as emb
from image_ranking.scoring import heads

MAX_LISTED = 10

Say = Callable[[str], None]


class UnreadableImages(fitting.TrainingError):
    """Some labelled images could not be read or downloaded (message lists them)."""


@dataclass
class TrainingOptions:
    output: Path
    folds: int = 5
    min_labels: int = 20
    skip_unreadable: bool = False
    batch_size: int = 16
    score_range: tuple[float, float] | None = None
    prior: str = "auto"  # "auto" (bundled/LAION if any), "none", or a head file
    force: bool = False
    score_column: str | None = None  # recorded in the head's metadata


@dataclass
class TrainingReport:
    head: heads.Head
    sha256: str
    output: Path
    counts: dict[str, int]
    cv: dict[str, float]
    skipped: list[Example] = field(default_factory=list)
    prior_name: str | None = None
    prior_concordance: float | None = None
    head_concordance: float | None = None
    pairs: int = 0
    # Appearance statistics the labels favour (+) or disfavour (-), relative to the prior.
    leanings: list[tuple[str, float]] = field(default_factory=list)


def check(targets: list[Any], target: heads.Target, minimum: int, stage: str) -> None:
    try:
        fitting.check_training_set(targets, target, min_examples=minimum)
    except fitting.TrainingError as exc:
        if stage == "readable":
            raise fitting.TrainingError(f"After skipping unreadable images: {exc}")
        hint = ""
        if not targets:
            hint = (
                " Label images good/bad on the review page, or bootstrap with "
                "--from-csv FILE --images DIR."
            )
        raise fitting.TrainingError(f"{exc}{hint}")


def listing(examples: list[Example]) -> str:
    lines = "\n".join(f"  {e.name}: {e.problem}" for e in examples[:MAX_LISTED])
    more = f"\n  ... and {len(examples) - MAX_LISTED} more" if len(examples) > MAX_LISTED else ""
    return lines + more


# ---------------------------------------------------------------------- images


def make_fetcher() -> Callable[[str], bytes]:
    """Download function for labelled images: a candidate's thumbnail a ranking run scored
    is read from the thumbnail cache (no request); else one Commons client for the whole
    run, so its allowed-host check, size limit and request budget apply."""
    from image_ranking.commons.clients import build_commons_client
    from image_ranking.conf import conf
    from image_ranking.media.thumbnails import ThumbnailCache
    from image_ranking.models import ImageCandidate

    client = build_commons_client()
    thumbnails = ThumbnailCache()

    def fetch(url: str) -> bytes:
        sha1 = ImageCandidate.objects.filter(thumbnail_url=url).values_list("sha1", flat=True)
        cached = thumbnails.get(sha1.first() or "", url)
        if cached is not None:
            return cached
        return client.download_image(url, max_bytes=conf.MAX_DOWNLOAD_BYTES)

    return fetch


def fetch_missing(
    examples: list[Example],
    backbone: emb.Backbone,
    cache: emb.EmbeddingCache,
    make_fetch: Callable[[], Callable[[str], bytes]],
    say: Say,
) -> None:
    """Download the images of database examples whose embedding is not cached yet."""
    todo = []
    for example in examples:
        digest = cache.digest_for_url(example.url) if example.url else None
        if example.url and (digest is None or cache.get(backbone.key, digest) is None):
            todo.append(example)
    if not todo:
        return
    say(f"Downloading {len(todo)} labelled images ({len(examples) - len(todo)} cached)...")
    fetch = make_fetch()
    for number, example in enumerate(todo, start=1):
        try:
            example.data = fetch(example.url)  # type: ignore[arg-type]
        except (ImageRankingError, OSError) as exc:
            example.problem = f"download failed ({exc})"
        if number % 25 == 0:
            say(f"  {number}/{len(todo)} downloaded")


def encode(
    examples: list[Example],
    backbone: emb.Backbone,
    cache: emb.EmbeddingCache,
    batch_size: int,
    say: Say,
) -> dict[int, np.ndarray]:
    """Embeddings by example index; sets ``problem`` on examples that cannot be encoded."""
    features: dict[int, np.ndarray] = {}
    pending = []
    for index, example in enumerate(examples):
        if example.problem:
            continue
        if example.data is None and example.url:
            digest = cache.digest_for_url(example.url)
            vector = cache.get(backbone.key, digest) if digest else None
            if vector is None:
                example.problem = "no cached embedding and no image"
            else:
                features[index] = vector
            continue
        pending.append(index)
    blobs = [examples[i].data for i in pending]
    new = sum(1 for b in blobs if b and cache.get(backbone.key, emb.content_hash(b)) is None)
    if new:
        cached = len(features) + len(pending) - new
        say(f"Encoding {new} images with {backbone.name} ({cached} cached)...")
    vectors = emb.embed_bytes(blobs, backbone, cache, batch_size, _progress(say, batch_size, new))
    for index, vector in zip(pending, vectors, strict=True):
        example = examples[index]
        if vector is None:
            example.problem = "not a readable image"
            continue
        features[index] = vector
        if example.url:
            cache.remember_url(example.url, emb.content_hash(example.data or b""))
    return features


def _progress(say: Say, batch_size: int, new: int) -> Callable[[int, int], None]:
    step = max(batch_size, new // 10)
    reported = [0]

    def progress(done: int, total: int) -> None:
        # About ten progress lines however long the run.
        if total > batch_size and (done - reported[0] >= step or done == total):
            reported[0] = done
            say(f"  {done}/{total} encoded")

    return progress


# ---------------------------------------------------------------------- training


def train(
    data: TrainingSet,
    backbone: emb.Backbone,
    options: TrainingOptions,
    make_fetch: Callable[[], Callable[[str], bytes]],
    say: Say,
    cache: emb.EmbeddingCache | None = None,
) -> TrainingReport:
    """The whole run: check, fetch, encode, fit or adapt, compare with the prior, save."""
    check([e.target for e in data.labelled], data.target, options.min_labels, "labelled")
    cache = cache if cache is not None else emb.EmbeddingCache()
    fetch_missing(data.examples, backbone, cache, make_fetch, say)
    features = encode(data.examples, backbone, cache, options.batch_size, say)
    skipped = [e for e in data.examples if e.problem]
    if skipped and not options.skip_unreadable:
        raise UnreadableImages(
            f"{len(skipped)} of {len(data.examples)} images could not be read:\n"
            f"{listing(skipped)}\n"
            "Fix or remove them, or pass --skip-unreadable to train without them."
        )
    kept = [i for i in range(len(data.examples)) if i in features]
    check([data.examples[i].target for i in kept if data.examples[i].target is not None],
          data.target, options.min_labels, "readable")  # fmt: skip
    say(f"Cross-validating ({options.folds} folds) on {len(kept)} images...")
    from threadpoolctl import threadpool_limits

    # Many small fits: BLAS threads only contend (several times slower on 2 busy cores).
    with threadpool_limits(1):
        encoded = Encoded(data, kept, features)
        fit = _fit_scores if data.target == "score" else _fit_labels
        report = fit(encoded, backbone, options)
    report.skipped = skipped
    report.head.metadata.update(skipped_unreadable=len(skipped))
    try:
        report.sha256 = heads.save_head(report.head, options.output)
    except OSError as exc:
        raise fitting.TrainingError(f"Cannot write {options.output}: {exc}")
    return report


def _metadata(data: TrainingSet, options: TrainingOptions, counts: dict[str, int]) -> dict:
    return {
        "created_at": fitting.now_iso(),
        "source": data.source,
        "score_column": options.score_column,
        "label_counts": counts,
    }


@dataclass
class Encoded:
    """The training set, the indices of its readable examples and their embeddings."""

    data: TrainingSet
    kept: list[int]
    features: dict[int, np.ndarray]


def _fit_scores(
    encoded: Encoded, backbone: emb.Backbone, options: TrainingOptions
) -> TrainingReport:
    """Ridge on numeric scores: no prior (this is how a prior is made)."""
    data, kept, features = encoded.data, encoded.kept, encoded.features
    matrix = np.stack([features[i] for i in kept])
    targets = [data.examples[i].target for i in kept]
    cv = fitting.cross_validate(matrix, targets, "score", folds=options.folds)
    counts = {"scored": len(targets)}
    meta = {**_metadata(data, options, counts), "cv_metrics": cv}
    head = fitting.fit_head(
        matrix, targets, "score", backbone.name, backbone.settings, options.score_range, meta
    )
    return TrainingReport(head, "", options.output, counts, cv)


def _preferences(encoded: Encoded) -> adaptation.Preferences:
    data, kept, features = encoded.data, encoded.kept, encoded.features
    position = {index: row for row, index in enumerate(kept)}
    examples = [data.examples[i] for i in kept]
    labels = [-1 if e.target is None else int(e.target == "good") for e in examples]
    pairs = [
        (position[w], position[lo]) for w, lo in data.pairs if w in position and lo in position
    ]
    groups = [e.group for e in examples]
    return adaptation.Preferences(
        np.stack([features[i] for i in kept]),
        np.array(labels),
        np.array(pairs, dtype=np.int64).reshape(-1, 2),
        None if all(g is None for g in groups) else np.array([str(g) for g in groups]),
    )


def _fit_labels(
    encoded: Encoded, backbone: emb.Backbone, options: TrainingOptions
) -> TrainingReport:
    from image_ranking.learning.priors import load_prior

    data = encoded.data
    prefs = _preferences(encoded)
    labelled = prefs.labels >= 0
    targets = ["good" if v == 1 else "bad" for v in prefs.labels[labelled]]
    counts = fitting.label_counts(targets)
    meta = _metadata(data, options, counts)
    path = None if options.prior in ("auto", "none") else options.prior
    found = load_prior(backbone.name, path)
    if found is not None:
        _check_prior(found[0], backbone)
    job = LabelJob(prefs, targets, backbone, options, meta)
    if found is None or options.prior == "none":
        report = _labels_alone(job)
        if found is not None:  # today's head, compared with the prior it ignores
            report.prior_name = found[1]
            report.prior_concordance = round(
                adaptation.concordance(found[0].decision(prefs.features), prefs), 4
            )
    else:
        report = _adapted(job, found)
    report.counts = counts
    _refuse_if_worse(report, options)
    return report


def _check_prior(prior: heads.Head, backbone: emb.Backbone) -> None:
    if prior.backbone_settings and prior.backbone_settings != backbone.settings:
        raise fitting.TrainingError(
            f"The prior was made with {prior.backbone} settings {prior.backbone_settings}, "
            f"but this version computes {backbone.settings}; rebuild the prior."
        )


@dataclass
class LabelJob:
    """What a label head is fitted from, and where it goes."""

    prefs: adaptation.Preferences
    targets: list[str]  # "good"/"bad" of the labelled rows of ``prefs``
    backbone: emb.Backbone
    options: TrainingOptions
    meta: dict[str, Any]


def _labels_alone(job: LabelJob) -> TrainingReport:
    prefs, targets, backbone, options, meta = (
        job.prefs, job.targets, job.backbone, job.options, job.meta
    )  # fmt: skip
    matrix = prefs.features[prefs.labels >= 0]
    predictions, used = fitting.cross_validated_predictions(
        matrix, targets, "label", folds=options.folds
    )
    cv = {**fitting.metrics(predictions, targets, "label"), "folds": used}
    meta["cv_metrics"] = cv
    head = fitting.fit_head(
        matrix, targets, "label", backbone.name, backbone.settings, metadata=meta
    )
    report = TrainingReport(head, "", options.output, {}, cv)
    report.head_concordance = cv["auc"]
    return report


def _adapted(job: LabelJob, found: tuple[heads.Head, str]) -> TrainingReport:
    prefs, targets, backbone, options, meta = (
        job.prefs, job.targets, job.backbone, job.options, job.meta
    )  # fmt: skip
    prior, name = found
    result = adaptation.adapt(
        prior, prefs, folds=options.folds, light_columns=backbone.appearance_columns,
        metadata=meta,
    )  # fmt: skip
    labelled = prefs.labels >= 0
    probabilities = 1.0 / (1.0 + np.exp(-np.clip(result.oof[labelled], -60, 60)))
    cv = {**fitting.metrics(probabilities, targets, "label"), "folds": options.folds}
    result.head.metadata.update(
        cv_metrics=cv,
        prior=name,
        pairs=len(prefs.pairs),
        prior_cv_concordance=result.prior_cv,
        cv_concordance=result.adapted_cv,
    )
    leanings = result.leanings(backbone.appearance_columns, backbone.appearance_names)
    result.head.metadata["adaptation"]["leanings"] = dict(leanings)
    report = TrainingReport(result.head, "", options.output, {}, cv, pairs=len(prefs.pairs))
    report.leanings = leanings
    report.prior_name = name
    report.prior_concordance = result.prior_cv
    report.head_concordance = result.adapted_cv
    return report


def _refuse_if_worse(report: TrainingReport, options: TrainingOptions) -> None:
    prior, head = report.prior_concordance, report.head_concordance
    if prior is None or head is None or head >= prior or options.force:
        return
    raise fitting.TrainingError(
        f"The new head ranks the labelled images worse than the prior ({report.prior_name}): "
        f"cross-validated concordance {head:.3f} < {prior:.3f}. Not saved; label more images, "
        "train with the prior (drop --prior none), or pass --force to save it anyway."
    )
