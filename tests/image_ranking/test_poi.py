from __future__ import annotations

from decimal import Decimal

import pytest

from cities.models import PointOfInterest
from image_ranking.poi import PoiAdapter, get_poi_adapter
from tests.factories import make_city, make_poi

pytestmark = pytest.mark.django_db


@pytest.fixture
def poi():
    return make_poi(
        make_city("Graz"),
        "Clock Tower",
        latitude=Decimal("47.073611"),
        longitude=Decimal("15.437500"),
        wikidata_id="q1030437",
    )


def test_default_contract_reads_the_cities_model(poi):
    adapter = get_poi_adapter()
    info = adapter.info(poi)
    assert info.name == "Clock Tower"
    assert info.city_name == "Graz"
    assert info.wikidata_id == "Q1030437"
    assert info.coordinates == pytest.approx((47.073611, 15.4375))
    assert adapter.city_slug(poi) == "graz"
    assert adapter.category(poi) == "see"
    assert adapter.image_field == "image_file"
    assert adapter.related_paths() == ["city"]


def test_roles_can_be_renamed_or_absent(settings, poi):
    settings.IMAGE_RANKING_POI_FIELDS = {"city_name": "city__slug", "latitude": None}
    adapter = get_poi_adapter()
    assert adapter.city_name(poi) == "graz"
    assert adapter.coordinates(poi) is None
    assert adapter.info(poi).coordinates is None
    assert not adapter.has("latitude")


def test_missing_values_read_as_empty(poi):
    poi.wikidata_id = ""
    poi.latitude = None
    adapter = PoiAdapter()
    assert adapter.wikidata_id(poi) == ""
    assert adapter.coordinates(poi) is None


def test_out_of_range_coordinates_are_ignored(poi):
    poi.latitude = Decimal("123")
    assert PoiAdapter().coordinates(poi) is None


def test_problems_name_what_does_not_resolve():
    adapter = PoiAdapter({"name": "title", "city_name": "city__label", "shape": "x"})
    problems = adapter.problems(PointOfInterest)
    assert any("'name' = 'title'" in p for p in problems)
    assert any("city__label" in p for p in problems)
    assert any("'shape' is not a POI role" in p for p in problems)
    assert PoiAdapter().problems(PointOfInterest) == []
