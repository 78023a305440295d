"""Every tile says why: its relevance tier, its score as a rank among the POI's candidates,
and on the current image why it is the one shown.

Scores crowd between 5 and 6, so a difference of 0.1 means little to a person; "2nd of 5
scored here" does. The current image's reason follows the decide stage's rules
(``pipeline.decide``): relevance tier first, then score; a ranked image is replaced only
by a file scored higher by the same scorer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from image_ranking.models import ImageCandidate, SelectedImage
from image_ranking.pipeline.decide import TIERS, decide, tier
from image_ranking.views.tiles import Tile

# What a tier says about the place, in a sentence's middle ("the better one is of ...").
PLACE = {
    "verified": "this place (verified)",
    "likely": "likely this place",
    "unknown": "an unknown place",
}


def tier_label(relevance: str) -> str:
    """ "Shows this POI (verified)": the model's wording for the tier, '' if not judged."""
    if not relevance:
        return ""
    return str(ImageCandidate.Relevance(relevance).label) if relevance in _VALUES else ""


_VALUES = set(ImageCandidate.Relevance.values)


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def scored(candidates: Iterable[ImageCandidate]) -> list[ImageCandidate]:
    """The POI's kept, scored candidates, best score first."""
    rows = [c for c in candidates if not c.drop and c.score is not None]
    return sorted(rows, key=lambda c: -(c.score or 0.0))


def rank_text(candidate: ImageCandidate | None, ranking: Sequence[ImageCandidate]) -> str:
    """ "best of 3 scored here", "2nd of 3 scored here"; '' when it has no rank."""
    sha1s = [c.sha1 or c.pk for c in ranking]
    key = candidate and (candidate.sha1 or candidate.pk)
    if not key or key not in sha1s or len(ranking) < 2:
        return ""
    place = sha1s.index(key) + 1
    head = "best" if place == 1 else _ordinal(place)
    return f"{head} of {len(ranking)} scored here"


def explain_tiles(tiles: Iterable[Tile], candidates: Sequence[ImageCandidate]) -> None:
    """Give each tile its tier wording and its rank among ``candidates`` (one POI's)."""
    ranking = scored(candidates)
    for tile in tiles:
        tile.tier = tier_label(tile.relevance)
        tile.rank = rank_text(tile.candidate, ranking)


def why_current(
    selected: SelectedImage | None, candidates: Sequence[ImageCandidate], threshold: float
) -> str:
    """Why the current image is the one shown, in the decide stage's terms."""
    if selected is None:
        return ""
    if selected.chosen_by == SelectedImage.ChosenBy.CURATOR:
        user = selected.chosen_by_user
        return f"Chosen by {user.get_username() if user else 'a curator'}."
    if selected.chosen_by == SelectedImage.ChosenBy.FALLBACK:
        return "Category fallback: no photo of it passed."
    current = next((c for c in candidates if selected.sha1 and c.sha1 == selected.sha1), None)
    winner = decide(candidates, threshold).winner
    if winner is None:
        return f"Kept: no candidate reaches the threshold {threshold}."
    if current is not None and winner.sha1 == current.sha1:
        return _won(current, candidates)
    return _kept(selected, current, winner)


def _won(current: ImageCandidate, candidates: Sequence[ImageCandidate]) -> str:
    level = tier(current)
    text = f"Best {level} photo" if level != "unknown" else "Best-scored photo"
    higher = [
        c
        for c in scored(candidates)
        if c.sha1 != current.sha1 and (c.score or 0) > (current.score or 0)
    ]
    if higher:
        lower_tier = sum(1 for c in higher if TIERS.index(tier(c)) > TIERS.index(level))
        if lower_tier == len(higher):
            better = "one scores" if len(higher) == 1 else f"{len(higher)} score"
            return f"{text}: {better} higher but of {PLACE[tier(higher[0])]}."
    return f"{text}."


def _kept(selected: SelectedImage, current: ImageCandidate | None, winner: ImageCandidate) -> str:
    name = winner.title.removeprefix("File:")
    if current is not None and TIERS.index(tier(winner)) > TIERS.index(tier(current)):
        return f"Kept: the better-scored {name} is of {PLACE[tier(winner)]}."
    same = (selected.scorer_name, selected.scorer_version) == (
        winner.scorer_name,
        winner.scorer_version,
    )
    if not same or selected.score is None:
        return (
            "Kept: replaced only by a file scored higher by the same scorer "
            f"({name} was scored by another)."
        )
    if (winner.score or 0) <= selected.score:
        return f"Kept: it scores {selected.score:.2f}, {name} {winner.score:.2f}."
    return f"{name} scores higher: the next ranking run replaces this one."
