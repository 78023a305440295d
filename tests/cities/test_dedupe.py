from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from cities.dedupe import (
    VALIDATION_AGGREGATE,
    VALIDATION_CONTEXT,
    auto_merge_duplicates,
    haversine_m,
    normalise_name,
)
from cities.models import City, PoiList, PointOfInterest, Validation
from image_ranking.models import ImageCandidate, ImageTrainingData, RankingState, SelectedImage
from tests.factories import make_poi

# One metre of latitude, in degrees (1 degree is about 111.2 km).
M = 1 / 111_195

BASE_LAT, BASE_LON = 48.858400, 2.294500


def poi(city, name, north_m=None, category="see", wikidata_id="", image=None):
    lat = lon = None
    if north_m is not None:
        lat = Decimal(str(round(BASE_LAT + north_m * M, 6)))
        lon = Decimal(str(BASE_LON))
    p = make_poi(
        city, name, category=category, latitude=lat, longitude=lon, wikidata_id=wikidata_id
    )
    if image:
        p.image_file.save(f"{image}.jpg", ContentFile(b"jpeg bytes of " + image.encode()))
    return p


def listed(city, name, *pois):
    pl, _ = PoiList.objects.get_or_create(city=city, name=name)
    pl.pois.add(*pois)
    return pl


def merge_validations():
    return Validation.objects.filter(context=VALIDATION_CONTEXT, aggregate=VALIDATION_AGGREGATE)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("The Louvre", "louvre"),
        ("Le Louvre!", "Louvre"),
        ("Musée d'Orsay", "Musee d Orsay"),
        ("L'Arc de Triomphe", "Arc de Triomphe"),
        ("Shakespeare & Company", "Shakespeare and Company"),
        ("  Sainte-Chapelle ", "sainte chapelle"),
        ("Sacré-Cœur", "Sacre Coeur"),
    ],
)
def test_names_that_normalise_alike(a, b):
    assert normalise_name(a) == normalise_name(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [("Musée du Louvre", "Musée de l'Orangerie"), ("Pont Neuf", "Pont des Arts")],
)
def test_different_names_stay_different(a, b):
    assert normalise_name(a) != normalise_name(b)


def test_a_name_of_articles_only_is_not_emptied():
    assert normalise_name("The") == "the"


def test_haversine_matches_a_known_distance():
    # Eiffel Tower to the Louvre pyramid: 300 m north, 3,021 m east (at 48.86 deg N).
    assert haversine_m(48.8584, 2.2945, 48.8611, 2.3358) == pytest.approx(3036, abs=3)
    assert haversine_m(BASE_LAT, BASE_LON, BASE_LAT + 50 * M, BASE_LON) == pytest.approx(50, 0.01)


def test_merges_by_name_moving_lists_and_filling_blanks(city):
    plain = poi(city, "Eiffel Tower", north_m=0)
    rich = poi(city, "The Eiffel Tower", north_m=20, wikidata_id="Q243")
    listed(city, "Landmarks", plain)
    listed(city, "Views", plain, rich)
    listed(city, "Romance", rich)

    result = auto_merge_duplicates(city)

    assert result.merged == 1 and result.uncertain == 0
    assert list(PointOfInterest.objects.filter(city=city)) == [rich]
    rich.refresh_from_db()
    assert rich.wikidata_id == "Q243"
    assert sorted(rich.lists.values_list("name", flat=True)) == ["Landmarks", "Romance", "Views"]
    assert PoiList.objects.get(name="Views").pois.count() == 1
    assert not merge_validations().exists()
    assert result.as_dict()["merges"][0]["dropped_name"] == "Eiffel Tower"


def test_the_kept_record_takes_blank_fields_from_the_dropped_one(city):
    with_qid = poi(city, "Panthéon", wikidata_id="Q188856")  # no coordinates
    with_coords = poi(city, "Pantheon", north_m=0)
    # Same Wikidata id? No: only one has it, so names decide, and coordinates are unknown.
    result = auto_merge_duplicates(city)
    assert result.merged == 1
    kept = PointOfInterest.objects.get(city=city)
    assert kept.pk == with_qid.pk  # ties broken by the older record
    assert (kept.latitude, kept.longitude) == (with_coords.latitude, with_coords.longitude)
    assert kept.wikidata_id == "Q188856"


@pytest.mark.parametrize(
    ("name_a", "name_b", "metres", "merged", "unsure"),
    [
        ("Pont Neuf", "pont neuf", 45, True, False),  # same as written: sure up to 50 m
        ("Le Pont Neuf", "Pont-Neuf", 25, True, False),  # normalised, close: sure
        ("Le Pont Neuf", "Pont-Neuf", 40, True, True),  # normalised, 30-50 m: checked
        ("Pont Neuf", "Pont Neuf", 60, False, False),  # too far apart: two places
    ],
)
def test_distance_and_name_decide_sure_and_unsure_merges(
    city, name_a, name_b, metres, merged, unsure
):
    poi(city, name_a, north_m=0)
    poi(city, name_b, north_m=metres)
    result = auto_merge_duplicates(city)
    assert result.merged == int(merged)
    assert result.uncertain == int(unsure)
    assert merge_validations().count() == int(unsure)
    if unsure:
        v = merge_validations().get()
        assert v.city == city and v.poi.name in (name_a, name_b)
        assert "40 m apart" in v.description and "different places" in v.description


def test_same_name_without_coordinates_is_merged_but_reported(city):
    poi(city, "Café de Flore", north_m=0, category="eat")
    poi(city, "Cafe de Flore", category="eat")
    result = auto_merge_duplicates(city)
    assert (result.merged, result.uncertain) == (1, 1)
    assert "no coordinates" in merge_validations().get().description


def test_shared_wikidata_id_merges_different_names(city):
    poi(city, "Eiffel Tower", north_m=0, wikidata_id="Q243")
    poi(city, "Tour Eiffel", north_m=10, wikidata_id="Q243")
    result = auto_merge_duplicates(city)
    assert (result.merged, result.uncertain) == (1, 0)


def test_shared_wikidata_id_far_apart_is_merged_and_reported(city):
    poi(city, "Eiffel Tower", north_m=0, wikidata_id="Q243")
    poi(city, "Eiffel Tower viewpoint", north_m=900, wikidata_id="Q243")
    result = auto_merge_duplicates(city)
    assert (result.merged, result.uncertain) == (1, 1)
    assert "Q243" in merge_validations().get().description


def test_different_wikidata_ids_are_never_merged(city):
    poi(city, "Notre-Dame", north_m=0, wikidata_id="Q2981")
    poi(city, "Notre Dame", north_m=5, wikidata_id="Q9999")
    # A third record without an id must not bridge the two either.
    poi(city, "Notre Dame", north_m=3)
    result = auto_merge_duplicates(city)
    assert result.merged == 1
    assert set(PointOfInterest.objects.values_list("wikidata_id", flat=True)) == {"Q2981", "Q9999"}


def test_different_categories_are_reported_not_merged(city):
    poi(city, "Le Louvre", north_m=0, category="see")
    poi(city, "Louvre", north_m=15, category="eat")
    result = auto_merge_duplicates(city)
    assert result.merged == 0 and len(result.skipped) == 1
    assert PointOfInterest.objects.count() == 2
    assert "not merged" in merge_validations().get().description


def test_other_cities_are_left_alone(city):
    lyon = City.objects.create(name="Lyon", slug="lyon")
    poi(city, "Hôtel de Ville", north_m=0)
    poi(lyon, "Hôtel de Ville", north_m=0)
    poi(lyon, "Hotel de Ville", north_m=5)
    assert auto_merge_duplicates("paris").merged == 0
    assert PointOfInterest.objects.filter(city=lyon).count() == 2


def test_running_again_changes_nothing_and_reports_once(city):
    poi(city, "Le Pont Neuf", north_m=0)
    poi(city, "Pont-Neuf", north_m=40)
    assert auto_merge_duplicates(city).merged == 1
    assert auto_merge_duplicates(city).merged == 0
    # A re-import re-creates the dropped name; merging it again adds no second report.
    dropped_name = ({"Le Pont Neuf", "Pont-Neuf"} - {PointOfInterest.objects.get().name}).pop()
    poi(city, dropped_name, north_m=0 if dropped_name == "Le Pont Neuf" else 40)
    assert auto_merge_duplicates(city).merged == 1
    assert merge_validations().count() == 1


def test_three_records_collapse_into_the_richest(city):
    a = poi(city, "Sacré-Cœur", north_m=0)
    b = poi(city, "Sacre Coeur", north_m=20, wikidata_id="Q188619")
    c = poi(city, "Le Sacré Cœur", north_m=10)
    listed(city, "Hills", a, c)
    result = auto_merge_duplicates(city)
    assert result.merged == 2
    assert list(PointOfInterest.objects.all()) == [b]
    assert list(b.lists.values_list("name", flat=True)) == ["Hills"]


def _ranking_rows(p, title="File:A.jpg", chosen_by=SelectedImage.ChosenBy.RANKER):
    cand = ImageCandidate.objects.create(
        poi=p, title=title, image_url=f"https://upload.wikimedia.org/{title}", score=6.0
    )
    if p.image_file:
        SelectedImage.objects.create(
            poi=p, candidate=cand, chosen_by=chosen_by, file_name=p.image_file.name, title=title
        )
    RankingState.objects.create(poi=p, outcome="updated" if p.image_file else "no_image")
    ImageTrainingData.objects.create(
        poi=p, image_url=f"https://upload.wikimedia.org/{title}", image_label="good"
    )
    return cand


def test_the_image_and_its_ranking_rows_follow_to_the_kept_poi(
    city, django_capture_on_commit_callbacks
):
    # The record with more fields is kept; only the other one has an image.
    kept = poi(city, "Musée d'Orsay", north_m=0, wikidata_id="Q23402")
    with_image = poi(city, "Musee d'Orsay", north_m=5, image="orsay")
    listed(city, "Museums", with_image)
    _ranking_rows(kept, "File:Old.jpg")
    _ranking_rows(with_image, "File:Orsay.jpg")
    image_name = with_image.image_file.name

    with django_capture_on_commit_callbacks(execute=True):
        result = auto_merge_duplicates(city)

    assert result.merges[0].kept_id == kept.pk
    survivor = PointOfInterest.objects.get()
    assert survivor.pk == kept.pk and survivor.wikidata_id == "Q23402"
    assert survivor.image_file.name == image_name and default_storage.exists(image_name)
    assert list(survivor.lists.values_list("name", flat=True)) == ["Museums"]
    # The provenance and the ranking state follow the image; the kept POI's "no image"
    # state is replaced.
    assert SelectedImage.objects.get().poi == survivor
    assert SelectedImage.objects.get().title == "File:Orsay.jpg"
    assert RankingState.objects.get().poi == survivor
    assert RankingState.objects.get().outcome == "updated"
    assert set(ImageCandidate.objects.values_list("poi", "title")) == {
        (survivor.pk, "File:Old.jpg"),
        (survivor.pk, "File:Orsay.jpg"),
    }
    assert ImageTrainingData.objects.filter(poi=survivor).count() == 2


def test_the_kept_image_stays_and_the_dropped_file_goes_after_commit(
    city, django_capture_on_commit_callbacks
):
    kept = poi(city, "Opéra Garnier", north_m=0, wikidata_id="Q191710", image="kept")
    other = poi(city, "Opera Garnier", north_m=8, image="other")
    _ranking_rows(kept, "File:Opera.jpg")
    _ranking_rows(other, "File:Opera.jpg")
    ImageCandidate.objects.create(
        poi=other, title="File:Other.jpg", image_url="https://upload.wikimedia.org/o.jpg"
    )
    other_file = other.image_file.name

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        auto_merge_duplicates(city)
        assert default_storage.exists(other_file)  # not before the commit

    assert len(callbacks) == 1 and not default_storage.exists(other_file)
    survivor = PointOfInterest.objects.get()
    assert survivor.pk == kept.pk and default_storage.exists(survivor.image_file.name)
    # The discarded image's provenance went with it; the kept one's stays.
    assert SelectedImage.objects.get().file_name == survivor.image_file.name
    # Same Commons title: the kept POI's own candidate stays, the other one cascaded.
    assert sorted(ImageCandidate.objects.values_list("title", flat=True)) == [
        "File:Opera.jpg",
        "File:Other.jpg",
    ]
    assert ImageCandidate.objects.filter(poi=survivor).count() == 2


def test_a_curators_image_replaces_a_ranked_one(city, django_capture_on_commit_callbacks):
    ranked = poi(city, "Place des Vosges", north_m=0, image="ranked")
    curated = poi(city, "La Place des Vosges", north_m=10, image="curated")
    _ranking_rows(ranked, "File:Ranked.jpg")
    _ranking_rows(curated, "File:Curated.jpg", chosen_by=SelectedImage.ChosenBy.CURATOR)
    ranked_file, curated_file = ranked.image_file.name, curated.image_file.name

    with django_capture_on_commit_callbacks(execute=True):
        result = auto_merge_duplicates(city)

    assert result.merges[0].kept_id == ranked.pk  # tie on fields: the older record
    survivor = PointOfInterest.objects.get()
    assert survivor.image_file.name == curated_file
    assert not default_storage.exists(ranked_file) and default_storage.exists(curated_file)
    selected = SelectedImage.objects.get()
    assert (selected.poi, selected.chosen_by) == (survivor, SelectedImage.ChosenBy.CURATOR)


def test_a_failure_rolls_the_whole_merge_back(city, monkeypatch):
    import cities.dedupe as dedupe

    a = poi(city, "Pont Neuf", north_m=0)
    b = poi(city, "Pont Neuf", north_m=5)
    listed(city, "Bridges", b)

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(dedupe, "_move_one_to_one", boom)
    with pytest.raises(RuntimeError):
        auto_merge_duplicates(city)
    assert PointOfInterest.objects.count() == 2
    assert list(PoiList.objects.get().pois.all()) == [b]
    assert a.pk  # untouched


def test_image_priority_is_keyed_by_the_apps_exported_names():
    """dedupe compares the app's exported ChosenBy values, not strings of its own."""
    from image_ranking.choices import IMAGE_PRIORITY, ChosenBy
    from image_ranking.models import SelectedImage

    assert SelectedImage.ChosenBy is ChosenBy
    assert set(IMAGE_PRIORITY) == set(ChosenBy.values)
    assert IMAGE_PRIORITY[ChosenBy.CURATOR] > IMAGE_PRIORITY[ChosenBy.RANKER]
    assert IMAGE_PRIORITY[ChosenBy.RANKER] > IMAGE_PRIORITY[ChosenBy.FALLBACK]
