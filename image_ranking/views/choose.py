""" "Use this image": a curator replaces a POI's image with one of its candidates."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.db import transaction
from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_POST

from image_ranking import ranking
from image_ranking.exceptions import ImageRankingError
from image_ranking.forms import UseImageForm, error_text
from image_ranking.models import ImageCandidate, SelectedImage
from image_ranking.views import failures
from image_ranking.views.access import staff_required
from image_ranking.views.cards import card_for, score_legend
from image_ranking.views.labels import back, bad_request
from image_ranking.views.stale import locked_poi, offer_again, stale_reason
from image_ranking.views.tiles import DROPPED_RELEVANCE, Card

TEMPLATE = "image_ranking/partials.html"


def usable_candidate(poi_pk: int, candidate_pk: int) -> ImageCandidate | None:
    """One of this POI's candidates a curator may pick: kept ones, and ones the relevance
    stage dropped as a namesake or not-a-photo (the curator may know better)."""
    candidate = ImageCandidate.objects.filter(pk=candidate_pk, poi=poi_pk).first()
    if candidate is None:
        return None
    overrulable = getattr(candidate, "relevance", "") in DROPPED_RELEVANCE
    return candidate if not candidate.drop or overrulable else None


def choose(request: HttpRequest, poi: Model, candidate: ImageCandidate) -> str:
    """Store the candidate; the curator's sentence if it failed ('' on success)."""
    try:
        ranking.choose_candidate(
            poi,
            candidate,
            chosen_by=SelectedImage.ChosenBy.CURATOR,
            client=failures.interactive_client(),
        )
    except ImageRankingError as exc:
        name = candidate.title.removeprefix("File:")
        return f"{name} was not used: " + failures.report(exc, f"Using {name}", poi)
    # Who chose it: a curator whose choice on this POI comes second is told.
    SelectedImage.objects.filter(poi=poi).update(chosen_by_user=request.user)
    return ""


@dataclass
class Pick:
    """A "use this image" POST: the POI (row locked) and the candidate, or why not."""

    poi: Model
    candidate: ImageCandidate
    stale: str  # why the page it came from is out of date ('' if it is not)


def picked(request: HttpRequest) -> Pick | HttpResponse:
    """The POI and candidate a "use this image" form names, or the 400/404 saying why not.

    Call inside a transaction: the POI's row stays locked until it ends.
    """
    form = UseImageForm(request.POST)
    if not form.is_valid():
        return bad_request(error_text(form))
    poi = locked_poi(form.cleaned_data["poi"])
    candidate = usable_candidate(poi.pk, form.cleaned_data["candidate"])
    if candidate is None:
        return bad_request("candidate: must be one of this POI's usable candidates.")
    return Pick(poi, candidate, stale_reason(poi, form.cleaned_data["version"]))


def use_offer(request: HttpRequest, card: Card, candidate: ImageCandidate, url: str, target: str):
    """The same choice, offered again on the fresh card (after a refusal or a failure)."""
    name = candidate.title.removeprefix("File:")
    return offer_again(url, target, f"Use {name}", request.POST, card.version)


@require_POST
@staff_required
def use_image(request: HttpRequest) -> HttpResponse:
    with transaction.atomic():
        pick = picked(request)
        if isinstance(pick, HttpResponse):
            return pick
        error = pick.stale or choose(request, pick.poi, pick.candidate)
    poi, candidate = pick.poi, pick.candidate
    if not request.htmx:
        if error:
            messages.error(request, error)
        else:
            messages.success(request, f"{candidate.title} is now the image.")
        return back(request)
    card = card_for(request, poi.pk, alternatives=True, fetch=not pick.stale)
    if error:
        url = reverse("image_ranking:use")
        card.offer = use_offer(request, card, candidate, url, f"#poi-{poi.pk}")
        if not pick.stale:
            card.offer.label = f"Retry: use {candidate.title.removeprefix('File:')}"
    card.card_error = error
    return TemplateResponse(request, f"{TEMPLATE}#poi-card", {"card": card, **score_legend()})
