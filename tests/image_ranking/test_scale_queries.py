"""A big city costs the review page no more queries than a small one (issue 24; the
figures are ``bench/bench_scale.py``'s)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cities.models import City, PoiList, PointOfInterest
from image_ranking.models import SelectedImage

pytestmark = pytest.mark.django_db


def _lists(city: City, count: int) -> None:
    """``count`` lists of the city, each with a POI that has an image."""
    start = PoiList.objects.count()
    for n in range(start, start + count):
        poi = PointOfInterest.objects.create(
            city=city, name=f"Place {n}", category="see", image_file=f"x/{n}.jpg"
        )
        SelectedImage.objects.create(poi=poi, chosen_by="ranker", file_name=f"x/{n}.jpg")
        PoiList.objects.create(city=city, name=f"List {n}").pois.add(poi)


@pytest.mark.parametrize("page", ["image_ranking:review", "image_ranking:queue"])
def test_the_list_filter_costs_one_query_however_many_lists(page, django_assert_max_num_queries):
    """Each list is named with its city ("Essentials (Paris)"): the filter's choices read
    the lists with their cities in one query (a 10,000-POI city has 50 lists)."""
    client = Client()
    client.force_login(get_user_model().objects.create_user("c", password="pw", is_staff=True))
    city = City.objects.create(name="Paris", slug="paris")
    _lists(city, 2)
    with CaptureQueriesContext(connection) as few:
        assert client.get(reverse(page)).status_code == 200
    _lists(city, 10)
    with django_assert_max_num_queries(len(few)):
        assert client.get(reverse(page)).status_code == 200
