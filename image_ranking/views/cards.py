"""Cards: a POI's current image beside its alternatives, built for a whole page at once."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Model
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.http import reswap, retarget

from image_ranking import ranking
from image_ranking.conf import conf
from image_ranking.exceptions import ImageRankingError
from image_ranking.models import ImageCandidate, ImageTrainingData, RankingRun
from image_ranking.poi import get_poi_adapter
from image_ranking.views import failures
from image_ranking.views.explain import explain_tiles, why_current
from image_ranking.views.selection import annotated, open_reports
from image_ranking.views.stale import image_version
from image_ranking.views.tiles import (
    DROPPED_RELEVANCE,
    Card,
    attach_labels,
    candidate_tile,
    current_tile,
    selected_of,
)


def poi_meta(poi: Model) -> str:
    """ "Paris · See": what the card shows under the name, through the POI contract."""
    adapter = get_poi_adapter()
    parts = [adapter.city_name(poi)]
    category = adapter.path("category")
    if category and "__" not in category:
        display = getattr(poi, f"get_{category}_display", None)
        parts.append(str(display()) if callable(display) else adapter.category(poi))
    return " · ".join(p for p in parts if p)


def build_cards(request: HttpRequest, pois: Iterable[Model]) -> list[Card]:
    """Cards for a page of POIs from ``selection.annotated``: two queries in all."""
    pois = list(pois)
    adapter = get_poi_adapter()
    cards = [
        Card(poi, adapter.name(poi), poi_meta(poi), current_tile(request, poi)) for poi in pois
    ]
    candidates = candidates_of(pois)
    threshold = score_legend()["score_threshold"]
    for card in cards:
        selected = selected_of(card.poi)
        card.version = image_version(card.poi, selected)
        if card.current:
            card.current.version = card.version
            mine = candidates.get(card.poi.pk, [])
            explain_tiles([card.current], mine)
            card.current.why = why_current(selected, mine, threshold)
    labels = list(ImageTrainingData.objects.filter(poi__in=[p.pk for p in pois]))
    attach_labels([c.current for c in cards if c.current], labels)
    reported = [p.pk for p in pois if getattr(p, "has_report", False)]
    if reported:
        descriptions = dict(
            open_reports().filter(poi__in=reported).values_list("poi_id", "description")
        )
        for card in cards:
            card.report = descriptions.get(card.poi.pk, "")
    return cards


def candidates_of(pois: list[Model]) -> dict[Any, list[ImageCandidate]]:
    """Every candidate of the page's POIs, by POI: one query (ranks, why the winner won)."""
    rows: dict[Any, list[ImageCandidate]] = {}
    for row in ImageCandidate.objects.filter(poi__in=[p.pk for p in pois]):
        rows.setdefault(row.poi_id, []).append(row)
    return rows


def card_for(
    request: HttpRequest, poi_pk: Any, *, alternatives: bool = False, fetch: bool = True
) -> Card:
    """One POI's card, fresh from the database (after a change)."""
    from image_ranking import get_poi_model

    poi = annotated(get_poi_model()._default_manager.filter(pk=poi_pk)).get()
    card = build_cards(request, [poi])[0]
    if alternatives:
        load_alternatives(card, fetch=fetch)
    return card


def refused(request: HttpRequest, card: Card, message: str) -> HttpResponse:
    """The card as it is now, saying why the curator's action was not saved (htmx) or a
    message and back to the page (without JavaScript)."""
    from django.contrib import messages

    if not request.htmx:
        messages.error(request, message)
        return HttpResponseRedirect(safe_next(request))
    card.card_error = message
    response = TemplateResponse(
        request, "image_ranking/partials.html#poi-card", {"card": card, **score_legend()}
    )
    return reswap(retarget(response, f"#poi-{card.poi.pk}"), "outerHTML")


def safe_next(request: HttpRequest, fallback: str | None = None) -> str:
    fallback = fallback or reverse("image_ranking:review")
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


def load_alternatives(card: Card, *, fetch: bool = True) -> Card:
    """The POI's candidates: from the cache while fresh, else from Commons (``fetch``)."""
    poi = card.poi
    if fetch:
        try:
            candidates = ranking.get_candidates(poi, client=failures.interactive_client())
        except ImageRankingError as exc:
            card.alternatives = []
            card.alternatives_error = failures.report(exc, "Fetching alternatives", poi)
            return card
    else:
        candidates = sorted(
            ImageCandidate.objects.filter(poi=poi, drop=""), key=ranking.score_order_key
        )
        if not candidates:
            return card  # nothing cached: the card offers "Fetch alternatives"
    # The file shown now is not an alternative to itself (its candidate row may be gone).
    current_sha1 = getattr(selected_of(poi), "sha1", None) if card.current else None
    top_k = conf.SCORE_TOP_K
    card.alternatives = [
        candidate_tile(poi, c, top_k)
        for c in candidates
        if not current_sha1 or c.sha1 != current_sha1
    ]
    card.dropped = [candidate_tile(poi, c, top_k) for c in dropped_candidates(poi)]
    for number, tile in enumerate(card.alternatives, start=1):
        tile.number = number
    for tile in [*card.alternatives, *card.dropped]:
        tile.version = card.version
    explain_tiles([*card.alternatives, *card.dropped], candidates)
    attach_labels(card.tiles)
    return card


def dropped_candidates(poi: Model) -> list[ImageCandidate]:
    """Candidates the relevance stage dropped (namesakes elsewhere, maps...), if judged."""
    field_names = {f.name for f in ImageCandidate._meta.get_fields()}
    if "relevance" not in field_names:
        return []
    return list(ImageCandidate.objects.filter(poi=poi, relevance__in=DROPPED_RELEVANCE))


def score_legend() -> dict[str, Any]:
    """What a score means: the scale, the scorer, the last run's threshold."""
    run = RankingRun.objects.only("selection").first()
    threshold = (run.selection or {}).get("threshold") if run else None
    return {
        "score_threshold": conf.SCORE_THRESHOLD if threshold is None else threshold,
        "scorer_name": conf.SCORER,
    }
