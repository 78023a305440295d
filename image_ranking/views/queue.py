"""Queue mode: one POI at a time, work first, with keys and auto-advance.

The queue is the grid's selection (same filters) in work order: POIs needing an image
(open "no suitable image" report) first, then unlabelled current images, lowest score
first. "Good" and "use this image" move on to the next POI; "bad" stays so a better image
can be picked; "skip" moves on and remembers the skip for the session; undo takes back the
curator's newest label (kept in the database, so it works after a reload) and returns to
that POI.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.db import transaction
from django.db.models import Model
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from image_ranking import get_poi_model
from image_ranking.forms import FilterForm, QueueActionForm, error_text
from image_ranking.learning import uncertainty
from image_ranking.models import ImageTrainingData
from image_ranking.views import claims
from image_ranking.views.access import staff_required
from image_ranking.views.cards import card_for, load_alternatives, score_legend
from image_ranking.views.choose import choose, picked, use_offer
from image_ranking.views.labels import bad_request, latest_label_of, save_label, undo_label
from image_ranking.views.selection import selection
from image_ranking.views.stale import locked_poi, offer_again, stale_reason
from image_ranking.views.tiles import current_tile, known_image

TEMPLATE = "image_ranking/queue.html"
SKIPPED = "image_ranking_queue_skipped"
FILTER_NAMES = ("q", "city", "list", "category", "labelled", "sort", "needs_image")


def _filters(data: QueryDict) -> QueryDict:
    """The selection's filters carried by a queue form (``filters`` = its querystring)."""
    return QueryDict(data.get("filters", ""))


def _skipped(request: HttpRequest) -> list[Any]:
    return list(request.session.get(SKIPPED, []))


def queue_state(
    request: HttpRequest, query: QueryDict, at: Any = None, *, fetch: bool = False
) -> dict[str, Any]:
    """The queue's context: progress over the whole selection and the POI to show (the
    first waiting one no other curator has open, unless ``at`` names one)."""
    form = FilterForm.from_query(query)
    chosen = selection(form, default_sort="work")
    total = chosen.count()
    done = chosen.filter(has_label=True).count()
    if at is None:
        waiting = chosen.filter(has_label=False).exclude(pk__in=_skipped(request))
        # The object, not values_list: PostgreSQL wants DISTINCT's ORDER BY in the select.
        first = claims.unclaimed(waiting, request.user).first()
        at = first.pk if first is not None else None
    card, claimed_by = None, ""
    if at is not None:
        claimed_by = claims.claim(at, request.user)
        card = load_alternatives(card_for(request, at), fetch=fetch)
    else:
        claims.release(request.user)
    filters = urlencode(
        {k: v for k in FILTER_NAMES if (v := query.get(k))}  # the selection, not the POI
    )
    return {
        "card": card,
        "claimed_by": claimed_by,
        "total": total,
        "done": done,
        "skipped_count": len(_skipped(request)),
        "filters": filters,
        "queue_url": f"{reverse('image_ranking:queue')}?{filters}" if filters else "",
        # Why this POI is asked ("two candidates within 0.15"): learning/uncertainty.py.
        "ask": uncertainty.asks([at]).get(at) if at is not None else None,
        **score_legend(),
    }


def _render(request: HttpRequest, query: QueryDict, at: Any = None, error: str = ""):
    if not request.htmx:
        target = reverse("image_ranking:queue")
        params = QueryDict(mutable=True)
        params.update({k: v for k in FILTER_NAMES if (v := query.get(k))})
        if at is not None:
            params["at"] = str(at)
        if error:
            from django.contrib import messages

            messages.error(request, error)
        return HttpResponseRedirect(f"{target}?{params.urlencode()}" if params else target)
    context = queue_state(request, query, at)
    if context["card"] is not None:
        context["card"].card_error = error
    return TemplateResponse(request, f"{TEMPLATE}#queue-body", context)


@require_GET
@staff_required
def queue(request: HttpRequest) -> HttpResponse:
    at = request.GET.get("at")
    at = int(at) if at and at.isdigit() else None
    if request.GET.get("restart"):
        request.session[SKIPPED] = []
    context = queue_state(request, request.GET, at, fetch=bool(request.GET.get("fetch")))
    template = f"{TEMPLATE}#queue-body" if request.htmx else TEMPLATE
    return TemplateResponse(request, template, context)


@require_POST
@staff_required
def queue_act(request: HttpRequest) -> HttpResponse:
    """Good or bad on one of the POI's images (the current one unless ``image_url`` names
    a candidate), or skip. The queue moves on once the POI is settled (``settled``)."""
    form = QueueActionForm(request.POST)
    if not form.is_valid():
        return bad_request(error_text(form))
    data = form.cleaned_data
    query = _filters(request.POST)
    if data["action"] == "skip":
        poi = get_object_or_404(get_poi_model(), pk=data["poi"])
        request.session[SKIPPED] = [*_skipped(request), poi.pk]
        return _render(request, query)
    with transaction.atomic():
        poi = locked_poi(data["poi"])
        reason = stale_reason(poi, data["version"])
        if reason:
            return _refuse(request, query, poi, reason, data)
        if data["image_url"]:
            tile = known_image(request, poi, data["image_url"])
        else:
            tile = current_tile(request, poi)
        if tile is None:
            return bad_request("This POI has no such image to label; pick one or skip it.")
        save_label(request, tile, data["action"])
    return _render(request, query, at=None if settled(request, poi) else poi.pk)


def settled(request: HttpRequest, poi: Model) -> bool:
    """Nothing left to decide on the POI: its current image is good, or every image shown
    is labelled and no candidate is good (a good one is there to be used)."""
    card = load_alternatives(card_for(request, poi.pk), fetch=False)
    if card.current is None or card.current.label is None:
        return False
    if card.current.label.image_label == ImageTrainingData.Label.GOOD:
        return True
    others = card.alternatives or []
    return all(t.label is not None and t.label.image_label == "bad" for t in others)


def _refuse(request: HttpRequest, query: QueryDict, poi: Model, reason: str, data: dict):
    """The POI as it is now, saying who changed it, the same label offered again."""
    response = _render(request, query, at=poi.pk, error=reason)
    if not request.htmx:
        return response
    card = response.context_data["card"]
    tile = next((t for t in card.tiles if t.url == data["image_url"]), None)
    what = tile.alt if tile else "the current image"
    label = ImageTrainingData.Label(data["action"]).label.lower()
    url = reverse("image_ranking:queue_act")
    card.offer = offer_again(
        url, "#queue", f"Mark {what} {label} again", request.POST, card.version
    )
    return response


@require_POST
@staff_required
def queue_choose(request: HttpRequest) -> HttpResponse:
    """Use a candidate as the POI's image, then move on (or stay and say why not)."""
    with transaction.atomic():
        pick = picked(request)
        if isinstance(pick, HttpResponse):
            return pick
        error = pick.stale or choose(request, pick.poi, pick.candidate)
    query = _filters(request.POST)
    poi = pick.poi
    if error:
        response = _render(request, query, at=poi.pk, error=error)
        if request.htmx and response.context_data["card"] is not None:
            card = response.context_data["card"]
            url = reverse("image_ranking:queue_choose")
            card.offer = use_offer(request, card, pick.candidate, url, "#queue")
            if not pick.stale:
                card.offer.label = "Retry: " + card.offer.label.lower()
        return response
    request.session[SKIPPED] = [*_skipped(request), poi.pk]  # done with it this session
    return _render(request, query)


@require_POST
@staff_required
def queue_undo(request: HttpRequest) -> HttpResponse:
    """Take back the curator's newest label and show its POI again."""
    label = latest_label_of(request)
    query = _filters(request.POST)
    if label is None:
        return bad_request("Nothing to undo: you have no labels.")
    poi_pk = label.poi_id
    undo_label(request, label)
    request.session[SKIPPED] = [pk for pk in _skipped(request) if pk != poi_pk]
    return _render(request, query, at=poi_pk)
