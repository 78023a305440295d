"""Which POIs the page shows, in which order: filters, search, sorting, the work order.

Everything about the host's POI is read through the POI contract (``get_poi_adapter``);
the page's queries are annotated so that their number does not grow with the cards.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, F, Model, OuterRef, Q, QuerySet, Subquery

from image_ranking import get_poi_model, get_validation_model, validations
from image_ranking.forms import FilterForm
from image_ranking.learning import uncertainty
from image_ranking.models import ImageTrainingData, RankingState, SelectedImage
from image_ranking.poi import get_poi_adapter


def open_reports() -> QuerySet:
    return get_validation_model()._default_manager.filter(
        context=validations.CONTEXT, aggregate=validations.AGGREGATE, resolved=False
    )


def report_links(limit: int = 50) -> list[tuple[Any, str, str]]:
    """Open "no suitable image" reports as (POI pk, POI name, description): one query."""
    adapter = get_poi_adapter()
    reports = open_reports().exclude(poi=None).select_related("poi").order_by("pk")[:limit]
    return [(r.poi_id, adapter.name(r.poi), r.description) for r in reports]


def annotated(queryset: QuerySet) -> QuerySet:
    """POIs with what sorting and the cards need, in the same query."""
    adapter = get_poi_adapter()
    return queryset.select_related(
        *adapter.related_paths(),
        "selected_image",
        "selected_image__candidate",
        "selected_image__chosen_by_user",  # named on the card ("Chosen by bea")
    ).annotate(
        has_label=Exists(ImageTrainingData.objects.filter(poi=OuterRef("pk"))),
        has_report=Exists(open_reports().filter(poi=OuterRef("pk"))),
        current_score=Subquery(
            SelectedImage.objects.filter(poi=OuterRef("pk")).values("score")[:1]
        ),
        ranked_at=Subquery(RankingState.objects.filter(poi=OuterRef("pk")).values("ranked_at")[:1]),
    )


def base_queryset(*, with_reports: bool = True) -> QuerySet:
    """POIs with an image, and (``with_reports``) POIs without one that have an open
    "no suitable image" report: a curator can pick an image for those."""
    adapter = get_poi_adapter()
    image = adapter.image_field
    has_image = ~Q(**{image: ""}) & Q(**{f"{image}__isnull": False})
    queryset = annotated(get_poi_model()._default_manager.all())
    if with_reports:
        return queryset.filter(has_image | Q(has_report=True))
    return queryset.filter(has_image)


def apply_filters(queryset: QuerySet, form: FilterForm) -> QuerySet:
    adapter = get_poi_adapter()
    value = form.value
    if value("poi"):
        return queryset.filter(pk=value("poi"))
    if value("q"):
        queryset = queryset.filter(**{f"{adapter.path('name')}__icontains": value("q")})
    if value("city") and adapter.has("city_slug"):
        queryset = queryset.filter(**{adapter.path("city_slug"): value("city")})
    if value("list") and adapter.has("lists"):
        # The only to-many join: a POI on the list twice must not show twice.
        queryset = queryset.filter(**{f"{adapter.path('lists')}__pk": value("list")}).distinct()
    if value("category") and adapter.has("category"):
        queryset = queryset.filter(**{adapter.path("category"): value("category")})
    if value("labelled"):
        queryset = queryset.filter(has_label=value("labelled") == "yes")
    if value("needs_image"):
        queryset = queryset.filter(has_report=True)
    return queryset


def needs_image_count(form: FilterForm) -> int:
    """POIs with an open "no suitable image" report among those the other filters
    (city, list, category, name, labels) select: the count beside "Needs an image"."""
    return apply_filters(base_queryset(), form).filter(has_report=True).count()


def ordered(queryset: QuerySet, sort: str) -> QuerySet:
    name = get_poi_adapter().path("name")
    orders: dict[str, list[Any]] = {
        "name": [name],
        "score": [F("current_score").asc(nulls_first=True), name],
        "-score": [F("current_score").desc(nulls_last=True), name],
        "ranked": [F("ranked_at").asc(nulls_first=True), name],
        "-ranked": [F("ranked_at").desc(nulls_last=True), name],
        "labels": ["has_label", name],
        # Work first: POIs needing an image, then unlabelled, where a label teaches most
        # (learning/uncertainty.py), then lowest score first.
        "work": [
            "-has_report",
            "has_label",
            F("ask").desc(),
            F("current_score").asc(nulls_first=True),
            name,
        ],
    }
    if sort == "work":
        queryset = uncertainty.annotate(queryset)
    return queryset.order_by(*orders.get(sort or "name", orders["name"]), "pk")


def selection(form: FilterForm, default_sort: str = "name") -> QuerySet:
    return ordered(apply_filters(base_queryset(), form), form.value("sort") or default_sort)


def _related_model(model: type[Model], path: str | None) -> type[Model] | None:
    """The model at the end of a relation path (``city`` of ``city__slug``), if any."""
    if not path:
        return None
    current: Any = model
    for part in path.split("__"):
        field = current._meta.get_field(part)
        if field.related_model is None:
            return current if current is not model else None
        current = field.related_model
    return current


def filter_choices() -> dict[str, Any]:
    """Cities, lists (each named with its city) and categories for the filter form."""
    model = get_poi_model()
    adapter = get_poi_adapter()
    city_model = _related_model(model, adapter.path("city_slug"))
    categories: Any = []
    if adapter.has("category"):
        field = model._meta.get_field(adapter.path("category"))  # type: ignore[arg-type]
        categories = getattr(field, "choices", None) or []
    return {
        "cities": city_model._default_manager.all() if city_model else [],
        "lists": list_choices(),
        "categories": categories,
    }


def list_choices() -> list[tuple[int, str]]:
    """Each list with the cities of its POIs ("Essentials — Paris"): one query."""
    adapter = get_poi_adapter()
    lists, city_name = adapter.path("lists"), adapter.path("city_name")
    if not lists:
        return []
    list_model = _related_model(get_poi_model(), lists)
    names = {obj.pk: str(obj) for obj in list_model._default_manager.all()} if list_model else {}
    cities: dict[int, set[str]] = {pk: set() for pk in names}
    if city_name:
        rows = get_poi_model()._default_manager.values_list(f"{lists}__pk", city_name)
        for pk, city in rows.distinct():
            if pk is not None and city:
                cities.setdefault(pk, set()).add(str(city))
    labels = []
    for pk, name in names.items():
        towns = ", ".join(sorted(t for t in cities.get(pk, ()) if t not in name))
        labels.append((pk, f"{name} — {towns}" if towns else name))
    return sorted(labels, key=lambda item: item[1].lower())
