"""Load a city, its points of interest and lists from a JSON document.

Used by ``manage.py load_city`` and by the Prefect import flow. Loading is
idempotent (POIs are matched by city and name, lists by city and name) and runs in
one transaction: a bad file loads nothing.

Format::

    {"city": {"name": "Paris", "slug": "paris", "country": "France"},
     "pois": [{"name": "Eiffel Tower", "category": "see",
               "latitude": 48.8584, "longitude": 2.2945, "wikidata_id": "Q243"}],
     "lists": [{"name": "Landmarks", "pois": ["Eiffel Tower"]}]}
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify

from cities.models import City, PoiList, PointOfInterest

POI_FIELDS = ("category", "latitude", "longitude", "wikidata_id")


class CityDataError(ValueError):
    """The city data is invalid; the message names the file, entry and field."""


@dataclass
class LoadResult:
    city: City
    created_pois: int = 0
    updated_pois: int = 0
    unchanged_pois: int = 0
    lists: int = 0
    poi_ids: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "city": self.city.slug,
            "created_pois": self.created_pois,
            "updated_pois": self.updated_pois,
            "unchanged_pois": self.unchanged_pois,
            "lists": self.lists,
        }


def read_city_file(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CityDataError(f"{path}: no such file.")
    except (OSError, UnicodeDecodeError) as exc:
        raise CityDataError(f"{path}: cannot be read ({exc}).")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CityDataError(
            f"{path}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}."
        )
    if not isinstance(data, dict):
        raise CityDataError(
            f"{path}: the top level must be an object with 'city', 'pois' and 'lists'."
        )
    return data


def load_city_file(path: str | Path) -> LoadResult:
    try:
        return load_city_data(read_city_file(path))
    except CityDataError as exc:
        message = str(exc)
        prefix = f"{path}: "
        raise CityDataError(message if message.startswith(prefix) else prefix + message)


def _validation_message(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in exc.message_dict.items())
    return " ".join(exc.messages)


def _require(mapping: Any, key: str, where: str) -> Any:
    if not isinstance(mapping, dict):
        raise CityDataError(f"{where} must be an object.")
    if key not in mapping or mapping[key] in (None, ""):
        raise CityDataError(f"{where}.{key} is required.")
    return mapping[key]


@transaction.atomic
def load_city_data(data: dict[str, Any]) -> LoadResult:
    """Create or update the city, its POIs and lists; raise ``CityDataError`` on bad data."""
    city_data = data.get("city")
    name = _require(city_data, "name", "city")
    slug = city_data.get("slug") or slugify(name)
    city, _ = City.objects.get_or_create(slug=slug, defaults={"name": name})
    city.name = name
    city.country = city_data.get("country", city.country) or ""
    try:
        city.full_clean()
    except ValidationError as exc:
        raise CityDataError(f"city: {_validation_message(exc)}")
    city.save()
    result = LoadResult(city=city)

    pois = data.get("pois", [])
    if not isinstance(pois, list):
        raise CityDataError("pois must be a list.")
    by_name: dict[str, PointOfInterest] = {}
    for index, entry in enumerate(pois):
        where = f"pois[{index}]"
        poi_name = str(_require(entry, "name", where)).strip()
        where = f"pois[{index}] ({poi_name!r})"
        if poi_name in by_name:
            raise CityDataError(f"{where}: duplicate name in this file.")
        unknown = set(entry) - {"name", *POI_FIELDS}
        if unknown:
            raise CityDataError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}.")
        poi = PointOfInterest.objects.filter(city=city, name=poi_name).first()
        created = poi is None
        if created:
            poi = PointOfInterest(city=city, name=poi_name)
        before = {f: getattr(poi, f) for f in POI_FIELDS}
        for f in POI_FIELDS:
            if f in entry:
                value = entry[f]
                if f == "wikidata_id" and value is None:
                    value = ""
                elif f in ("latitude", "longitude") and isinstance(value, int | float):
                    # The model keeps 6 decimals (~0.1 m); more would fail validation.
                    value = Decimal(str(round(value, 6)))
                setattr(poi, f, value)
        try:
            poi.full_clean(exclude=["image_file"])
        except ValidationError as exc:
            raise CityDataError(f"{where}: {_validation_message(exc)}")
        after = {f: getattr(poi, f) for f in POI_FIELDS}
        if created:
            poi.save()
            result.created_pois += 1
        elif before != after:
            poi.save()
            result.updated_pois += 1
        else:
            result.unchanged_pois += 1
        by_name[poi_name] = poi
        result.poi_ids.append(poi.pk)

    lists = data.get("lists", [])
    if not isinstance(lists, list):
        raise CityDataError("lists must be a list.")
    for index, entry in enumerate(lists):
        where = f"lists[{index}]"
        list_name = str(_require(entry, "name", where)).strip()
        members = entry.get("pois", [])
        if not isinstance(members, list):
            raise CityDataError(f"{where} ({list_name!r}).pois must be a list of POI names.")
        missing = [m for m in members if m not in by_name]
        if missing:
            raise CityDataError(
                f"{where} ({list_name!r}): unknown POI(s) {', '.join(map(repr, missing))}; "
                "every list member must be a name from 'pois'."
            )
        poi_list, _ = PoiList.objects.get_or_create(city=city, name=list_name)
        poi_list.pois.set([by_name[m] for m in members])
        result.lists += 1
    return result
