"""Every tile says why: tier wording, rank among the POI's candidates, why the current
image is the one shown (pure functions on unsaved rows: no database)."""

from __future__ import annotations

from image_ranking.drops import Drop
from image_ranking.models import ImageCandidate, SelectedImage
from image_ranking.views.explain import rank_text, scored, tier_label, why_current

THRESHOLD = 5.0


def cand(sha1, score, relevance="verified", scorer=("aesthetic", "1"), **extra):
    return ImageCandidate(
        pk=int(sha1, 16),
        title=f"File:{sha1}.jpg",
        sha1=sha1,
        score=score,
        relevance=relevance,
        scorer_name=scorer[0],
        scorer_version=scorer[1],
        **extra,
    )


def ranked(sha1, score, scorer=("aesthetic", "1")):
    return SelectedImage(
        chosen_by=SelectedImage.ChosenBy.RANKER,
        sha1=sha1,
        score=score,
        scorer_name=scorer[0],
        scorer_version=scorer[1],
    )


def test_the_winner_says_it_is_the_best_verified_photo_and_why_better_scores_lost():
    # The case: two files score higher than the current image, but nothing shows
    # they are of this place; the current one is verified.
    rows = [cand("a1", 5.58), cand("b2", 5.92, "unknown"), cand("c3", 5.81, "unknown")]
    why = why_current(ranked("a1", 5.58), rows, THRESHOLD)
    assert why == "Best verified photo: 2 score higher but of an unknown place."
    assert why_current(ranked("a1", 5.58), rows[:1], THRESHOLD) == "Best verified photo."


def test_kept_because_only_a_file_scored_by_the_same_scorer_replaces_it():
    rows = [cand("b2", 6.5, scorer=("aesthetic", "2"))]  # the current file is not listed
    why = why_current(ranked("a1", 5.58), rows, THRESHOLD)
    assert why == (
        "Kept: replaced only by a file scored higher by the same scorer "
        "(b2.jpg was scored by another)."
    )
    assert why_current(ranked("a1", 7.0), [cand("b2", 6.5)], THRESHOLD) == (
        "Kept: it scores 7.00, b2.jpg 6.50."
    )


def test_curator_choices_and_no_passing_candidate_say_so():
    chosen = SelectedImage(chosen_by=SelectedImage.ChosenBy.CURATOR, sha1="a1")
    assert why_current(chosen, [cand("a1", 5.0)], THRESHOLD) == "Chosen by a curator."
    low = [cand("a1", 4.0), cand("b2", 3.0)]
    assert why_current(ranked("a1", 4.0), low, THRESHOLD) == (
        "Kept: no candidate reaches the threshold 5.0."
    )


def test_rank_among_the_pois_scored_candidates_and_tier_wording():
    rows = [cand("a1", 5.1), cand("b2", 5.9), cand("c3", 5.5), cand("d4", None)]
    rows.append(
        cand("e5", 9.0, drop=Drop.TOO_SMALL, drop_detail={"width": 320, "min_width": 640})
    )  # not ranked
    order = scored(rows)
    assert [rank_text(r, order) for r in rows[:4]] == [
        "3rd of 3 scored here",
        "best of 3 scored here",
        "2nd of 3 scored here",
        "",
    ]
    assert tier_label("verified") == "Shows this POI (verified)"
    assert tier_label("") == tier_label("nonsense") == ""
