"""Merge duplicate points of interest of one city (the import's ``_auto_merge_duplicates``).

Two POIs of a city are taken for the same place when they do not carry different
Wikidata ids and either

- they share a Wikidata id, or
- their *normalised* names match (case, accents, punctuation, leading/inner articles
  and spacing ignored: "The Louvre", "louvre" and "Le Louvre!" all become "louvre"),
  they have the same category, and they lie within ``MAX_DISTANCE_M`` (50 m, haversine)
  of each other.

Merging keeps the richest record (the most filled-in fields, then the most list
memberships, then having an image, then the oldest) and fills its blank fields from the
other one. The better image of the two is kept (a curator's choice over a ranked photo
over a category fallback; on a tie the kept record's own); the other file is deleted
once the merge is committed. List memberships and every other row pointing at the
dropped POI move to the kept one (found generically through ``_meta.related_objects``,
so apps such as image_ranking need not be imported here). A row that cannot move because
the kept POI already has its unique counterpart (a candidate with the same Commons
title) is left to cascade with the dropped POI. One-to-one rows (image provenance,
ranking state) describe the POI's image, so they follow the image: when the kept POI
takes over the dropped one's image, the dropped one's rows replace its own; when the
dropped one's image is discarded, its rows go with it.

Merges it is unsure about are made but also recorded as a host ``Validation``
(context ``import``, aggregate ``duplicate_merge``) naming both records, so a curator
can undo them:

- names that match only after normalisation and lie 30-50 m apart
  (``SURE_DISTANCE_M``..``MAX_DISTANCE_M``);
- matching names where either POI has no coordinates (distance unknown);
- a shared Wikidata id with coordinates more than 50 m apart, or different categories;
- POIs merged only through a third one (A~B and B~C, but A and C not directly alike).

Possible duplicates it does *not* merge are recorded the same way: matching names within
50 m but different categories (a café named after the monument beside it).
"""

from __future__ import annotations

import logging
import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db import models, transaction

from cities.models import City, PointOfInterest, Validation
from image_ranking.choices import IMAGE_PRIORITY, ChosenBy

logger = logging.getLogger(__name__)

MAX_DISTANCE_M = 50.0
SURE_DISTANCE_M = 30.0
VALIDATION_CONTEXT = "import"
VALIDATION_AGGREGATE = "duplicate_merge"

# Articles dropped wherever they stand as a word (after elision is split off:
# "l'Arc" -> "l arc"). Prepositions (de, du, of) are kept: they carry meaning.
ARTICLES = frozenset(
    {"the", "a", "an", "le", "la", "les", "l", "un", "une", "des", "el", "los", "las"}
    | {"il", "lo", "gli", "der", "die", "das", "den", "dem"}
)
# Letters NFKD does not take apart ("Cœur" must meet "Coeur").
_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ø": "o", "ł": "l", "đ": "d", "ı": "i"})
_NON_WORD = re.compile(r"[^\w]+")
_SPACES = re.compile(r"\s+")
EARTH_RADIUS_M = 6_371_008.8


def simple_name(name: str) -> str:
    """Case and spacing ignored only: names that are the same as written."""
    return _SPACES.sub(" ", unicodedata.normalize("NFC", name)).strip().casefold()


def normalise_name(name: str) -> str:
    """Name key for duplicate detection: casefolded, no accents, punctuation or articles."""
    text = unicodedata.normalize("NFKD", name.replace("&", " and "))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = text.translate(_LIGATURES)
    words = _NON_WORD.sub(" ", text.replace("_", " ")).split()
    kept = [w for w in words if w not in ARTICLES]
    # A name made only of articles ("The") keeps its words rather than becoming "".
    return " ".join(kept or words)


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def poi_distance_m(a: PointOfInterest, b: PointOfInterest) -> float | None:
    """Distance between two POIs, or None when either has no coordinates."""
    if None in (a.latitude, a.longitude, b.latitude, b.longitude):
        return None
    return haversine_m(float(a.latitude), float(a.longitude), float(b.latitude), float(b.longitude))


@dataclass(frozen=True)
class Match:
    """Why two POIs are taken for one place, and whether a person should check it."""

    reason: str
    sure: bool
    merge: bool = True


def compare(
    a: PointOfInterest,
    b: PointOfInterest,
    *,
    max_distance_m: float = MAX_DISTANCE_M,
    sure_distance_m: float = SURE_DISTANCE_M,
) -> Match | None:
    """How two POIs of one city relate: a Match, or None when they are different places."""
    if a.wikidata_id and b.wikidata_id and a.wikidata_id != b.wikidata_id:
        return None
    distance = poi_distance_m(a, b)
    where = "no coordinates on one of them" if distance is None else f"{distance:.0f} m apart"
    if a.wikidata_id and a.wikidata_id == b.wikidata_id:
        if distance is not None and distance > max_distance_m:
            return Match(f"same Wikidata id {a.wikidata_id} but {where}", sure=False)
        if a.category != b.category:
            return Match(
                f"same Wikidata id {a.wikidata_id} but categories {a.category}/{b.category}",
                sure=False,
            )
        return Match(f"same Wikidata id {a.wikidata_id}, {where}", sure=True)

    if normalise_name(a.name) != normalise_name(b.name):
        return None
    exact = simple_name(a.name) == simple_name(b.name)
    names = "same name" if exact else "names match once normalised"
    if distance is not None and distance > max_distance_m:
        return None
    if a.category != b.category:
        return Match(
            f"{names}, {where}, but categories {a.category}/{b.category}", sure=False, merge=False
        )
    if distance is None:
        return Match(f"{names}, {where}", sure=False)
    sure = exact or distance <= sure_distance_m
    return Match(f"{names}, {where}", sure=sure)


@dataclass
class MergeRecord:
    kept_id: int
    kept_name: str
    dropped_id: int
    dropped_name: str
    reason: str
    sure: bool


@dataclass
class MergeResult:
    city: str
    merges: list[MergeRecord] = field(default_factory=list)
    # Possible duplicates left alone (recorded as a Validation).
    skipped: list[MergeRecord] = field(default_factory=list)

    @property
    def merged(self) -> int:
        return len(self.merges)

    @property
    def uncertain(self) -> int:
        return sum(1 for m in self.merges if not m.sure)

    def as_dict(self) -> dict[str, Any]:
        """JSON-compatible summary (the Prefect flow returns it)."""
        return {
            "merged": self.merged,
            "uncertain": self.uncertain,
            "skipped": len(self.skipped),
            "merges": [asdict(m) for m in self.merges],
        }


class _Clusters:
    """Union-find over POIs that refuses to join groups with different Wikidata ids."""

    def __init__(self, pois: list[PointOfInterest]) -> None:
        self.parent = {p.pk: p.pk for p in pois}
        self.qids = {p.pk: {p.wikidata_id} - {""} for p in pois}

    def find(self, pk: int) -> int:
        while self.parent[pk] != pk:
            self.parent[pk] = self.parent[self.parent[pk]]
            pk = self.parent[pk]
        return pk

    def union(self, a: int, b: int) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        if len(self.qids[ra] | self.qids[rb]) > 1:
            return False
        self.parent[rb] = ra
        self.qids[ra] |= self.qids.pop(rb)
        return True


def _blank(value: Any) -> bool:
    return value is None or value == ""


def _image_rank(poi: PointOfInterest) -> int:
    """3: a curator's choice, 2: a stored image, 1: a category fallback, 0: none.

    The provenance row is looked up by name (``selected_image``, from image_ranking when
    installed); the values compared are the app's exported names (``image_ranking.choices``,
    importable without the app's models).
    """
    if not poi.image_file:
        return 0
    try:
        chosen_by = getattr(poi.selected_image, "chosen_by", "")
    except (ObjectDoesNotExist, AttributeError):  # no row, or image_ranking not installed
        chosen_by = ""
    # A stored image without provenance counts as a ranked photo.
    return IMAGE_PRIORITY.get(chosen_by, IMAGE_PRIORITY[ChosenBy.RANKER])


_FILLABLE = ("category", "wikidata_id")


def _richness(poi: PointOfInterest, list_counts: dict[int, int]) -> tuple:
    # The image is not part of it: it moves to the kept record when it is the better one.
    filled = sum(not _blank(getattr(poi, f)) for f in _FILLABLE)
    filled += poi.latitude is not None and poi.longitude is not None
    return (filled, list_counts.get(poi.pk, 0), bool(poi.image_file), -poi.pk)


def _list_counts(pois: list[PointOfInterest]) -> dict[int, int]:
    through = PointOfInterest.lists.through
    counts: dict[int, int] = {}
    for pk in through.objects.filter(pointofinterest__in=[p.pk for p in pois]).values_list(
        "pointofinterest_id", flat=True
    ):
        counts[pk] = counts.get(pk, 0) + 1
    return counts


def auto_merge_duplicates(
    city: City | str,
    *,
    max_distance_m: float = MAX_DISTANCE_M,
    sure_distance_m: float = SURE_DISTANCE_M,
) -> MergeResult:
    """Merge the duplicate POIs of ``city`` (a City or its slug); see the module docstring.

    Runs in one transaction with the city's POI rows locked, so two imports of the same
    city never merge the same pair twice; running it again finds nothing more to merge.
    """
    if isinstance(city, str):
        city = City.objects.get(slug=city)
    result = MergeResult(city=city.slug)
    same_place = partial(compare, max_distance_m=max_distance_m, sure_distance_m=sure_distance_m)
    with transaction.atomic():
        pois = list(PointOfInterest.objects.select_for_update().filter(city=city).order_by("pk"))
        pairs = _candidate_pairs(pois, max_distance_m, sure_distance_m)
        clusters, links = _cluster(pois, pairs)
        list_counts = _list_counts(pois)
        doomed_files: list[tuple[Any, str]] = []
        for members in _groups(pois, clusters):
            doomed_files += _merge_group(city, members, links, list_counts, same_place, result)
        _report_not_merged(city, pois, pairs, clusters, result)
        for storage, name in doomed_files:
            # Only once the merge is committed: a rollback must find its files intact.
            transaction.on_commit(lambda s=storage, n=name: _delete_file(s, n))
    return result


def _cluster(
    pois: list[PointOfInterest], pairs: dict[tuple[int, int], Match]
) -> tuple[_Clusters, dict[frozenset[int], Match]]:
    """Join the pairs to merge into groups; returns the groups and the links that made them."""
    clusters = _Clusters(pois)
    links: dict[frozenset[int], Match] = {}
    # Sure evidence first, so a chain is built from the best links.
    for (a, b), match in sorted(pairs.items(), key=lambda item: not item[1].sure):
        if match.merge and clusters.union(a, b):
            links[frozenset((a, b))] = match
    return clusters, links


def _groups(pois: list[PointOfInterest], clusters: _Clusters) -> list[list[PointOfInterest]]:
    """The groups of two or more POIs taken for one place."""
    groups: dict[int, list[PointOfInterest]] = {}
    for poi in pois:
        groups.setdefault(clusters.find(poi.pk), []).append(poi)
    return [members for members in groups.values() if len(members) > 1]


def _merge_group(
    city: City,
    members: list[PointOfInterest],
    links: dict[frozenset[int], Match],
    list_counts: dict[int, int],
    same_place: Callable[[PointOfInterest, PointOfInterest], Match | None],
    result: MergeResult,
) -> list[tuple[Any, str]]:
    """Fold a group into its richest POI; returns files to delete on commit."""
    keeper = max(members, key=lambda p: _richness(p, list_counts))
    doomed: list[tuple[Any, str]] = []
    for dropped in sorted(members, key=lambda p: p.pk):
        if dropped.pk == keeper.pk:
            continue
        match = links.get(frozenset((keeper.pk, dropped.pk))) or same_place(keeper, dropped)
        if match is None or not match.merge:
            match = Match(f"alike only through {_linked_name(dropped, members, links)!r}", False)
        if not match.sure:
            _report(city, keeper, _merge_description(keeper, dropped, match))
        doomed += _merge(keeper, dropped)
        result.merges.append(
            MergeRecord(keeper.pk, keeper.name, dropped.pk, dropped.name, match.reason, match.sure)
        )
        logger.info(
            "Merged POI %s %r into %s %r (%s)",
            dropped.pk,
            dropped.name,
            keeper.pk,
            keeper.name,
            match.reason,
        )
    return doomed


def _linked_name(
    poi: PointOfInterest, members: list[PointOfInterest], links: dict[frozenset[int], Match]
) -> str:
    """The name of a group member ``poi`` was directly linked to (every member has one)."""
    for other in members:
        if other.pk != poi.pk and frozenset((poi.pk, other.pk)) in links:
            return other.name
    return "another POI of the group"


def _report_not_merged(
    city: City,
    pois: list[PointOfInterest],
    pairs: dict[tuple[int, int], Match],
    clusters: _Clusters,
    result: MergeResult,
) -> None:
    """Possible duplicates left apart (e.g. other categories) become Validations."""
    by_pk = {p.pk: p for p in pois}
    for (a, b), match in pairs.items():
        if match.merge or clusters.find(a) == clusters.find(b):
            continue
        first, second = by_pk[a], by_pk[b]
        result.skipped.append(
            MergeRecord(first.pk, first.name, second.pk, second.name, match.reason, False)
        )
        _report(
            city,
            first,
            f"Possible duplicate not merged: {_describe(first)} and {_describe(second)} "
            f"({match.reason}). If they are one place, merge them by hand.",
        )


def _candidate_pairs(
    pois: list[PointOfInterest], max_distance_m: float, sure_distance_m: float
) -> dict[tuple[int, int], Match]:
    """Every related pair, compared only within a shared name key or Wikidata id."""
    buckets: dict[str, list[PointOfInterest]] = {}
    for poi in pois:
        buckets.setdefault("name:" + normalise_name(poi.name), []).append(poi)
        if poi.wikidata_id:
            buckets.setdefault("qid:" + poi.wikidata_id, []).append(poi)
    pairs: dict[tuple[int, int], Match] = {}
    for bucket in buckets.values():
        for i, a in enumerate(bucket):
            for b in bucket[i + 1 :]:
                key = (a.pk, b.pk) if a.pk < b.pk else (b.pk, a.pk)
                if key in pairs:
                    continue
                match = compare(
                    a, b, max_distance_m=max_distance_m, sure_distance_m=sure_distance_m
                )
                if match is not None:
                    pairs[key] = match
    return pairs


def _describe(poi: PointOfInterest) -> str:
    parts = [poi.category]
    if poi.latitude is not None and poi.longitude is not None:
        parts.append(f"{float(poi.latitude):.6f}, {float(poi.longitude):.6f}")
    else:
        parts.append("no coordinates")
    if poi.wikidata_id:
        parts.append(poi.wikidata_id)
    return f"{poi.name!r} ({'; '.join(parts)})"


def _merge_description(keeper: PointOfInterest, dropped: PointOfInterest, match: Match) -> str:
    return (
        f"Merged {_describe(dropped)} into {_describe(keeper)}: {match.reason}. "
        f"If they are different places, create {dropped.name!r} again and put it back in "
        f"its lists."
    )


def _report(city: City, poi: PointOfInterest, description: str) -> None:
    # One open report per finding: a re-import that meets the same duplicate again
    # (the loader re-creates a merged name) must not pile up identical reports.
    Validation.objects.get_or_create(
        context=VALIDATION_CONTEXT,
        aggregate=VALIDATION_AGGREGATE,
        poi=poi,
        description=description,
        resolved=False,
        defaults={"city": city},
    )


def _merge(keeper: PointOfInterest, dropped: PointOfInterest) -> list[tuple[Any, str]]:
    """Fold ``dropped`` into ``keeper`` and delete it; returns files to delete on commit."""
    update_fields: list[str] = []
    for name in _FILLABLE:
        if _blank(getattr(keeper, name)) and not _blank(getattr(dropped, name)):
            setattr(keeper, name, getattr(dropped, name))
            update_fields.append(name)
    if (keeper.latitude is None or keeper.longitude is None) and (
        dropped.latitude is not None and dropped.longitude is not None
    ):
        # Coordinates move as a pair: never a latitude from one and a longitude from another.
        keeper.latitude, keeper.longitude = dropped.latitude, dropped.longitude
        update_fields += ["latitude", "longitude"]

    # The better image wins (a curator's choice over a ranked photo over a fallback);
    # on a tie the kept record keeps its own.
    image_moved = dropped_image_discarded = False
    doomed: list[tuple[Any, str]] = []
    if _image_rank(dropped) > _image_rank(keeper):
        if keeper.image_file:
            doomed.append((keeper.image_file.storage, keeper.image_file.name))
        keeper.image_file = dropped.image_file.name
        update_fields.append("image_file")
        image_moved = True
    elif dropped.image_file and dropped.image_file.name != keeper.image_file.name:
        doomed.append((dropped.image_file.storage, dropped.image_file.name))
        dropped_image_discarded = True
    if update_fields:
        keeper.save(update_fields=update_fields)

    for rel in PointOfInterest._meta.related_objects:
        if rel.many_to_many:
            _move_m2m(rel, keeper, dropped)
        elif rel.one_to_one:
            _move_one_to_one(
                rel,
                keeper,
                dropped,
                image_moved=image_moved,
                dropped_image_discarded=dropped_image_discarded,
            )
        elif rel.one_to_many:
            _move_many_to_one(rel, keeper, dropped)
    # Delete through a queryset: the instance's image field must not touch the file,
    # which the kept POI may now own.
    PointOfInterest.objects.filter(pk=dropped.pk).delete()
    # Cached related rows (e.g. the image provenance) may have just changed hands.
    keeper._state.fields_cache.clear()
    return doomed


def _move_m2m(rel: models.ManyToManyRel, keeper: PointOfInterest, dropped: PointOfInterest) -> None:
    through = rel.through
    ours = rel.field.m2m_reverse_field_name()  # the through model's FK to the POI
    theirs = rel.field.m2m_field_name()  # ... and to the other side (e.g. the list)
    existing = set(
        through._default_manager.filter(**{ours: keeper}).values_list(f"{theirs}_id", flat=True)
    )
    for row in through._default_manager.filter(**{ours: dropped}):
        if getattr(row, f"{theirs}_id") in existing:
            row.delete()
        else:
            setattr(row, ours, keeper)
            row.save(update_fields=[ours])


def _move_one_to_one(
    rel: models.OneToOneRel,
    keeper: PointOfInterest,
    dropped: PointOfInterest,
    *,
    image_moved: bool,
    dropped_image_discarded: bool,
) -> None:
    manager = rel.related_model._default_manager
    name = rel.field.name
    theirs = manager.filter(**{name: dropped})
    if not theirs.exists() or dropped_image_discarded:
        # The dropped POI's own image is discarded: rows describing it go with it.
        return
    mine = manager.filter(**{name: keeper})
    if mine.exists():
        if not image_moved:
            return
        mine.delete()
    theirs.update(**{name: keeper})


def _move_many_to_one(
    rel: models.ManyToOneRel, keeper: PointOfInterest, dropped: PointOfInterest
) -> None:
    model = rel.related_model
    manager = model._default_manager
    name = rel.field.name
    unique_sets = _unique_sets_with(model, name)
    if not unique_sets:
        manager.filter(**{name: dropped}).update(**{name: keeper})
        return
    for row in manager.filter(**{name: dropped}):
        clash = any(
            manager.filter(
                **{name: keeper}, **{f: getattr(row, f) for f in fields if f != name}
            ).exists()
            for fields in unique_sets
        )
        if not clash:
            manager.filter(pk=row.pk).update(**{name: keeper})
        # else: the kept POI has its own copy; this one cascades with the dropped POI.


def _unique_sets_with(model: type[models.Model], field_name: str) -> list[tuple[str, ...]]:
    """Unique field sets of ``model`` that include ``field_name`` (attnames for FKs)."""
    sets: list[tuple[str, ...]] = []
    for constraint in model._meta.total_unique_constraints:
        sets.append(tuple(constraint.fields))
    sets += [tuple(fields) for fields in model._meta.unique_together]
    result = []
    for fields in sets:
        if field_name in fields:
            result.append(
                tuple(f if f == field_name else model._meta.get_field(f).attname for f in fields)
            )
    return result


def _delete_file(storage: Any, name: str) -> None:
    try:
        storage.delete(name)
    except OSError:
        logger.exception("Could not delete the image file %s of a merged POI", name)
