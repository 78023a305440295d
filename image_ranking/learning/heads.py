"""Learned heads as records: register a head file, make one active, go back one step.

The ``learned`` scorer reads the active head on its next use (``scoring.get_scorer`` keys
its instances by the active head's version), so activating needs no settings change and
no restart. ``IMAGE_RANKING_LEARNED_HEAD``, when set, still overrides the active head.
A head whose cross-validated figure is below its prior's is never activated unless forced.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from image_ranking.conf import conf
from image_ranking.exceptions import ImageRankingError
from image_ranking.models import LearnedHead
from image_ranking.scoring.heads import head_version, parse_head, read_head_bytes

State = LearnedHead.State

# Leanings named in a head's summary (the largest first).
SUMMARY_LEANINGS = 4


class HeadError(ImageRankingError):
    """A head cannot be registered, activated or rolled back (message says why)."""


def registry_dir() -> Path:
    return conf.cache_dir / "heads" / "registry"


def summary(leanings: list[tuple[str, float]] | dict[str, float]) -> str:
    """What the labels favour beyond the prior, in words: 'more colourfulness (+0.41), ...'."""
    items = list(leanings.items()) if isinstance(leanings, dict) else list(leanings)
    items.sort(key=lambda item: -abs(item[1]))
    if not items:
        return "the prior's ranking (the labels did not move it)"
    return ", ".join(
        f"{'more' if weight > 0 else 'less'} {name} ({weight:+.2f})"
        for name, weight in items[:SUMMARY_LEANINGS]
    )


def _created_at(meta: dict[str, Any], now: dt.datetime) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(str(meta.get("created_at")))
    except ValueError:
        return now
    return value if timezone.is_aware(value) else timezone.make_aware(value, dt.UTC)


def register(
    path: Path | str,
    *,
    user: Any = None,
    now: dt.datetime | None = None,
    created_at: dt.datetime | None = None,
) -> LearnedHead:
    """Record the head file at ``path`` (a copy named by its content is kept, so the record's
    file never changes under it). The same file registered twice gives the same record.
    ``created_at``: when its labels were read (default: the time its file records)."""
    data = read_head_bytes(path)
    head = parse_head(data, source=f"Head file {path}")
    sha256 = hashlib.sha256(data).hexdigest()
    version = head_version(sha256)
    existing = LearnedHead.objects.filter(version=version).first()
    if existing is not None:
        return existing
    target = registry_dir() / f"{sha256[:16]}.json"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_suffix(".tmp")
        shutil.copyfile(path, temporary)
        temporary.replace(target)
    meta = head.metadata
    counts = meta.get("label_counts") or {}
    leanings = (meta.get("adaptation") or {}).get("leanings") or {}
    ordered = sorted(leanings.items(), key=lambda item: -abs(item[1]))
    now = now or timezone.now()
    return LearnedHead.objects.create(
        version=version,
        sha256=sha256,
        file_path=str(target),
        backbone=head.backbone,
        created_at=created_at or _created_at(meta, now),
        created_by=user,
        label_count=sum(int(v) for v in counts.values() if isinstance(v, int)),
        pair_count=int(meta.get("pairs") or 0),
        prior_name=str(meta.get("prior") or ""),
        prior_cv=meta.get("prior_cv_concordance"),
        cv=meta.get("cv_concordance", (meta.get("cv_metrics") or {}).get("auc")),
        metrics=meta.get("cv_metrics") or {},
        leanings=[[name, weight] for name, weight in ordered],
        summary=summary(ordered),
    )


def active() -> LearnedHead | None:
    return LearnedHead.objects.filter(state=State.ACTIVE).first()


def active_file() -> tuple[str, str] | None:
    return LearnedHead.active_file()


def for_scorer(scorer_name: str, scorer_version: str) -> LearnedHead | None:
    return LearnedHead.for_scorer(scorer_name, scorer_version)


def activate(
    head: LearnedHead, *, user: Any = None, force: bool = False, now: dt.datetime | None = None
) -> LearnedHead:
    """Make ``head`` the active one; the one active before becomes its ``previous``."""
    if not head.beats_prior and not force:
        raise HeadError(
            f"Head {head.pk} ranks the labelled images worse than its prior "
            f"(cross-validated concordance {head.cv} < {head.prior_cv}); not activated. "
            "Label more images, or force it."
        )
    if not Path(head.file_path).is_file():
        raise HeadError(f"Head {head.pk}'s file {head.file_path} is missing; register it again.")
    with transaction.atomic():
        current = LearnedHead.objects.select_for_update().filter(state=State.ACTIVE).first()
        if current is not None and current.pk == head.pk:
            return current
        if current is not None:
            current.state = State.RETIRED
            current.save(update_fields=["state"])
        head.state = State.ACTIVE
        head.previous = current
        head.activated_at = now or timezone.now()
        head.activated_by = user
        head.save(update_fields=["state", "previous", "activated_at", "activated_by"])
    return head


def rollback(*, user: Any = None, now: dt.datetime | None = None) -> LearnedHead | None:
    """Go back to the head active before the current one (None: no head is active then)."""
    with transaction.atomic():
        current = LearnedHead.objects.select_for_update().filter(state=State.ACTIVE).first()
        if current is None:
            raise HeadError("No head is active: there is nothing to roll back.")
        target = current.previous
        current.state = State.RETIRED
        current.save(update_fields=["state"])
        if target is None:
            return None
        # Its own ``previous`` stays: rolling back again goes one step further back.
        target.state = State.ACTIVE
        target.activated_at = now or timezone.now()
        target.activated_by = user
        target.save(update_fields=["state", "activated_at", "activated_by"])
    return target
