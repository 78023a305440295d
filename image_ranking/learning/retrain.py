"""Retrain on its own: when enough new labels arrived since the last head, train one,
register it, preview what it would change and leave that for review.

Used by ``manage.py retrain_ranker`` and the Prefect flow ``workflow/retrain.py``. It never
activates a head whose cross-validated figure is below its prior's: such a head is
recorded (its figures are worth seeing) but neither previewed nor activated. With
``activate=True`` a head at least as good as its prior is also made active; by default a
curator activates it after reviewing its changes on the heads view.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db.models import Max
from django.utils import timezone

from image_ranking.conf import conf
from image_ranking.learning import examples, heads, preview, trainer
from image_ranking.models import ImageTrainingData, LearnedHead
from image_ranking.priors import PRIOR_BACKBONE
from image_ranking.scoring import embeddings as emb

# New labels since the last head before a retrain is worth its CPU.
MIN_NEW_LABELS = 20


class Status:
    """What a retrain did (one word each, for logs, the flow's result and tests)."""

    WAITING = "waiting"  # not enough new labels
    BELOW_PRIOR = "below_prior"  # trained and recorded, not previewed nor activated
    PREVIEWED = "previewed"  # changes kept for review
    ACTIVATED = "activated"  # previewed, and made active (activate=True)


@dataclass
class Outcome:
    status: str
    new_labels: int
    head: LearnedHead | None = None
    changes: int = 0
    message: str = ""


def new_labels(since: dt.datetime | None = None) -> int:
    """Labels made after ``since`` (default: when the newest head was trained)."""
    if since is None:
        since = LearnedHead.objects.aggregate(last=Max("created_at"))["last"]
    rows = ImageTrainingData.objects.all()
    return rows.filter(created_at__gt=since).count() if since else rows.count()


def retrain(
    *,
    pois: Iterable[Any] = (),
    min_new_labels: int = MIN_NEW_LABELS,
    backbone: str = PRIOR_BACKBONE,
    activate: bool = False,
    user: Any = None,
    make_fetch: Callable[[], Callable[[str], bytes]] | None = None,
    say: Callable[[str], None] = lambda message: None,
    train: Callable[..., trainer.TrainingReport] = trainer.train,
    now: dt.datetime | None = None,
) -> Outcome:
    """Train, register and preview over ``pois`` (their cached candidates) if due."""
    # Before the labels are read: a label made during training counts for the next head.
    now = now or timezone.now()
    count = new_labels()
    if count < min_new_labels:
        return Outcome(
            Status.WAITING, count, message=f"{count} new labels, {min_new_labels} needed."
        )
    output = conf.cache_dir / "heads" / f"retrained-{now:%Y%m%dT%H%M%S}.json"
    # force: a head below its prior is still saved, so its record shows why it waits.
    options = trainer.TrainingOptions(output=Path(output), force=True, skip_unreadable=True)
    fetch = make_fetch or trainer.make_fetcher
    report = train(examples.read_database(), emb.get_backbone(backbone), options, fetch, say)
    head = heads.register(report.output, user=user, now=now, created_at=now)
    if not head.beats_prior:
        return Outcome(
            Status.BELOW_PRIOR,
            count,
            head,
            message=f"Head {head.pk} ranks the labels worse than its prior "
            f"({head.cv} < {head.prior_cv}): recorded, not previewed, not activated.",
        )
    planned = preview.plan(head, pois)
    preview.record(planned)
    status = Status.PREVIEWED
    if activate:
        heads.activate(head, user=user)
        status = Status.ACTIVATED
    return Outcome(
        status,
        count,
        head,
        changes=len(planned.changes),
        message=f"Head {head.pk} would change {len(planned.changes)} POIs; kept for review.",
    )
