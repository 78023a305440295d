"""Good/bad labels: mark, change, undo (also after a reload), and the page-wide bulk label.

Labels are kept as a history per curator (``ImageTrainingData`` rows, newest counts): a
changed label is a new row, and undo deletes the curator's newest row so the one before
shows again. ``train_ranker`` reads the newest label per image.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Model
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseRedirect,
)
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRefresh, reswap, retarget

from image_ranking.forms import BulkGoodForm, LabelForm, UndoForm, error_text
from image_ranking.models import ImageTrainingData
from image_ranking.poi import get_poi_adapter
from image_ranking.views.access import staff_required
from image_ranking.views.cards import card_for, refused, safe_next
from image_ranking.views.selection import base_queryset
from image_ranking.views.stale import image_version, locked_poi, offer_again, stale_reason
from image_ranking.views.tiles import Tile, attach_labels, current_tile, known_image

TEMPLATE = "image_ranking/partials.html"
BULK = "image_ranking_bulk_labels"  # the session's last "mark all good": undone as one


def bad_request(message: str) -> HttpResponseBadRequest:
    # Plain text: review.js shows it in the card as it is.
    return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")


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
    data = form.cleaned_data
    with transaction.atomic():
        poi = locked_poi(data["poi"])
        reason = stale_reason(poi, data["version"])
        if reason:
            return refuse_label(request, poi, reason, data)
        tile = known_image(request, poi, data["image_url"])
        if tile is None:
            return bad_request(
                "image_url: must be this POI's current image or one of its candidates."
            )
        tile.label = save_label(request, tile, data["label"])
        tile.version = data["version"] or image_version(poi)
    return label_response(request, tile)


def refuse_label(request: HttpRequest, poi: Model, reason: str, data: dict) -> HttpResponse:
    """The fresh card, and the same label offered again on the same image."""
    card = card_for(request, poi.pk, alternatives=True, fetch=False)
    tile = next((t for t in card.tiles if t.url == data["image_url"]), None)
    target = f"#label-{tile.key}" if tile else ""
    what = tile.alt if tile else "that image"
    label = ImageTrainingData.Label(data["label"]).label.lower()
    card.offer = offer_again(
        reverse("image_ranking:mark"),
        target,
        f"Mark {what} {label} again",
        request.POST,
        card.version,
    )
    return refused(request, card, reason)


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
        if label.pk in request.session.get(BULK, []):
            return undo_bulk(request)
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


def undo_bulk(request: HttpRequest) -> HttpResponse:
    """Take back the whole last "mark all good" (the curator's own labels of it)."""
    ids = request.session.pop(BULK, [])
    deleted, _ = ImageTrainingData.objects.filter(pk__in=ids, labelled_by=request.user).delete()
    messages.info(request, f'Undone: {deleted} label(s) of "mark all good".')
    if request.htmx:
        return HttpResponseClientRefresh()
    return back(request)


@require_POST
@staff_required
def mark_page_good(request: HttpRequest) -> HttpResponse:
    """Bulk: label every listed POI's current image good (those not labelled yet).

    POIs whose image changed since the page loaded are left alone and named. The labels
    made are remembered in the session, so that one undo (``u``) takes them all back.
    """
    form = BulkGoodForm(request.POST)
    if not form.is_valid():
        return bad_request("Send the POIs of the page ('poi', repeated).")
    versions = form.versions()
    created, changed = [], []
    with transaction.atomic():
        pois = base_queryset(with_reports=False).filter(pk__in=form.cleaned_data["poi"])
        for poi in pois.select_for_update(of=("self",)):
            if stale_reason(poi, versions.get(poi.pk, "")):
                changed.append(get_poi_adapter().name(poi))
                continue
            tile = current_tile(request, poi)
            if tile is not None and attach_labels([tile])[0].label is None:
                created.append(save_label(request, tile, ImageTrainingData.Label.GOOD).pk)
    request.session[BULK] = created
    text = f"Marked {len(created)} current image(s) good; press u to take them all back."
    messages.success(request, text)
    if changed:
        names = ", ".join(changed)
        messages.warning(
            request, f"Not marked, their image changed since the page loaded: {names}."
        )
    if request.htmx:
        return HttpResponseClientRefresh()  # the page again, with the new labels shown
    return back(request)
