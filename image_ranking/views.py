"""Curators' review page: compare each POI's image with its Commons alternatives, label
images good or bad (training data for the learned ranker), pick a better one.

Every view works as a plain form/link (no JavaScript) and, under htmx, answers with just
the partial that changed (``request.htmx``). Staff only; every POST is CSRF-protected
(the token travels in ``hx-headers`` on ``<body>``). A label may only name an image the
POI really has: its current image or one of its known candidates.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Exists, Model, OuterRef, QuerySet
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseRedirect,
)
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from image_ranking import get_poi_model
from image_ranking.exceptions import ImageRankingError
from image_ranking.models import ImageCandidate, ImageTrainingData, SelectedImage
from image_ranking.poi import get_poi_adapter
from image_ranking.services import ranking

PAGE_SIZE = 12
TEMPLATE = "image_ranking/review.html"


def staff_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Anonymous users are sent to log in; logged-in users who are not staff get a 403."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("admin:login"))
        if not (request.user.is_active and request.user.is_staff):
            raise PermissionDenied("The image review page is for staff only.")
        return view(request, *args, **kwargs)

    return wrapper


# ----------------------------------------------------------------------------- helpers


@dataclass
class Tile:
    """One image on the page: the current one or a candidate, with its label state."""

    poi: Model
    url: str  # the URL a label records (a Commons URL where there is one)
    src: str  # what the browser shows
    alt: str
    is_current: bool
    score: float | None = None
    width: int | None = None
    height: int | None = None
    title: str = ""
    author: str = ""
    license_name: str = ""
    license_url: str = ""
    page_url: str = ""
    candidate: ImageCandidate | None = None
    label: ImageTrainingData | None = None

    @property
    def license_href(self) -> str:
        return _http_only(self.license_url)

    @property
    def page_href(self) -> str:
        return _http_only(self.page_url)

    @property
    def key(self) -> str:
        return f"{self.poi.pk}-{'current' if self.is_current else self.candidate.pk}"


def _http_only(url: str) -> str:
    # Commons text is data: a javascript: or data: "licence URL" must never become a link.
    return url if url.lower().startswith(("https://", "http://")) else ""


def _media_url(request: HttpRequest, poi: Model) -> str:
    field_file = get_poi_adapter().image(poi)
    return request.build_absolute_uri(field_file.url) if field_file else ""


def current_tile(request: HttpRequest, poi: Model) -> Tile | None:
    field_file = get_poi_adapter().image(poi)
    if not field_file:
        return None
    selected = SelectedImage.objects.filter(poi=poi).select_related("candidate").first()
    src = field_file.url
    tile = Tile(poi, _media_url(request, poi), src, f"{poi}: current image", True)
    if selected is not None:
        tile.score = selected.score
        tile.title, tile.author = selected.title, selected.author
        tile.license_name, tile.license_url = selected.license_name, selected.license_url
        tile.page_url = selected.page_url
        # Label the Commons file, which train_ranker can fetch, not our resized copy.
        tile.url = selected.source_url or tile.url
        tile.candidate = selected.candidate
    with contextlib.suppress(OSError, ValueError):  # a missing file: show the rest
        tile.width, tile.height = field_file.width, field_file.height
    return tile


def candidate_tile(poi: Model, candidate: ImageCandidate) -> Tile:
    return Tile(
        poi,
        candidate.image_url,
        candidate.thumbnail_url or candidate.image_url,
        candidate.title.removeprefix("File:"),
        False,
        score=candidate.score,
        width=candidate.width,
        height=candidate.height,
        title=candidate.title,
        author=candidate.author,
        license_name=candidate.license_name,
        license_url=candidate.license_url,
        page_url=candidate.page_url,
        candidate=candidate,
    )


def attach_labels(poi: Model, tiles: list[Tile]) -> list[Tile]:
    """Each tile's latest label (when curators change their mind, the latest counts)."""
    urls = {t.url for t in tiles}
    latest: dict[str, ImageTrainingData] = {}
    for label in ImageTrainingData.objects.filter(poi=poi, image_url__in=urls):
        latest.setdefault(label.image_url, label)  # ordered newest first
    for tile in tiles:
        tile.label = latest.get(tile.url)
    return tiles


def known_image(request: HttpRequest, poi: Model, url: str) -> Tile | None:
    """The tile for ``url`` if it is the POI's current image or one of its candidates."""
    current = current_tile(request, poi)
    if current is not None and url in {current.url, _media_url(request, poi)}:
        return current
    for candidate in ImageCandidate.objects.filter(poi=poi):
        if url in {candidate.image_url, candidate.thumbnail_url}:
            return candidate_tile(poi, candidate)
    return None


def poi_queryset() -> QuerySet:
    adapter = get_poi_adapter()
    return (
        get_poi_model()
        ._default_manager.exclude(**{adapter.image_field: ""})
        .exclude(**{f"{adapter.image_field}__isnull": True})
        .select_related(*adapter.related_paths())
    )


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


def _get_poi(value: str | None) -> Model:
    if not value or not str(value).isdigit():
        raise ValueError("missing or invalid poi")
    return get_object_or_404(get_poi_model(), pk=int(value))


def _bad_request(message: str) -> HttpResponseBadRequest:
    return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")


# ------------------------------------------------------------------------------- pages


@dataclass
class Filters:
    city: str = ""
    plist: str = ""
    category: str = ""
    labelled: str = ""  # "", "yes", "no"

    @classmethod
    def from_request(cls, request: HttpRequest) -> Filters:
        get = request.GET
        labelled = get.get("labelled", "")
        return cls(
            city=get.get("city", "")[:100],
            plist=get.get("list", "") if get.get("list", "").isdigit() else "",
            category=get.get("category", "")[:50],
            labelled=labelled if labelled in ("yes", "no") else "",
        )

    def apply(self, queryset: QuerySet) -> QuerySet:
        adapter = get_poi_adapter()
        if self.city and adapter.has("city_slug"):
            queryset = queryset.filter(**{adapter.path("city_slug"): self.city})
        if self.plist and adapter.has("lists"):
            queryset = queryset.filter(**{f"{adapter.path('lists')}__pk": int(self.plist)})
        if self.category and adapter.has("category"):
            queryset = queryset.filter(**{adapter.path("category"): self.category})
        if self.labelled:
            has_label = Exists(ImageTrainingData.objects.filter(poi=OuterRef("pk")))
            queryset = queryset.filter(has_label if self.labelled == "yes" else ~has_label)
        return queryset.distinct()

    def querystring(self, **extra: Any) -> str:
        values = {
            "city": self.city,
            "list": self.plist,
            "category": self.category,
            "labelled": self.labelled,
            **extra,
        }
        return urlencode({k: v for k, v in values.items() if v})


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


def _filter_choices() -> dict[str, Any]:
    model = get_poi_model()
    adapter = get_poi_adapter()
    city_model = _related_model(model, adapter.path("city_slug"))
    list_model = _related_model(model, adapter.path("lists"))
    categories: Any = []
    if adapter.has("category"):
        field = model._meta.get_field(adapter.path("category"))  # type: ignore[arg-type]
        categories = getattr(field, "choices", None) or []
    return {
        "cities": city_model._default_manager.all() if city_model else [],
        "lists": list_model._default_manager.all() if list_model else [],
        "categories": categories,
    }


def card_context(request: HttpRequest, poi: Model, *, alternatives: bool = False) -> dict:
    current = current_tile(request, poi)
    tiles = [current] if current is not None else []
    context: dict[str, Any] = {"poi": poi, "current": current, "alternatives": None}
    if alternatives:
        context.update(alternatives_context(request, poi))
        tiles += context["alternatives"] or []
    attach_labels(poi, tiles)
    return context


def alternatives_context(request: HttpRequest, poi: Model) -> dict[str, Any]:
    """The POI's candidates (from the cache while fresh), or the error that stopped it."""
    try:
        candidates = ranking.get_candidates(poi)
    except ImageRankingError as exc:
        return {"alternatives": [], "alternatives_error": str(exc)}
    current = current_tile(request, poi)
    current_sha1 = getattr(getattr(current, "candidate", None), "sha1", None)
    tiles = [
        candidate_tile(poi, c) for c in candidates if not current_sha1 or c.sha1 != current_sha1
    ]
    return {"alternatives": tiles, "alternatives_error": ""}


@require_GET
@staff_required
def review(request: HttpRequest) -> HttpResponse:
    filters = Filters.from_request(request)
    queryset = filters.apply(poi_queryset())
    queryset = queryset.order_by(get_poi_adapter().path("name"), "pk")
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    # ?alternatives=all is the no-JavaScript bulk fetch (with JavaScript, review.js
    # fetches card by card instead and shows progress).
    open_all = request.GET.get("alternatives") == "all"
    cards = [card_context(request, poi, alternatives=open_all) for poi in page.object_list]
    querystring = filters.querystring()
    context = {
        "page": page,
        "cards": cards,
        "filters": filters,
        "querystring": querystring,
        "fetch_all_query": filters.querystring(page=page.number, alternatives="all"),
        **_filter_choices(),
    }
    template = f"{TEMPLATE}#poi-list" if request.htmx else TEMPLATE
    return TemplateResponse(request, template, context)


@require_GET
@staff_required
def fetch_alternatives(request: HttpRequest, poi_id: int) -> HttpResponse:
    poi = get_object_or_404(get_poi_model(), pk=poi_id)
    context = card_context(request, poi, alternatives=True)
    if request.htmx:
        return TemplateResponse(request, f"{TEMPLATE}#alternatives", context)
    # Without JavaScript: the page with this one POI, alternatives open.
    page_context = {
        "cards": [context],
        "page": None,
        "filters": Filters(),
        "querystring": "",
        "single": True,
        **_filter_choices(),
    }
    return TemplateResponse(request, TEMPLATE, page_context)


# ------------------------------------------------------------------------------ labels


@require_POST
@staff_required
def mark(request: HttpRequest) -> HttpResponse:
    try:
        poi = _get_poi(request.POST.get("poi"))
    except ValueError:
        return _bad_request("A label needs the POI's id ('poi').")
    label = request.POST.get("label", "")
    url = request.POST.get("image_url", "")
    if label not in ImageTrainingData.Label.values:
        return _bad_request("'label' must be 'good' or 'bad'.")
    tile = known_image(request, poi, url) if url else None
    if tile is None:
        return _bad_request(
            "'image_url' must be this POI's current image or one of its candidates."
        )
    tile.label = _save_label(request, tile, label)
    return _label_response(request, tile)


def _save_label(request: HttpRequest, tile: Tile, label: str) -> ImageTrainingData:
    """A curator's label on a tile, with the score it had (training data)."""
    return ImageTrainingData.objects.create(
        poi=tile.poi,
        image_url=tile.url,
        thumbnail_url=(tile.candidate.thumbnail_url or None) if tile.candidate else None,
        image_label=label,
        aesthetic_score=tile.score,
        labelled_by=request.user,
    )


@require_POST
@staff_required
def undo(request: HttpRequest) -> HttpResponse:
    label_id = request.POST.get("label_id", "")
    if not label_id.isdigit():
        return _bad_request("Undo needs the label's id ('label_id').")
    label = get_object_or_404(ImageTrainingData, pk=int(label_id))
    if label.labelled_by_id not in (None, request.user.pk) and not request.user.is_superuser:
        raise PermissionDenied("Only the curator who made a label can undo it.")
    poi = label.poi
    tile = known_image(request, poi, label.image_url)
    label.delete()
    if tile is None:  # the image is gone from the POI: nothing to redraw
        return HttpResponse("") if request.htmx else _back(request)
    attach_labels(poi, [tile])
    return _label_response(request, tile)


def _label_response(request: HttpRequest, tile: Tile) -> HttpResponse:
    if request.htmx:
        return TemplateResponse(request, f"{TEMPLATE}#label-state", {"tile": tile})
    return _back(request)


def _back(request: HttpRequest) -> HttpResponseRedirect:
    return HttpResponseRedirect(_safe_next(request, reverse("image_ranking:review")))


@require_POST
@staff_required
def use_image(request: HttpRequest) -> HttpResponse:
    try:
        poi = _get_poi(request.POST.get("poi"))
    except ValueError:
        return _bad_request("'poi' is required.")
    candidate_id = request.POST.get("candidate", "")
    if not candidate_id.isdigit():
        return _bad_request("'candidate' is required.")
    candidate = ImageCandidate.objects.filter(pk=int(candidate_id), poi=poi).first()
    if candidate is None or candidate.filtered_reason:
        return _bad_request("'candidate' must be one of this POI's usable candidates.")
    error = ""
    try:
        ranking.choose_candidate(poi, candidate, chosen_by=SelectedImage.ChosenBy.CURATOR)
    except ImageRankingError as exc:
        error = f"Could not use {candidate.title}: {exc} The current image is unchanged."
    poi.refresh_from_db()
    if not request.htmx:
        return _back(request)
    context = card_context(request, poi, alternatives=True)
    context["card_error"] = error
    return TemplateResponse(request, f"{TEMPLATE}#poi-card", context)


@require_POST
@staff_required
def mark_page_good(request: HttpRequest) -> HttpResponse:
    """Bulk: label every listed POI's current image good (those not labelled yet)."""
    ids = [int(v) for v in request.POST.getlist("poi") if v.isdigit()]
    if not ids:
        return _bad_request("Send the POIs of the page ('poi', repeated).")
    created = 0
    with transaction.atomic():
        for poi in poi_queryset().filter(pk__in=ids):
            tile = current_tile(request, poi)
            if tile is None:
                continue
            attach_labels(poi, [tile])
            if tile.label is None:
                _save_label(request, tile, ImageTrainingData.Label.GOOD)
                created += 1
    messages.success(request, f"Marked {created} current image(s) good.")
    target = _safe_next(request, reverse("image_ranking:review"))
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = target  # reload the page with the new labels shown
        return response
    return HttpResponseRedirect(target)
