"""The decide stage on unsaved rows: tiers, the shared-name rule, one photo one POI,
the assessment prior, keeping the current image, and the no-relevant-photo text."""

from __future__ import annotations

import pytest

from image_ranking.drops import Drop
from image_ranking.models import ImageCandidate, SelectedImage
from image_ranking.pipeline.decide import (
    decide,
    no_image_reason,
    scoring_order,
    why_keep_current,
)

SCORER = ("test-brightness", "1")


def cand(title, relevance="unknown", score=None, *, rank=0, drop=(), assessments=(), sha1=""):
    """``drop``: (code, details) of a dropped file."""
    return ImageCandidate(
        title=title,
        relevance=relevance,
        score=score,
        scorer_name=SCORER[0] if score is not None else "",
        scorer_version=SCORER[1] if score is not None else "",
        search_rank=rank,
        drop=drop[0] if drop else "",
        drop_detail=drop[1] if drop else {},
        assessments=list(assessments),
        sha1=sha1 or title,
    )


def namesake_of(name, place):
    return Drop.ELSEWHERE_CATEGORY, {"category": f"{name} ({place})", "place": place}


def test_a_verified_file_wins_over_better_looking_likely_and_unknown_ones():
    rows = [cand("U", "unknown", 9.0), cand("L", "likely", 8.0), cand("V", "verified", 6.0)]
    assert decide(rows, 5.0).winner.title == "V"
    # Below the threshold, the next tier gets its chance.
    assert decide(rows, 7.0).winner.title == "L"


def test_unknown_files_only_when_nothing_relevant_passes_and_the_name_is_unique():
    rows = [cand("U", "unknown", 8.0), cand("V", "verified", 3.0)]
    assert decide(rows, 5.0).winner.title == "U"
    namesake = cand("N", "elsewhere", None, drop=namesake_of("X", "Boston"))
    decision = decide([*rows, namesake], 5.0)
    assert decision.winner is None
    assert [c.title for c in scoring_order([*rows, namesake])] == ["V"]


def test_assessment_prior_lifts_relevant_files_only(settings):
    settings.IMAGE_RANKING_RELEVANCE_ASSESSMENT_WEIGHT = 1.0
    rows = [
        cand("Plain", "verified", 6.5),
        cand("Quality", "verified", 6.0, assessments=["quality"]),
    ]
    assert decide(rows, 5.0).winner.title == "Quality"  # 6.0 + 0.6 > 6.5
    unknown = [
        cand("Plain", "unknown", 6.5),
        cand("Featured", "unknown", 6.0, assessments=["featured"]),
    ]
    assert decide(unknown, 5.0).winner.title == "Plain"


def test_a_file_another_poi_shows_is_skipped_for_the_next_best():
    rows = [cand("Panorama", "verified", 9.0), cand("Own", "verified", 6.0)]
    decision = decide(rows, 5.0, taken={"Panorama"})
    assert decision.winner.title == "Own" and decision.taken == 1


def selected(sha1, score, version="1", chosen_by=SelectedImage.ChosenBy.RANKER):
    return SelectedImage(
        sha1=sha1, score=score, scorer_name=SCORER[0], scorer_version=version, chosen_by=chosen_by
    )


def test_current_image_stays_when_it_could_not_be_re_evaluated():
    # The current file's thumbnail failed this run: only the lower one was scored.
    current = cand("Current", "verified", None, drop=(Drop.THUMBNAIL_RETRY, {"error": "HTTP 404"}))
    rows = [current, cand("Other", "verified", 6.0)]
    decision = decide(rows, 5.0)
    assert decision.winner.title == "Other"
    why = why_keep_current(decision, selected("Current", 8.0), SCORER)
    assert "scores 8.00" in why
    # Under another scorer version nothing can be compared: keep it too.
    why = why_keep_current(decision, selected("Current", 8.0, version="0"), SCORER)
    assert "could not be re-evaluated" in why
    # A file scored higher under the same scorer version replaces it.
    rows[1].score = 8.5
    assert why_keep_current(decide(rows, 5.0), selected("Current", 8.0), SCORER) == ""


def test_current_image_found_to_show_a_namesake_is_replaced():
    current = cand("Current", "elsewhere", 9.0, drop=(Drop.ELSEWHERE_DISTANCE, {"metres": 12_000}))
    decision = decide([current, cand("Own", "verified", 6.0)], 5.0)
    assert why_keep_current(decision, selected("Current", 9.0), SCORER) == ""


def test_current_image_re_scored_now_is_ranked_like_any_other():
    rows = [cand("Current", "verified", 6.0), cand("Better", "verified", 7.0)]
    assert why_keep_current(decide(rows, 5.0), selected("Current", 9.0), SCORER) == ""


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (
            [
                cand("A", "elsewhere", drop=namesake_of("Old Bridge", "Mostar")),
                cand("B", "elsewhere", drop=namesake_of("Old Bridge", "Heidelberg")),
                cand("C", "elsewhere", drop=(Drop.ELSEWHERE_DISTANCE, {"metres": 900_000})),
            ],
            "3 files found, all of places named Old Bridge elsewhere (Heidelberg, Mostar)",
        ),
        (
            [
                cand("A", "elsewhere", drop=namesake_of("Old Bridge", "Mostar")),
                cand("B", "not_a_photo", drop=(Drop.NOT_A_PHOTO_CATEGORY, {"category": "Maps"})),
                cand("C", "unknown", 8.0),
            ],
            "3 files found, no photo of it: 1 of places named Old Bridge elsewhere (Mostar), "
            "1 not photos (plans, maps, arms, logos), 1 with nothing showing they are of this "
            "Old Bridge",
        ),
    ],
)
def test_no_relevant_photo_says_why(rows, expected):
    assert no_image_reason(decide(rows, 5.0), 5.0, "Old Bridge") == expected
