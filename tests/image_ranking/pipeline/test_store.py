"""The store stage: which files other POIs of the city already show."""

from __future__ import annotations

import pytest

from cities.models import City, PointOfInterest
from image_ranking.models import SelectedImage
from image_ranking.pipeline.store import taken_files

pytestmark = pytest.mark.django_db


def test_taken_files_are_those_of_other_pois_in_the_same_city_not_fallbacks():
    graz, wien = (
        City.objects.create(name="Graz", slug="graz"),
        City.objects.create(name="Wien", slug="wien"),
    )
    me, neighbour, far = (
        PointOfInterest.objects.create(city=c, name=n, category="see")
        for c, n in ((graz, "Me"), (graz, "Neighbour"), (wien, "Far"))
    )
    SelectedImage.objects.create(poi=me, chosen_by="ranker", file_name="a", sha1="mine")
    SelectedImage.objects.create(poi=neighbour, chosen_by="ranker", file_name="b", sha1="shared")
    SelectedImage.objects.create(poi=far, chosen_by="ranker", file_name="c", sha1="vienna")
    wanted = ["mine", "shared", "vienna", "fallback", ""]
    assert taken_files(me, wanted) == {"shared"}
    SelectedImage.objects.filter(poi=neighbour).update(chosen_by="fallback")
    assert taken_files(me, wanted) == frozenset()
