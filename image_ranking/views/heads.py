"""The heads view: trained heads, which one is active, and what a head would change.

A curator previews a head (a dry run over the cached candidates, no request), then
accepts or rejects each POI it would change: accepting stores the new image, rejecting
keeps the current one and labels the new one "bad" (the next head learns it). Activating
(refused when the head's cross-validated figure is below its prior's) and rolling back are
one button each. Plain forms, CSRF-protected, staff only; the work is in
``learning/heads.py`` and ``learning/preview.py``.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from image_ranking import get_poi_model
from image_ranking.exceptions import ImageRankingError
from image_ranking.learning import heads, preview
from image_ranking.models import HeadChange, LearnedHead
from image_ranking.views.access import staff_required

TEMPLATE = "image_ranking/heads.html"
SHOWN_CHANGES = 200


def _back() -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("image_ranking:heads"))


@require_GET
@staff_required
def heads_page(request: HttpRequest) -> HttpResponse:
    rows = list(LearnedHead.objects.select_related("created_by", "activated_by")[:50])
    changes = (
        HeadChange.objects.filter(decision=HeadChange.Decision.PENDING)
        .select_related("head", "poi", "new_candidate")
        .order_by("head", "id")[:SHOWN_CHANGES]
    )
    context: dict[str, Any] = {
        "heads": rows,
        "active": next((h for h in rows if h.state == LearnedHead.State.ACTIVE), None),
        "changes": changes,
    }
    return TemplateResponse(request, TEMPLATE, context)


@require_POST
@staff_required
def head_activate(request: HttpRequest, head_id: int) -> HttpResponse:
    head = get_object_or_404(LearnedHead, pk=head_id)
    try:
        heads.activate(head, user=request.user)
    except ImageRankingError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Head {head.pk} is active: the next ranking uses it.")
    return _back()


@require_POST
@staff_required
def head_rollback(request: HttpRequest) -> HttpResponse:
    try:
        back = heads.rollback(user=request.user)
    except ImageRankingError as exc:
        messages.error(request, str(exc))
    else:
        said = f"Head {back.pk} is active again." if back else "No head is active now."
        messages.success(request, said)
    return _back()


@require_POST
@staff_required
def head_preview(request: HttpRequest, head_id: int) -> HttpResponse:
    head = get_object_or_404(LearnedHead, pk=head_id)
    pois = get_poi_model()._default_manager.all().order_by("pk")
    planned = preview.plan(head, pois)
    preview.record(planned)
    messages.success(
        request,
        f"Head {head.pk} would change {len(planned.changes)} POIs "
        f"({planned.unchanged} unchanged, {planned.requests} requests); review them below.",
    )
    return _back()


@require_POST
@staff_required
def change_decide(request: HttpRequest, change_id: int, decision: str) -> HttpResponse:
    row = get_object_or_404(HeadChange.objects.select_related("head", "poi"), pk=change_id)
    name = preview.poi_label(row.poi)
    if decision == "accept":
        try:
            problem = preview.accept(row, user=request.user)
        except ImageRankingError as exc:
            problem = str(exc)
        if problem:
            messages.error(request, f"{name}: {problem}")
        else:
            messages.success(request, f"{name}: new image stored.")
    else:
        preview.reject(row, user=request.user)
        messages.success(request, f"{name}: kept the current image; the new one is labelled bad.")
    return _back()
