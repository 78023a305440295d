""" "Use this image": a curator replaces a POI's image with one of its candidates."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.views.decorators.http import require_POST

from image_ranking import get_poi_model, ranking
from image_ranking.exceptions import ImageRankingError
from image_ranking.forms import UseImageForm, error_text
from image_ranking.models import ImageCandidate, SelectedImage
from image_ranking.views import failures
from image_ranking.views.access import staff_required
from image_ranking.views.cards import card_for, score_legend
from image_ranking.views.labels import back, bad_request
from image_ranking.views.tiles import DROPPED_RELEVANCE

TEMPLATE = "image_ranking/partials.html"


def usable_candidate(poi_pk: int, candidate_pk: int) -> ImageCandidate | None:
    """One of this POI's candidates a curator may pick: kept ones, and ones the relevance
    stage dropped as a namesake or not-a-photo (the curator may know better)."""
    candidate = ImageCandidate.objects.filter(pk=candidate_pk, poi=poi_pk).first()
    if candidate is None:
        return None
    overrulable = getattr(candidate, "relevance", "") in DROPPED_RELEVANCE
    return candidate if not candidate.filtered_reason or overrulable else None


def choose(poi: Model, candidate: ImageCandidate) -> str:
    """Store the candidate; the curator's sentence if it failed ('' on success)."""
    try:
        ranking.choose_candidate(
            poi,
            candidate,
            chosen_by=SelectedImage.ChosenBy.CURATOR,
            client=failures.interactive_client(),
        )
    except ImageRankingError as exc:
        return failures.report(exc, f"Using {candidate.title}", poi)
    return ""


def picked(request: HttpRequest) -> tuple[Model, ImageCandidate] | HttpResponse:
    """The POI and candidate a "use this image" form names, or the 400/404 saying why not."""
    form = UseImageForm(request.POST)
    if not form.is_valid():
        return bad_request(error_text(form))
    poi = get_object_or_404(get_poi_model(), pk=form.cleaned_data["poi"])
    candidate = usable_candidate(poi.pk, form.cleaned_data["candidate"])
    if candidate is None:
        return bad_request("candidate: must be one of this POI's usable candidates.")
    return poi, candidate


@require_POST
@staff_required
def use_image(request: HttpRequest) -> HttpResponse:
    chosen = picked(request)
    if isinstance(chosen, HttpResponse):
        return chosen
    poi, candidate = chosen
    error = choose(poi, candidate)
    if not request.htmx:
        if error:
            messages.error(request, error)
        else:
            messages.success(request, f"{candidate.title} is now the image.")
        return back(request)
    card = card_for(request, poi.pk, alternatives=True)
    card.card_error = error
    return TemplateResponse(request, f"{TEMPLATE}#poi-card", {"card": card, **score_legend()})
