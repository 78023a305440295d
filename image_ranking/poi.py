"""The POI contract: how image_ranking reads a host's point of interest.

The host's model is named by ``IMAGE_RANKING_POI_MODEL``; the fields the app reads are
named by *role* here, and a host with other names maps them in
``IMAGE_RANKING_POI_FIELDS`` (merged over ``DEFAULT_FIELDS``)::

    IMAGE_RANKING_POI_FIELDS = {"name": "title", "image": "photo", "city_name": "town__label",
                                "latitude": None, "longitude": None}

| role | required | what | default |
| --- | --- | --- | --- |
| name | yes | the POI's name, searched on Commons | ``name`` |
| image | yes | an ``ImageField`` the chosen image is stored in | ``image_file`` |
| wikidata_id | no | a Wikidata item id (``Q243``) | ``wikidata_id`` |
| city | no | a relation to the POI's city (a Validation's ``city``) | ``city`` |
| city_name | no | the city's name, for relevance evidence | ``city__name`` |
| city_slug | no | the city's slug, for ``--city`` and the review filters | ``city__slug`` |
| latitude, longitude | no | decimal degrees, for geotag evidence | ``latitude``, ``longitude`` |
| lists | no | a relation to curated lists; only listed POIs are ranked | ``lists`` |
| category | no | a category, for fallback images and filters | ``category`` |

A path with ``__`` follows relations, as in a queryset lookup. A role set to ``None``
means the host has no such field: the app then does without it (name-only evidence, no
city filter, every POI ranked...). ``manage.py check`` validates the paths (E009).
Everything in the app reads POIs through ``get_poi_adapter()``; nothing else knows the
host's field names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db.models import Model
from django.db.models.fields.files import FieldFile

from image_ranking.conf import conf

DEFAULT_FIELDS: dict[str, str | None] = {
    "name": "name",
    "image": "image_file",
    "wikidata_id": "wikidata_id",
    "city": "city",
    "city_name": "city__name",
    "city_slug": "city__slug",
    "latitude": "latitude",
    "longitude": "longitude",
    "lists": "lists",
    "category": "category",
}
REQUIRED_ROLES = ("name", "image")


@dataclass(frozen=True)
class PoiInfo:
    """What the app knows of one POI, read once through the contract (plain values)."""

    pk: Any
    name: str
    wikidata_id: str = ""
    city_name: str = ""
    latitude: float | None = None
    longitude: float | None = None

    @property
    def coordinates(self) -> tuple[float, float] | None:
        if self.latitude is None or self.longitude is None:
            return None
        return (self.latitude, self.longitude)


class PoiAdapter:
    """Reads a host POI's fields by role (see the module docstring)."""

    def __init__(self, fields: Mapping[str, str | None] | None = None) -> None:
        merged = {**DEFAULT_FIELDS, **(fields or {})}
        self.fields: dict[str, str | None] = {k: (v or None) for k, v in merged.items()}

    # -- paths ---------------------------------------------------------------------------

    def path(self, role: str) -> str | None:
        """The ORM lookup path for ``role`` (``city__slug``), or None when absent."""
        return self.fields.get(role)

    def has(self, role: str) -> bool:
        return self.path(role) is not None

    @property
    def image_field(self) -> str:
        path = self.path("image")
        assert path is not None  # a required role (checked by E009)
        return path

    def related_paths(self) -> list[str]:
        """Relations to ``select_related`` so that reading a page of POIs is one query."""
        paths = set()
        for role in ("city_name", "city_slug", "city"):
            path = self.path(role)
            if path is None:
                continue
            parts = path.split("__")
            head = parts if role == "city" else parts[:-1]
            if head:
                paths.add("__".join(head))
        return sorted(paths)

    # -- values --------------------------------------------------------------------------

    def value(self, poi: Model, role: str) -> Any:
        """The value at ``role``'s path on ``poi`` (None when absent or any hop is None)."""
        path = self.path(role)
        if path is None:
            return None
        current: Any = poi
        for part in path.split("__"):
            current = getattr(current, part, None)
            if current is None:
                return None
        return current

    def name(self, poi: Model) -> str:
        return str(self.value(poi, "name") or "")

    def image(self, poi: Model) -> FieldFile:
        return getattr(poi, self.image_field)

    def wikidata_id(self, poi: Model) -> str:
        return str(self.value(poi, "wikidata_id") or "").strip().upper()

    def city(self, poi: Model) -> Model | None:
        return self.value(poi, "city")

    def city_name(self, poi: Model) -> str:
        return str(self.value(poi, "city_name") or "")

    def city_slug(self, poi: Model) -> str:
        return str(self.value(poi, "city_slug") or "")

    def category(self, poi: Model) -> str:
        return str(self.value(poi, "category") or "")

    def coordinates(self, poi: Model) -> tuple[float, float] | None:
        lat, lon = self.value(poi, "latitude"), self.value(poi, "longitude")
        try:
            lat_f, lon_f = float(lat), float(lon)
        except (TypeError, ValueError):
            return None
        if not (-90 <= lat_f <= 90 and -180 <= lon_f <= 180):
            return None
        return (lat_f, lon_f)

    def info(self, poi: Model) -> PoiInfo:
        coordinates = self.coordinates(poi)
        return PoiInfo(
            pk=poi.pk,
            name=self.name(poi),
            wikidata_id=self.wikidata_id(poi),
            city_name=self.city_name(poi),
            latitude=coordinates[0] if coordinates else None,
            longitude=coordinates[1] if coordinates else None,
        )

    # -- validation ----------------------------------------------------------------------

    def problems(self, model: type[Model]) -> list[str]:
        """What does not fit ``model``: missing required roles, paths that do not resolve."""
        found = []
        for role in REQUIRED_ROLES:
            if not self.has(role):
                found.append(f"the {role!r} field is required")
        for role, path in self.fields.items():
            if role not in DEFAULT_FIELDS:
                found.append(f"{role!r} is not a POI role (known: {', '.join(DEFAULT_FIELDS)})")
            elif path is not None and not _resolves(model, path):
                found.append(f"{role!r} = {path!r} is not a field path of {model.__name__}")
        return found


def _resolves(model: type[Model], path: str) -> bool:
    current: Any = model
    for part in path.split("__"):
        if current is None:
            return False
        try:
            field = current._meta.get_field(part)
        except FieldDoesNotExist:
            return False
        current = field.related_model
    return True


def get_poi_adapter() -> PoiAdapter:
    """The contract as configured now (cheap: settings are read on each call)."""
    return PoiAdapter(conf.POI_FIELDS)
