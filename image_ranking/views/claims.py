"""Soft locking in the queue: a POI one curator has open is not handed to another.

A claim lasts ``CLAIM_TTL`` and is renewed each time the curator is shown the POI; each
curator holds one claim at a time (moving on frees the last one). It only steers the
queue and warns ("<curator> is reviewing this POI"): writes are guarded by the version
token (``stale.py``), so an expired or ignored claim loses nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from image_ranking.models import ReviewClaim

CLAIM_TTL = dt.timedelta(minutes=10)


def held_by_others(user: Any, now: dt.datetime | None = None) -> QuerySet:
    """Live claims of other curators (for ``Exists`` over the queue's POIs)."""
    now = now or timezone.now()
    return ReviewClaim.objects.filter(expires_at__gt=now).exclude(curator=user)


def unclaimed(queryset: QuerySet, user: Any, now: dt.datetime | None = None) -> QuerySet:
    """The POIs of ``queryset`` no other curator has open."""
    return queryset.exclude(Exists(held_by_others(user, now).filter(poi=OuterRef("pk"))))


def claim(poi_pk: Any, user: Any, now: dt.datetime | None = None) -> str:
    """Claim the POI for ``user``; the name of the curator holding it instead ('' if none)."""
    now = now or timezone.now()
    holder = held_by_others(user, now).filter(poi=poi_pk).select_related("curator").first()
    if holder is not None:
        return holder.curator.get_username()
    ReviewClaim.objects.filter(curator=user).exclude(poi=poi_pk).delete()
    try:
        with transaction.atomic():
            ReviewClaim.objects.update_or_create(
                poi_id=poi_pk, defaults={"curator": user, "expires_at": now + CLAIM_TTL}
            )
    except IntegrityError:  # another curator claimed it this very moment
        return claim(poi_pk, user, now)
    return ""


def release(user: Any) -> None:
    ReviewClaim.objects.filter(curator=user).delete()
