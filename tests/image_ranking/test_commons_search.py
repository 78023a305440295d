"""The search plan per POI (pure functions; the client runs it in test_wikimedia)."""

from __future__ import annotations

import pytest

from image_ranking.commons import search as cs
from image_ranking.commons.records import Candidate, WikidataItem
from image_ranking.poi import PoiInfo

GRAZ = (47.0707, 15.4395)


def cand(title="File:A.jpg", **fields) -> Candidate:
    return Candidate(title, "u", "t", 330, 248, 2000, 1500, "image/jpeg", "s", "p", **fields)


def page(count: int, **fields) -> list[Candidate]:
    return [cand(f"File:{n}.jpg", **fields) for n in range(count)]


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("Café de Flore", "Café de Flore"),
        ('incategory:"X" -Graz', "incategory X Graz"),
        ("St. Peter's (old)", "St. Peter's old"),
        ("Saint-Germain", "Saint-Germain"),
        ("--- | ***", ""),
    ],
)
def test_search_words_drop_syntax(name, words):
    assert cs.search_words(name) == words


def test_first_query_prefers_the_category():
    item = WikidataItem("Q1", commons_category='Odd "quoted" name')
    assert cs.first_query(PoiInfo(1, "Name"), item) == cs.Query(
        'incategory:"Odd  quoted  name" filetype:bitmap', ("category",)
    )
    gallery = WikidataItem("Q1", commonswiki="Eiffel Tower")  # a gallery, not a category
    assert cs.first_query(PoiInfo(1, "Eiffel Tower"), gallery).found_by == ("name",)
    assert cs.first_query(PoiInfo(1, "()"), None) is None


def test_a_full_category_needs_no_second_query():
    item = WikidataItem("Q1", commons_category="X")
    first = cs.first_query(PoiInfo(1, "X"), item)
    assert cs.second_query(PoiInfo(1, "X"), item, first, page(3), 10) is None
    # Two usable files and a plan: look further, by name.
    thin = page(2) + [cand("File:Plan.jpg", drop="title_not_photo", drop_detail={"word": "map"})]
    second = cs.second_query(PoiInfo(1, "X", "Q1", "Graz"), item, first, thin, 10)
    assert second == cs.Query("X Graz", ("name",))
    assert not second.ranks_first  # the category's files stay first


def test_name_page_with_this_place_needs_no_second_query():
    poi = PoiInfo(1, "Old Bridge", "", "Aldmere", *GRAZ)
    first = cs.first_query(poi, None)
    here = page(3, categories=("Bridges in Aldmere",)) + page(7, latitude=42.36, longitude=-71.06)
    assert cs.second_query(poi, None, first, here, 10) is None
    far = page(10, latitude=42.36, longitude=-71.06)
    second = cs.second_query(poi, None, first, far, 10)
    assert second.search == "Old Bridge Aldmere" and second.ranks_first


def test_files_without_any_evidence_do_not_trigger_a_second_query():
    poi = PoiInfo(1, "Old Bridge", "", "Aldmere", *GRAZ)
    first = cs.first_query(poi, None)
    assert cs.second_query(poi, None, first, page(10), 10) is None


def test_city_in_the_name_narrows_by_coordinates_instead():
    poi = PoiInfo(1, "Graz Opera", "", "Graz", *GRAZ)
    assert cs.narrow_query(poi, None, GRAZ).found_by == ("geo",)


def test_evidence_here_and_elsewhere():
    poi = PoiInfo(1, "Old Bridge", "", "Aldmere")
    item = WikidataItem("Q1", commons_category="Old Bridge (X)")
    assert cs.shows_here(cand(categories=("Old Bridge (X)",)), poi, item, None)
    assert cs.shows_here(cand(description="Seen from Aldmere's quay"), poi, None, None)
    assert cs.shows_here(cand(latitude=47.0717, longitude=15.4395), poi, None, GRAZ)
    assert not cs.shows_here(cand(latitude=47.2, longitude=15.4395), poi, None, GRAZ)
    assert cs.shows_elsewhere(cand(latitude=48.2, longitude=16.37), poi, GRAZ)  # Vienna
    assert not cs.shows_elsewhere(cand(latitude=47.08, longitude=15.44), poi, GRAZ)
    assert cs.shows_elsewhere(cand(categories=("Bridges in Boston",)), poi, None)
    assert not cs.shows_elsewhere(cand(categories=("Bridges in Aldmere",)), poi, None)
    assert not cs.shows_elsewhere(cand(), poi, None)


def test_distance():
    assert cs.distance_km(GRAZ, GRAZ) == 0
    assert cs.distance_km((48.2082, 16.3738), GRAZ) == pytest.approx(145, abs=2)  # Vienna
    assert cs.coordinates(PoiInfo(1, "x"), WikidataItem("Q1", coordinates=GRAZ)) == GRAZ
