from __future__ import annotations

import re

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile

from cities.models import PoiList, PointOfInterest, Validation, poi_image_path
from tests.factories import make_city

pytestmark = pytest.mark.django_db


@pytest.fixture
def city():
    return make_city(country="France")


def test_poi_belongs_to_city_and_cascades(city, poi):
    Validation.objects.create(context="x", aggregate="y", description="z", city=city, poi=poi)
    assert list(city.pois.all()) == [poi]
    city.delete()
    assert not PointOfInterest.objects.exists()
    assert not Validation.objects.exists()


def test_lists_related_name(city, poi):
    other = PointOfInterest.objects.create(city=city, name="Louvre Museum", category="see")
    landmarks = PoiList.objects.create(city=city, name="Landmarks")
    landmarks.pois.add(poi)
    assert list(poi.lists.all()) == [landmarks]
    assert not other.lists.exists()
    assert list(PointOfInterest.objects.filter(lists__isnull=False)) == [poi]


def test_wikidata_id_is_validated(city):
    poi = PointOfInterest(city=city, name="A", category="see", wikidata_id="243")
    with pytest.raises(ValidationError, match="Wikidata"):
        poi.full_clean()
    poi.wikidata_id = "Q243"
    poi.full_clean()


def test_poi_image_path_is_stable_and_collision_free(city, poi):
    first = poi_image_path(poi, "Photo.JPEG")
    second = poi_image_path(poi, "Photo.JPEG")
    assert first.startswith("cities/images/paris/")
    assert re.fullmatch(rf"cities/images/paris/{poi.pk}-eiffel-tower-[0-9a-f]{{12}}\.jpeg", first)
    assert first != second
    assert poi_image_path(poi, "evil.php").endswith(".jpg")
    assert poi_image_path(poi, "../../etc/passwd").startswith("cities/images/paris/")


def test_delete_image_file_removes_file(poi, settings):
    poi.image_file.save("x.jpg", ContentFile(b"data"), save=True)
    path = settings.MEDIA_ROOT / poi.image_file.name
    assert path.exists()
    poi.delete_image_file()
    assert not path.exists()
    poi.refresh_from_db()
    assert not poi.image_file


def test_delete_image_file_when_file_already_gone(poi, settings):
    poi.image_file.save("x.jpg", ContentFile(b"data"), save=True)
    (settings.MEDIA_ROOT / poi.image_file.name).unlink()
    poi.delete_image_file()
    poi.refresh_from_db()
    assert not poi.image_file


def test_delete_image_file_without_file(poi):
    poi.delete_image_file()
    assert not poi.image_file
