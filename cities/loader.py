"""Load a city, its points of interest and lists from a JSON document.

Used by ``manage.py load_city`` and by the Prefect import flow. Loading is
idempotent (POIs are matched by city and name, lists by city and name).

A bad document loads nothing: the whole document is checked first (the declared schema
in ``cities.city_file``, then the models' own rules) without writing. Only then are the
rows written, in short transactions of ``chunk_size`` POIs, so a 40,000-POI import never
holds the database's write lock for long (a ranking run on SQLite would otherwise fail
with "database is locked"). If the database fails half-way, loading the same file again
finishes the job.

Format::

    {"city": {"name": "Paris", "slug": "paris", "country": "France"},
     "pois": [{"name": "Eiffel Tower", "category": "see",
               "latitude": 48.8584, "longitude": 2.2945, "wikidata_id": "Q243"}],
     "lists": [{"name": "Landmarks", "pois": ["Eiffel Tower"]}]}
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.utils.text import slugify

from cities.city_file import CityDocument, CitySchemaError, PoiEntry, parse_city_document
from cities.models import City, PoiList, PointOfInterest

POI_FIELDS = ("category", "latitude", "longitude", "wikidata_id")
# POIs per transaction: each one holds SQLite's write lock for a fraction of a second.
CHUNK_SIZE = 500
# Seconds between two chunks on SQLite. A waiting writer's busy handler retries at most
# every 100 ms; without a longer gap the import takes the lock straight back and a
# ranking run starves until its timeout ("database is locked").
SQLITE_CHUNK_PAUSE = 0.12


class CityDataError(ValueError):
    """The city data is invalid; the message names the file, entry and field."""


class CityLoadInterrupted(RuntimeError):
    """The database failed after part of a valid file was written."""


@dataclass
class LoadResult:
    city: City
    created_pois: int = 0
    updated_pois: int = 0
    unchanged_pois: int = 0
    lists: int = 0

    @property
    def saved_pois(self) -> int:
        return self.created_pois + self.updated_pois + self.unchanged_pois

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
    if path.exists() and not path.is_file():
        raise CityDataError(f"{path}: not a regular file.")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CityDataError(f"{path}: no such file.")
    except UnicodeDecodeError as exc:
        raise CityDataError(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason}).")
    except OSError as exc:
        raise CityDataError(f"{path}: cannot be read ({exc.strerror or exc}).")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CityDataError(
            f"{path}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}."
        )
    except RecursionError:
        raise CityDataError(f"{path}: the JSON is nested too deeply to be a city file.")
    except ValueError as exc:  # e.g. an integer with more than 4300 digits
        raise CityDataError(f"{path}: invalid JSON: {exc}.")
    if not isinstance(data, dict):
        raise CityDataError(
            f"{path}: the top level must be an object with 'city', 'pois' and 'lists'."
        )
    return data


def load_city_file(
    path: str | Path,
    *,
    chunk_size: int = CHUNK_SIZE,
    progress: Callable[[int, int], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> LoadResult:
    try:
        data = read_city_file(path)
        return load_city_data(data, chunk_size=chunk_size, progress=progress, sleep=sleep)
    except (CityDataError, CityLoadInterrupted) as exc:
        message = str(exc)
        prefix = f"{path}: "
        if message.startswith(prefix):
            raise
        raise type(exc)(prefix + message) from exc


def _validation_message(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in exc.message_dict.items())
    return " ".join(exc.messages)


def load_city_data(
    data: dict[str, Any],
    *,
    chunk_size: int = CHUNK_SIZE,
    progress: Callable[[int, int], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> LoadResult:
    """Create or update the city, its POIs and lists; raise ``CityDataError`` on bad data.

    ``progress(done, total)`` is called after each committed chunk of POIs; ``sleep``
    makes the pause between chunks on SQLite.
    """
    try:
        document = parse_city_document(data)
    except CitySchemaError as exc:
        raise CityDataError(f"{exc}.")
    _check_references(document)
    city = _prepared_city(document)
    planned = _planned_pois(city, document.pois)
    result = LoadResult(city=city)
    try:
        _write(city, planned, document, result, max(1, chunk_size), progress, sleep)
    except DatabaseError as exc:
        raise CityLoadInterrupted(
            f"the database failed after {result.saved_pois} of {len(planned)} POIs were "
            f"saved ({exc}); loading the same file again finishes the job."
        ) from exc
    return result


def _check_references(document: CityDocument) -> None:
    seen: set[str] = set()
    for index, entry in enumerate(document.pois):
        if entry.name in seen:
            raise CityDataError(f"pois[{index}] ({entry.name!r}): duplicate name in this file.")
        seen.add(entry.name)
    for index, poi_list in enumerate(document.lists):
        missing = [m for m in poi_list.pois if m not in seen]
        if missing:
            raise CityDataError(
                f"lists[{index}] ({poi_list.name!r}): unknown POI(s) "
                f"{', '.join(map(repr, missing))}; every list member must be a name from 'pois'."
            )


def _prepared_city(document: CityDocument) -> City:
    """The city, found by slug or new, with the file's values; not saved yet."""
    entry = document.city
    slug = entry.slug or slugify(entry.name)
    city = City.objects.filter(slug=slug).first() or City(slug=slug)
    city.name = entry.name
    if "country" in entry.model_fields_set:
        city.country = entry.country or ""
    try:
        city.full_clean()
    except ValidationError as exc:
        raise CityDataError(f"city: {_validation_message(exc)}.")
    return city


@dataclass
class _Planned:
    poi: PointOfInterest
    state: str  # "created", "updated" or "unchanged"
    changed: list[str]


def _planned_pois(city: City, entries: list[PoiEntry]) -> list[_Planned]:
    """Every POI with the file's values applied and checked by the model; nothing saved."""
    existing: dict[str, PointOfInterest] = {}
    if city.pk:
        for poi in PointOfInterest.objects.filter(city=city).order_by("pk"):
            existing.setdefault(poi.name, poi)
    planned = []
    for index, entry in enumerate(entries):
        poi = existing.get(entry.name)
        created = poi is None
        if poi is None:
            poi = PointOfInterest(name=entry.name)
        changed = _apply(poi, entry)
        try:
            # The city is checked above; it may not be saved yet.
            poi.full_clean(exclude=["image_file", "city"], validate_unique=False)
        except ValidationError as exc:
            where = f"pois[{index}] ({entry.name!r})"
            raise CityDataError(f"{where}: {_validation_message(exc)}")
        state = "created" if created else ("updated" if changed else "unchanged")
        planned.append(_Planned(poi, state, changed))
    return planned


def _apply(poi: PointOfInterest, entry: PoiEntry) -> list[str]:
    """Set the fields the entry has; return the names of those whose value changed."""
    changed = []
    for name in POI_FIELDS:
        if name not in entry.model_fields_set:
            continue
        value = getattr(entry, name)
        if name == "wikidata_id" and value is None:
            value = ""
        elif name in ("latitude", "longitude") and value is not None:
            # The model keeps 6 decimals (~0.1 m); more would fail validation.
            value = Decimal(str(round(value, 6)))
        if getattr(poi, name) != value:
            setattr(poi, name, value)
            changed.append(name)
    return changed


def _write(
    city: City,
    planned: list[_Planned],
    document: CityDocument,
    result: LoadResult,
    chunk_size: int,
    progress: Callable[[int, int], None] | None,
    sleep: Callable[[float], None],
) -> None:
    with transaction.atomic():
        city.save()
    by_name: dict[str, PointOfInterest] = {}
    for start in range(0, len(planned), chunk_size):
        with transaction.atomic():
            for item in planned[start : start + chunk_size]:
                _save(city, item)
        for item in planned[start : start + chunk_size]:
            setattr(result, f"{item.state}_pois", getattr(result, f"{item.state}_pois") + 1)
            by_name[item.poi.name] = item.poi
        if progress:
            progress(result.saved_pois, len(planned))
        if connection.vendor == "sqlite" and start + chunk_size < len(planned):
            sleep(SQLITE_CHUNK_PAUSE)
    with transaction.atomic():
        for entry in document.lists:
            poi_list, _ = PoiList.objects.get_or_create(city=city, name=entry.name)
            poi_list.pois.set([by_name[m] for m in entry.pois])
            result.lists += 1


def _save(city: City, item: _Planned) -> None:
    if item.state == "created":
        item.poi.city = city
        item.poi.save()
    elif item.state == "updated":
        # Only the file's fields: a ranking run may have stored a new image meanwhile.
        item.poi.save(update_fields=item.changed)
