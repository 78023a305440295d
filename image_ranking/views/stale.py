"""Nothing lost between curators: a label or choice made on a stale view is refused.

Every form of the review page carries ``version``, a token of the POI's image as the page
showed it. A POST locks the POI's row (``locked_poi``, inside the view's transaction) and
compares the token with the image the POI has now: of two curators acting on one POI, the
second is told who changed it and what it is now, is shown the POI as it is now, and is
offered the same action again there. Nothing is overwritten. A POST without a token (an
old bookmark, a script) is not checked.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Model
from django.shortcuts import get_object_or_404
from django.utils import timezone

from image_ranking import get_poi_model
from image_ranking.models import SelectedImage
from image_ranking.poi import get_poi_adapter
from image_ranking.views.tiles import selected_of

_UNSET: Any = object()


def image_version(poi: Model, selected: SelectedImage | None = _UNSET) -> str:
    """A short token that changes whenever the POI's image (or who chose it) changes.

    Made of what the curator saw (the file's content, who chose it), not of when its row
    was saved: a ranking run that keeps the same file re-saves the row (a new score, a new
    head) and must not make every open page stale.
    """
    if selected is _UNSET:
        selected = selected_of(poi)
    image = get_poi_adapter().image(poi)
    if selected is not None and selected.sha1:
        parts = [selected.sha1]
    else:
        parts = [image.name if image else ""]
    if selected is not None:
        parts += [selected.chosen_by, str(selected.chosen_by_user_id or "")]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def locked_poi(pk: Any) -> Model:
    """The POI, its row locked until the transaction ends (call inside ``atomic``)."""
    # No select_related: PostgreSQL refuses FOR UPDATE across nullable outer joins.
    return get_object_or_404(get_poi_model()._default_manager.select_for_update(), pk=pk)


def who_changed(selected: SelectedImage | None) -> str:
    """ "Bea changed this POI's image at 17:02; it is now File:X.jpg." """
    if selected is None:
        return "This POI's image was removed since the page loaded."
    if selected.chosen_by == SelectedImage.ChosenBy.CURATOR and selected.chosen_by_user_id:
        who = selected.chosen_by_user.get_username()
    elif selected.chosen_by == SelectedImage.ChosenBy.CURATOR:
        who = "Another curator"
    elif selected.chosen_by == SelectedImage.ChosenBy.RANKER:
        who = "A ranking run"
    else:
        who = "The category fallback"
    when = timezone.localtime(selected.updated_at).strftime("%H:%M")
    now = selected.title.removeprefix("File:") if selected.title else "a stored file"
    return f"{who} changed this POI's image at {when}; it is now {now}."


def stale_reason(poi: Model, version: str) -> str:
    """Why a POST made on a page showing ``version`` is refused ('' if it is current)."""
    if not version:
        return ""
    selected = SelectedImage.objects.select_related("chosen_by_user").filter(poi=poi).first()
    if image_version(poi, selected) == version:
        return ""
    return f"Not saved: {who_changed(selected)} Here it is as it is now."


@dataclass
class Offer:
    """An action offered again on the fresh view: the same form, with the fresh token."""

    label: str
    url: str
    target: str
    fields: list[tuple[str, Any]] = field(default_factory=list)


def offer_again(url: str, target: str, label: str, data: Any, version: str) -> Offer:
    """The refused POST's own fields (``data``), with the POI's current ``version``."""
    skip = {"csrfmiddlewaretoken", "version"}
    fields = [(k, v) for k in data for v in data.getlist(k) if k not in skip]
    return Offer(label, url, target, [*fields, ("version", version)])
