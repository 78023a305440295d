"""The grid: a page of POI cards with filters, search, sorting and paging."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET

from image_ranking import get_poi_model
from image_ranking.forms import SORTS, FilterForm
from image_ranking.views.access import staff_required
from image_ranking.views.cards import build_cards, card_for, load_alternatives, score_legend
from image_ranking.views.selection import (
    filter_choices,
    needs_image_count,
    open_reports,
    report_links,
    selection,
)

PAGE_SIZE = 12
TEMPLATE = "image_ranking/review.html"
PARTIALS = "image_ranking/partials.html"


def page_context(request: HttpRequest, form: FilterForm) -> dict[str, Any]:
    return {
        "filters": form,
        "sorts": SORTS,
        "open_report_count": open_reports().count(),
        "needs_image_count": needs_image_count(form),
        "reports": report_links(),
        **score_legend(),
        **filter_choices(),
    }


@require_GET
@staff_required
def review(request: HttpRequest) -> HttpResponse:
    form = FilterForm.from_query(request.GET)
    page = Paginator(selection(form), PAGE_SIZE).get_page(request.GET.get("page"))
    cards = build_cards(request, page.object_list)
    # ?alternatives=all is the no-JavaScript bulk fetch (with JavaScript, review.js
    # fetches card by card instead and shows progress).
    if request.GET.get("alternatives") == "all":
        for card in cards:
            load_alternatives(card)
    context = {"page": page, "cards": cards, **page_context(request, form)}
    # What "mark all good" will label, for its confirmation.
    context["unlabelled_current"] = sum(1 for c in cards if c.current and c.current.label is None)
    template = f"{TEMPLATE}#poi-list" if request.htmx else TEMPLATE
    return TemplateResponse(request, template, context)


@require_GET
@staff_required
def fetch_alternatives(request: HttpRequest, poi_id: int) -> HttpResponse:
    get_object_or_404(get_poi_model(), pk=poi_id)
    card = card_for(request, poi_id, alternatives=True)
    if request.htmx:
        # In the queue, "use this image" moves the queue on: it needs the queue's filters.
        in_queue = {"in_queue": True, "filters": request.GET.get("filters", "")}
        extra = in_queue if request.GET.get("in_queue") else {}
        context = {"card": card, **score_legend(), **extra}
        return TemplateResponse(request, f"{PARTIALS}#alternatives", context)
    # Without JavaScript: the page with this one POI, alternatives open.
    context = {"cards": [card], "page": None, "single": True}
    context.update(page_context(request, FilterForm.from_query({})))
    return TemplateResponse(request, TEMPLATE, context)
