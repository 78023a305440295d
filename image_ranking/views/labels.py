"""Good/bad labels: mark, change, undo (also after a reload), and the page-wide bulk label.

Labels are kept as a history per curator (``ImageTrainingData`` rows, newest counts): a
changed label is a new row, and undo deletes the curator's newest row so the one before
shows again. ``train_ranker`` reads the newest label per image.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
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
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRefresh, reswap, retarget

from image_ranking import get_poi_model
from image_ranking.forms import BulkGoodForm, LabelForm, UndoForm, error_text
from image_ranking.models import ImageTrainingData
from image_ranking.views.access import staff_required
from image_ranking.views.selection import base_queryset
from image_ranking.views.tiles import Tile, attach_labels, current_tile, known_image

TEMPLATE = "image_ranking/partials.html"


def bad_request(message: str) -> HttpResponseBadRequest:
    # Plain text: review.js shows it in the card as it is.
    return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")


def safe_next(request: HttpRequest, fallback: str | None = None) -> str:
    fallback = fallback or reverse("image_ranking:review")
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


def back(request: HttpRequest) -> HttpResponseRedirect:
    return HttpResponseRedirect(safe_next(request))


def save_label(request: HttpRequest, tile: Tile, label: str) -> ImageTrainingData:
    """A curator's label on a tile, with the score it had (training data)."""
    return ImageTrainingData.objects.create(
        poi=tile.poi,
        image_url=tile.url,
        thumbnail_url=(tile.candidate.thumbnail_url or None) if tile.candidate else None,
        image_label=label,
        aesthetic_score=tile.score,
        labelled_by=request.user,
    )


def label_response(request: HttpRequest, tile: Tile) -> HttpResponse:
    if request.htmx:
        return TemplateResponse(request, f"{TEMPLATE}#label-state", {"tile": tile})
    return back(request)


@require_POST
@staff_required
def mark(request: HttpRequest) -> HttpResponse:
    form = LabelForm(request.POST)
    if not form.is_valid():
        return bad_request(error_text(form))
    poi = get_object_or_404(get_poi_model(), pk=form.cleaned_data["poi"])
    tile = known_image(request, poi, form.cleaned_data["image_url"])
    if tile is None:
        return bad_request("image_url: must be this POI's current image or one of its candidates.")
    tile.label = save_label(request, tile, form.cleaned_data["label"])
    return label_response(request, tile)


def latest_label_of(request: HttpRequest) -> ImageTrainingData | None:
    return ImageTrainingData.objects.filter(labelled_by=request.user).first()


def undo_label(request: HttpRequest, label: ImageTrainingData) -> Tile | None:
    """Delete ``label``; the tile it was on, with the label now in force (if still shown)."""
    if label.labelled_by_id not in (None, request.user.pk) and not request.user.is_superuser:
        raise PermissionDenied("Only the curator who made a label can undo it.")
    poi = label.poi
    tile = known_image(request, poi, label.image_url)
    label.delete()
    if tile is not None:
        attach_labels([tile])
    return tile


@require_POST
@staff_required
def undo(request: HttpRequest) -> HttpResponse:
    """Undo one label, or (no ``label_id``) the curator's newest: works after a reload."""
    form = UndoForm(request.POST)
    if not form.is_valid():
        return bad_request(error_text(form))
    label_id = form.cleaned_data["label_id"]
    if label_id:
        label = get_object_or_404(ImageTrainingData, pk=label_id)
    else:
        label = latest_label_of(request)
        if label is None:
            return bad_request("Nothing to undo: you have no labels.")
    tile = undo_label(request, label)
    if not request.htmx:
        messages.info(request, "Label undone.")
        return back(request)
    if tile is None:  # the image is gone from the POI: nothing to redraw
        return HttpResponse("")
    response = label_response(request, tile)
    if not label_id:
        # The label may be on any tile of the page: swap that tile's label state.
        response = reswap(retarget(response, f"#label-{tile.key}"), "outerHTML")
    return response


@require_POST
@staff_required
def mark_page_good(request: HttpRequest) -> HttpResponse:
    """Bulk: label every listed POI's current image good (those not labelled yet)."""
    form = BulkGoodForm(request.POST)
    if not form.is_valid():
        return bad_request("Send the POIs of the page ('poi', repeated).")
    created = 0
    with transaction.atomic():
        pois = base_queryset(with_reports=False).filter(pk__in=form.cleaned_data["poi"])
        tiles = [t for t in (current_tile(request, poi) for poi in pois) if t is not None]
        for tile in attach_labels(tiles):
            if tile.label is None:
                save_label(request, tile, ImageTrainingData.Label.GOOD)
                created += 1
    messages.success(request, f"Marked {created} current image(s) good.")
    if request.htmx:
        return HttpResponseClientRefresh()  # the page again, with the new labels shown
    return back(request)
