"""Leases: a POI is claimed by one ranking run at a time, across processes and machines.

One ``RankingLease`` row per POI, free once ``expires_at`` has passed. A run claims a
batch before ranking it, renews its leases (and its own heartbeat) while it works and
frees each POI when done. A crashed run's leases are taken over: at once when its
process is known to be gone (same host, ``process_gone``), else once they expire (a
run on another host that stopped beating).

Claiming is one atomic step on each database: PostgreSQL locks the free rows with
``SELECT ... FOR UPDATE SKIP LOCKED`` (a row another worker is claiming is skipped, not
waited for); SQLite, which has no SKIP LOCKED, uses one conditional
``UPDATE ... WHERE expired`` (SQLite writes are serialised, so two runs cannot both
match a row). Times come from the caller's clock: machines sharing a database must keep
their clocks in sync (NTP), as the lease times are compared across them.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
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


def take_over(
    poi_ids: Sequence[Any], dead: RankingRun, run: RankingRun, *, until: datetime
) -> list[Any]:
    """Move ``dead``'s leases on ``poi_ids`` to ``run`` (a run found dead by ``is_alive``
    before they expired); returns the POIs taken, in order. Conditional on the holder,
    so two runs taking over from the same dead one never both get a POI."""
    if not poi_ids:
        return []
    RankingLease.objects.filter(poi_id__in=list(poi_ids), run=dead).update(
        run=run, expires_at=until
    )
    mine = set(
        RankingLease.objects.filter(poi_id__in=list(poi_ids), run=run).values_list(
            "poi_id", flat=True
        )
    )
    return [pk for pk in poi_ids if pk in mine]


def holders(poi_ids: Iterable[Any]) -> dict[Any, RankingRun]:
    """The runs holding a lease on any of ``poi_ids`` (expired ones too: a run that died
    holding them), by POI."""
    rows = RankingLease.objects.filter(poi_id__in=list(poi_ids), run__isnull=False).select_related(
        "run"
    )
    return {row.poi_id: row.run for row in rows}


def next_expiry(poi_ids: Iterable[Any], *, now: datetime) -> datetime | None:
    """When the first unexpired lease on ``poi_ids`` runs out (None: none is held)."""
    leases = RankingLease.objects.filter(poi_id__in=list(poi_ids), expires_at__gt=now)
    return leases.order_by("expires_at").values_list("expires_at", flat=True).first()


def is_alive(run: RankingRun, *, now: datetime, lease: timedelta) -> bool:
    """Whether ``run`` is still running: not finished, its process not known to be gone,
    and a heartbeat within ``lease`` (the only sign of life from another host)."""
    if run.status != RankingRun.Status.RUNNING or process_gone(run.owner):
        return False
    last = run.heartbeat_at or run.started_at
    return last > now - lease


def runs_on_this_host(*, now: datetime, lease: timedelta) -> list[RankingRun]:
    """The live runs whose process is on this machine (they share its cores)."""
    mine = RankingRun.objects.filter(
        status=RankingRun.Status.RUNNING, owner__startswith=f"{socket.gethostname()}:"
    )
    return [run for run in mine if is_alive(run, now=now, lease=lease)]


def owner_name() -> str:
    """``host:pid`` of this process, as recorded in ``RankingRun.owner``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def process_gone(owner: str) -> bool:
    """True when ``owner`` (``host:pid``) is a process of this host that has ended (or a
    zombie: killed, not yet reaped). False when it runs, or on another host (unknown
    here: its heartbeat tells). A reused pid reads as alive: the heartbeat decides then."""
    host, _, pid = (owner or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # another user's process: it exists
        return False
    status = Path(f"/proc/{pid}/status")
    try:
        return "\nState:\tZ" in status.read_text()
    except OSError:  # no /proc (macOS): the process exists
        return False
