"""Leases: a POI is claimed by one ranking run at a time, across processes and machines.

One ``RankingLease`` row per POI, free once ``expires_at`` has passed. A run claims a
batch before ranking it, renews its leases (and its own heartbeat) while it works and
frees each POI when done; a crashed run's leases just expire and the POIs are taken over.

Claiming is one atomic step on each database: PostgreSQL locks the free rows with
``SELECT ... FOR UPDATE SKIP LOCKED`` (a row another worker is claiming is skipped, not
waited for); SQLite, which has no SKIP LOCKED, uses one conditional
``UPDATE ... WHERE expired`` (SQLite writes are serialised, so two runs cannot both
match a row). Times come from the caller's clock: machines sharing a database must keep
their clocks in sync (NTP), as the lease times are compared across them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Q

from image_ranking.models import RankingLease, RankingRun


def claim(poi_ids: Sequence[Any], run: RankingRun, *, now: datetime, until: datetime) -> list[Any]:
    """Claim the free POIs among ``poi_ids`` for ``run`` until ``until``; returns them in order."""
    if not poi_ids:
        return []
    # Rows are made on first use, free (expired) from the start.
    RankingLease.objects.bulk_create(
        [RankingLease(poi_id=pk, expires_at=now) for pk in poi_ids], ignore_conflicts=True
    )
    free = Q(expires_at__lte=now) | Q(run=run)
    if connection.features.has_select_for_update_skip_locked:
        with transaction.atomic():
            ids = list(
                RankingLease.objects.select_for_update(skip_locked=True)
                .filter(free, poi_id__in=poi_ids)
                .values_list("poi_id", flat=True)
            )
            RankingLease.objects.filter(poi_id__in=ids).update(run=run, expires_at=until)
        mine = set(ids)
    else:
        RankingLease.objects.filter(free, poi_id__in=poi_ids).update(run=run, expires_at=until)
        mine = set(
            RankingLease.objects.filter(poi_id__in=poi_ids, run=run).values_list(
                "poi_id", flat=True
            )
        )
    return [pk for pk in poi_ids if pk in mine]


def release(poi_ids: Iterable[Any], run: RankingRun, *, now: datetime) -> int:
    """Free ``run``'s leases on ``poi_ids`` (others' leases are left alone)."""
    ids = list(poi_ids)
    if not ids:
        return 0
    return RankingLease.objects.filter(poi_id__in=ids, run=run).update(run=None, expires_at=now)


def renew(run: RankingRun, poi_ids: Iterable[Any], *, now: datetime, until: datetime) -> None:
    """The run's heartbeat: it is alive, and still holds ``poi_ids`` until ``until``."""
    RankingRun.objects.filter(pk=run.pk).update(heartbeat_at=now)
    ids = list(poi_ids)
    if ids:
        RankingLease.objects.filter(poi_id__in=ids, run=run).update(expires_at=until)


def is_alive(run: RankingRun, *, now: datetime, lease: timedelta) -> bool:
    """Whether ``run`` is still running and has shown a sign of life within ``lease``."""
    if run.status != RankingRun.Status.RUNNING:
        return False
    last = run.heartbeat_at or run.started_at
    return last > now - lease
