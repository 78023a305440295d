"""Decide stage: which candidate wins, and why nothing does (pure functions, no I/O)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from image_ranking.models import ImageCandidate


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


def reason_key(reason: str) -> str:
    # "too small (320 px wide)" and "too small (400 px wide)" count as one reason.
    return reason.split(" (")[0].split(":")[0].strip() or reason


@dataclass
class Decision:
    """The outcome of the decide stage for one POI."""

    candidates: Sequence[ImageCandidate]
    kept: list[ImageCandidate]
    best: ImageCandidate | None
    winner: ImageCandidate | None  # the best, if it passes the threshold


def decide(candidates: Sequence[ImageCandidate], threshold: float) -> Decision:
    """The best scored kept candidate, and whether it passes ``threshold``."""
    kept = [c for c in candidates if not c.filtered_reason]
    scored = sorted((c for c in kept if c.score is not None), key=score_order_key)
    best = scored[0] if scored else None
    winner = best if best is not None and best.score >= threshold else None
    return Decision(candidates, kept, best, winner)


def no_image_reason(decision: Decision, threshold: float) -> str:
    """Why no candidate can be stored, for the POI's Validation."""
    candidates, kept, best = decision.candidates, decision.kept, decision.best
    if not candidates:
        return "Wikimedia Commons and Wikidata have no candidate images for it"
    if not kept:
        counts = Counter(reason_key(c.filtered_reason) for c in candidates)
        detail = ", ".join(f"{n} {reason}" for reason, n in counts.most_common())
        return f"all {len(candidates)} candidate images were filtered out before scoring ({detail})"
    if best is None:
        return f"none of the {len(kept)} kept candidate images has a score yet"
    scored = sum(1 for c in kept if c.score is not None)
    return (
        f"all {scored} scored candidate images are below the threshold "
        f"{threshold:.1f}; the best, {best.title}, scores {best.score:.2f}"
    )
