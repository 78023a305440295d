"""Decide stage: which candidate wins, whether it may replace the current image, and why
nothing does (pure functions on candidate rows, no I/O).

Relevance comes first: verified files, then likely ones, then files with no evidence
either way ("unknown"); the first tier with a file at or above the threshold wins, best
score plus Commons' assessment prior (relevant files only) first. Unknown files are
never taken when the POI's name is shared with places elsewhere (a namesake was found
among its candidates). A file another POI of the city shows is never taken (one photo,
one POI).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from image_ranking.drops import short
from image_ranking.models import ImageCandidate, SelectedImage
from image_ranking.pipeline.relevance import (
    DROPPED,
    ELSEWHERE,
    NOT_A_PHOTO,
    TIERS,
    UNKNOWN,
    assessment_bonus,
)


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


def tier(candidate: ImageCandidate) -> str:
    """The candidate's relevance tier; rows judged before relevance existed are unknown."""
    return candidate.relevance if candidate.relevance in TIERS else UNKNOWN


def effective_score(candidate: ImageCandidate) -> float:
    """Score plus the assessment prior, which only relevant files get."""
    bonus = assessment_bonus(candidate.assessments or ()) if tier(candidate) != UNKNOWN else 0
    return (candidate.score or 0.0) + bonus


def name_is_shared(candidates: Sequence[ImageCandidate]) -> bool:
    """A namesake elsewhere was found: files without evidence may show it too."""
    return any(c.relevance == ELSEWHERE for c in candidates)


def eligible(
    candidates: Sequence[ImageCandidate], taken: Collection[str] = ()
) -> list[ImageCandidate]:
    """Candidates that may win: kept, not shown by another POI, relevant enough."""
    shared = name_is_shared(candidates)
    return [
        c
        for c in candidates
        if not c.drop and not (c.sha1 and c.sha1 in taken) and not (shared and tier(c) == UNKNOWN)
    ]


def scoring_order(candidates: Sequence[ImageCandidate]) -> list[ImageCandidate]:
    """The candidates worth a thumbnail, most relevant first, then search order.

    ``candidates`` may include rows marked for a thumbnail retry; they count as kept.
    Files of unknown relevance are left out when the name is shared.
    """
    shared = name_is_shared(candidates)
    usable = [c for c in candidates if not (shared and tier(c) == UNKNOWN)]
    return sorted(usable, key=lambda c: (TIERS.index(tier(c)), *candidate_order_key(c)))


def _rank_key(candidate: ImageCandidate) -> tuple:
    return (-effective_score(candidate), *candidate_order_key(candidate))


@dataclass
class Decision:
    """The outcome of the decide stage for one POI."""

    candidates: Sequence[ImageCandidate]
    kept: list[ImageCandidate]  # eligible ones
    best: ImageCandidate | None  # the best scored eligible one, passing or not
    winner: ImageCandidate | None  # the best of the first tier that passes the threshold
    taken: int = 0  # kept files skipped because another POI shows them


def decide(
    candidates: Sequence[ImageCandidate], threshold: float, taken: Collection[str] = ()
) -> Decision:
    """The winner: the first relevance tier with a file at or above ``threshold``."""
    kept = eligible(candidates, taken)
    scored = [c for c in kept if c.score is not None]
    best = min(scored, key=lambda c: (TIERS.index(tier(c)), *_rank_key(c)), default=None)
    winner = None
    for level in TIERS:
        passing = [c for c in scored if tier(c) == level and c.score >= threshold]
        if passing:
            winner = min(passing, key=_rank_key)
            break
    skipped = sum(1 for c in candidates if not c.drop and c.sha1 and c.sha1 in taken)
    return Decision(candidates, kept, winner or best, winner, skipped)


def why_keep_current(
    decision: Decision, selected: SelectedImage | None, scorer: tuple[str, str]
) -> str:
    """Why the POI's current ranked image must stay although another file won ("" if it
    may be replaced). It is replaced only by a file scored higher under the same scorer
    version, or when it was found not to show the POI; never because it could not be
    re-evaluated (thumbnail failure, score from another scorer, no longer listed)."""
    winner = decision.winner
    if winner is None or selected is None or selected.chosen_by != SelectedImage.ChosenBy.RANKER:
        return ""
    if not selected.sha1 or selected.sha1 == winner.sha1:
        return ""
    current = next((c for c in decision.candidates if c.sha1 == selected.sha1), None)
    if current is not None and current.relevance in DROPPED:
        return ""  # re-evaluated: it shows something else
    if current is not None and TIERS.index(tier(winner)) < TIERS.index(tier(current)):
        return ""  # re-evaluated: the winner is known to show the POI, it is not
    if current is not None and current.score_is_current(*scorer) and current in decision.kept:
        # Re-evaluated under this scorer: the decision already ranked it.
        return ""
    if (selected.scorer_name, selected.scorer_version) == scorer and selected.score is not None:
        if winner.score is not None and winner.score > selected.score:
            return ""
        return (
            f"the current image scores {selected.score:.2f}, {winner.title} only {winner.score:.2f}"
        )
    return "the current image could not be re-evaluated with the current scorer"


def no_image_reason(decision: Decision, threshold: float, poi_name: str = "") -> str:
    """Why no candidate can be stored, for the POI's Validation."""
    candidates, kept, best = decision.candidates, decision.kept, decision.best
    if not candidates:
        return "Wikimedia Commons and Wikidata have no candidate images for it"
    elsewhere = [c for c in candidates if c.relevance == ELSEWHERE]
    if not kept and elsewhere:
        return _no_relevant_photo(candidates, elsewhere, poi_name)
    if not kept:
        # "too small (320 px wide)" and "too small (400 px wide)" count as one reason.
        counts = Counter(short(c.drop) for c in candidates)
        detail = ", ".join(f"{n} {reason}" for reason, n in counts.most_common())
        return f"all {len(candidates)} candidate images were filtered out before scoring ({detail})"
    if best is None:
        return f"none of the {len(kept)} kept candidate images has a score yet"
    scored = sum(1 for c in kept if c.score is not None)
    return (
        f"all {scored} scored candidate images are below the threshold "
        f"{threshold:.1f}; the best, {best.title}, scores {best.score:.2f}"
    )


def _no_relevant_photo(
    candidates: Sequence[ImageCandidate], elsewhere: list[ImageCandidate], name: str
) -> str:
    """'12 files found, all of places named X elsewhere (Vienna, Boston)' and the rest."""
    places = sorted({str(c.drop_detail.get("place", "")) for c in elsewhere} - {""})
    where = f" ({', '.join(places[:5])})" if places else ""
    named = f"named {name} " if name else "of the same name "
    total = len(candidates)
    if len(elsewhere) == total:
        return f"{total} files found, all of places {named}elsewhere{where}"
    parts = [f"{len(elsewhere)} of places {named}elsewhere{where}"]
    not_photo = sum(1 for c in candidates if c.relevance == NOT_A_PHOTO)
    unknown = sum(1 for c in candidates if not c.drop and tier(c) == UNKNOWN)
    other = total - len(elsewhere) - not_photo - unknown
    if not_photo:
        parts.append(f"{not_photo} not photos (plans, maps, arms, logos)")
    if unknown:
        parts.append(f"{unknown} with nothing showing they are of this {name or 'place'}")
    if other:
        parts.append(f"{other} filtered out (too small, not raster, ...)")
    return f"{total} files found, no photo of it: " + ", ".join(parts)
