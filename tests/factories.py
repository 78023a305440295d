"""Rows of the host app (``cities``) the tests build: one helper for each, shared.

Imported by tests and by the fixtures in ``tests/conftest.py``; the models are imported
when a helper runs, after pytest-django has set Django up.
"""

from __future__ import annotations

from typing import Any

from django.core.files.base import ContentFile


def make_city(name: str = "Paris", slug: str = "", **fields: Any):
    from cities.models import City

    return City.objects.create(name=name, slug=slug or name.lower(), **fields)


def make_poi(
    city: Any = None,
    name: str = "Eiffel Tower",
    *,
    category: str = "see",
    listed: bool = False,
    image: bytes | None = None,
    **fields: Any,
):
    """A POI of ``city`` (a new Paris when None); ``listed`` adds it to the city's "Best
    of" list, ``image`` stores those bytes as its image."""
    from cities.models import PoiList, PointOfInterest

    city = city if city is not None else make_city()
    poi = PointOfInterest.objects.create(city=city, name=name, category=category, **fields)
    if listed:
        plist, _ = PoiList.objects.get_or_create(city=city, name="Best of")
        plist.pois.add(poi)
    if image is not None:
        poi.image_file.save("existing.jpg", ContentFile(image), save=True)
    return poi
