"""Relevance judging on plain dataclasses: no database, no network."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from image_ranking.pipeline.relevance import (
    assessment_bonus,
    distance_m,
    judge,
    normalise,
)
from image_ranking.poi import PoiInfo

GRAZ = (47.0737, 15.4375)
CLOCK = PoiInfo(
    pk=1,
    name="Clock Tower",
    wikidata_id="Q1030437",
    city_name="Graz",
    latitude=GRAZ[0],
    longitude=GRAZ[1],
)


@dataclass(frozen=True)
class File:
    title: str
    categories: tuple[str, ...] = ()
    assessments: tuple[str, ...] = ()
    latitude: float | None = None
    longitude: float | None = None
    description: str = ""
    object_name: str = ""
    found_by: tuple[str, ...] = ()
    source: str = "commons"
    mime: str = "image/jpeg"


@dataclass(frozen=True)
class Item:
    qid: str
    image: str | None = None
    commons_category: str | None = None
    coordinates: tuple[float, float] | None = None
    commonswiki: str | None = None
    labels: dict[str, str] = field(default_factory=dict)


ITEM = Item("Q1030437", image="File:Grazer Uhrturm.jpg", commons_category="Clock Tower (Graz)")


def test_normalise_folds_case_accents_and_punctuation():
    assert normalise("Café-Central (Wien)") == "cafe central wien"


def test_distance_is_metres_on_the_sphere():
    assert distance_m(GRAZ, GRAZ) == 0
    assert distance_m((48.0, 16.0), (48.0, 16.0 + 1 / 60)) == pytest.approx(1240, rel=0.01)


@pytest.mark.parametrize(
    ("file", "evidence"),
    [
        (File("File:Grazer Uhrturm.jpg"), "Wikidata image"),
        (File("File:DSC01.jpg", found_by=("depicts",)), "depicts Q1030437"),
        (
            File("File:DSC02.jpg", categories=("Clock Tower (Graz)",)),
            "in Category:Clock Tower (Graz)",
        ),
        (
            File("File:DSC03.jpg", categories=("Clock Tower in Graz at night",)),
            "in Category:Clock Tower in Graz at night",
        ),
    ],
)
def test_verified_evidence(file, evidence):
    judgement = judge(file, CLOCK, ITEM)
    assert judgement.verdict == "verified"
    assert evidence in judgement.evidence
    assert not judgement.dropped and judgement.strength > 3


def test_namesake_in_another_citys_category_is_dropped_with_the_reason():
    judgement = judge(
        File("File:Clock tower.jpg", categories=("Clock Tower (Boston)",)), CLOCK, ITEM
    )
    assert judgement.verdict == "elsewhere" and judgement.dropped
    assert judgement.reason == "elsewhere: Category:Clock Tower (Boston)"
    assert judgement.place == "Boston"


def test_far_geotag_is_elsewhere_near_geotag_is_likely():
    far = judge(File("File:Clock Tower.jpg", latitude=42.36, longitude=-71.06), CLOCK, ITEM)
    assert far.verdict == "elsewhere" and far.reason.endswith("km away")
    near = judge(File("File:IMG_1.jpg", latitude=47.0740, longitude=15.4378), CLOCK, None)
    assert near.verdict == "likely" and near.evidence == ("40 m away",)


def test_verified_evidence_outweighs_a_far_geotag():
    # A view of the tower from a hill 6 km away, in the tower's own category.
    file = File("File:View.jpg", categories=("Clock Tower (Graz)",), latitude=47.12, longitude=15.5)
    assert judge(file, CLOCK, ITEM).verdict == "verified"


def test_item_coordinates_stand_in_for_the_pois():
    poi = PoiInfo(pk=2, name="Clock Tower", city_name="Graz")
    item = Item("Q1", coordinates=GRAZ)
    assert (
        judge(File("File:X.jpg", latitude=40.0, longitude=-3.0), poi, item).verdict == "elsewhere"
    )
    assert judge(File("File:X.jpg", latitude=40.0, longitude=-3.0), poi, None).verdict == "unknown"


def test_name_and_city_in_the_text_is_likely_name_alone_is_unknown():
    named = File("File:Clock Tower.jpg", description="The Clock Tower seen from the Graz old town")
    assert judge(named, CLOCK, None).verdict == "likely"
    assert judge(File("File:Clock Tower.jpg"), CLOCK, None).verdict == "unknown"


def test_description_naming_another_place_is_elsewhere():
    file = File("File:Clock tower 2.jpg", description="The Clock Tower in Boston, Massachusetts")
    judgement = judge(file, CLOCK, None)
    assert judgement.verdict == "elsewhere" and judgement.place == "Boston"
    # ... but not a season, nor the POI's own city.
    winter = File("File:Clock tower 4.jpg", description="Clock Tower in Winter")
    assert judge(winter, CLOCK, None).verdict == "unknown"
    home = File("File:Clock tower 3.jpg", description="Clock Tower in Graz at dusk")
    assert judge(home, CLOCK, None).verdict == "likely"


@pytest.mark.parametrize(
    ("file", "word"),
    [
        (
            File("File:Uhrturm.jpg", categories=("Clock Tower (Graz)", "Floor plans of towers")),
            "Floor plans",
        ),
        (File("File:Graz Wappen.jpg", categories=("Coats of arms of Graz",)), "Coats of arms"),
        (File("File:Clock Tower ground plan.jpg"), "ground plan"),
    ],
)
def test_plans_maps_and_arms_are_not_photos_even_in_the_pois_category(file, word):
    judgement = judge(file, CLOCK, ITEM)
    assert judgement.verdict == "not_a_photo" and judgement.dropped
    assert word.lower() in judgement.reason.lower()


def test_unique_name_with_a_plain_photo_is_unknown_not_dropped():
    poi = PoiInfo(pk=3, name="Kunsthaus Graz", city_name="Graz")
    judgement = judge(File("File:Kunsthaus.jpg", categories=("Modern architecture",)), poi, None)
    assert judgement.verdict == "unknown" and not judgement.dropped


def test_poi_without_city_or_coordinates_still_judges_from_the_item():
    poi = PoiInfo(pk=4, name="Clock Tower")
    assert judge(File("File:Grazer Uhrturm.jpg"), poi, ITEM).verdict == "verified"
    assert (
        judge(File("File:A.jpg", categories=("Clock Tower (Boston)",)), poi, ITEM).verdict
        == "elsewhere"
    )


def test_assessment_bonus_is_weighted_and_tunable(settings):
    assert assessment_bonus(["featured", "quality"]) == pytest.approx(0.5)
    assert assessment_bonus(["valued"]) == pytest.approx(0.2)
    assert assessment_bonus([]) == 0
    settings.IMAGE_RANKING_RELEVANCE_ASSESSMENT_WEIGHT = 2.0
    assert assessment_bonus(["quality"]) == pytest.approx(1.2)
