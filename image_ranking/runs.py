"""Ranking runs: which POIs a run ranks, in which batches, shared with which other runs.

``RankingRunner(RunOptions(...))`` is what ``manage.py rank_poi_images`` and the Prefect
flows run (``RunOptions``: ``run_options.py``); the command only parses arguments and
prints, the flows log.

- **Selection**: the POIs in at least one list (all, or only those without an image or
  with a category fallback), optionally of one city, at most ``limit`` of them.
- **Resume**: every run is recorded (``RankingRun``). A run with the same selection as
  an interrupted or crashed one carries on where it stopped: POIs ranked since that
  run began are skipped (failed ones are tried again). ``restart`` starts over.
- **Sharing**: each batch is claimed (``leases.py``) before it is ranked, so
  runs in several processes or on several machines split the list. A run with the same
  selection that is still alive (its process exists when on this host, a heartbeat
  within ``IMAGE_RANKING_LEASE_SECONDS``) is joined (``RankingRun.joined``), never
  marked as resumed: POIs it ranked are skipped, its claims respected.
- **Crash takeover**: a run does not finish while POIs of its selection are held by
  another run. It waits for them (polling every ``POLL_SECONDS``, beating meanwhile):
  a live holder ranks them; a dead one's leases are taken over (at once when its
  process is gone from this host, else once its heartbeat is older than the lease)
  and the POIs ranked here. Heartbeats come after each POI and before each call to
  Commons or the scorer within one, so a long POI does not look like a crash.
- **Threads**: with ``IMAGE_RANKING_TORCH_THREADS=0`` (the default) a run gives torch
  its share of the machine: the cores this process may use (affinity, a container's CPU
  quota) divided by the live runs on this host, looked at again before each batch.
  Two runs each using every core on one machine were 5x slower than one.
- **Interruption**: ``request_stop()`` (Ctrl-C, through ``stop_on_sigint``) ends the run
  after the current POI; a ``KeyboardInterrupt`` ends it at once, between commits.
- **Summary**: ``run()`` returns a JSON-compatible dict (``summary_keys``). Its status
  is ``success`` (every POI of the selection was ranked, here or by a run sharing the
  list: ``shared_count``), ``interrupted``, ``outage`` (every POI failed because Commons
  could not be queried: nothing was done, try again later) or ``failed`` (every POI
  failed, for other reasons); ``left_count`` says how many POIs were left undone (0 on
  success). One POI's failure in a run that made progress is counted, not a failed run.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.db.models import Model, Q, QuerySet
from django.utils import timezone

from image_ranking import get_poi_model, leases
from image_ranking.commons.clients import build_commons_client
from image_ranking.conf import conf
from image_ranking.exceptions import CommonsUnreachableError, ImageRankingError
from image_ranking.models import RankingRun, RankingState, SelectedImage
from image_ranking.poi import get_poi_adapter
from image_ranking.ranking import FATAL_ERRORS, Ranker, RankResult
from image_ranking.run_options import RunError, RunOptions

__all__ = ["RankingRunner", "RunError", "RunOptions", "RunPlan", "Progress", "summary_keys"]

logger = logging.getLogger(__name__)

Outcome = RankingState.Outcome

SUCCESS, INTERRUPTED, OUTAGE, FAILED = "success", "interrupted", "outage", "failed"

# How many past runs to look through for one to resume.
RESUME_LOOKBACK = 20

# How often a run waiting for POIs another run holds looks again (seconds; never more
# than a tenth of the lease, so its own heartbeat keeps up).
POLL_SECONDS = 5.0

# After this many POIs in a row failed because Commons could not be queried, the run stops
# as an outage (exit 75) instead of spending minutes of retries on every remaining POI; the
# next run resumes it.
OUTAGE_STREAK = 5

NO_PROGRESS = {
    OUTAGE: "No progress: every POI failed because Commons could not be queried "
    "(an outage?). Nothing was changed; run again later.",
    FAILED: "No progress: every POI failed (messages above).",
}


def no_progress_message(status: str, processed: int, total: int) -> str:
    """What an operator reads when a run ends as an outage or with every POI failed."""
    if status == OUTAGE and processed < total:
        return (
            f"Stopped after {processed} of {total} POIs: the last {OUTAGE_STREAK} in a row failed "
            "because Commons could not be queried (an outage?). Run again later: the next run "
            "carries on where this one stopped."
        )
    return NO_PROGRESS[status]


@dataclass
class RunPlan:
    """What ``prepare`` found: how many POIs, and whose work this run carries on."""

    total: int
    threshold: float
    fallback: bool
    since: datetime | None = None  # POIs ranked since then are skipped
    resumed: RankingRun | None = None  # an interrupted or crashed run carried on
    joined: RankingRun | None = None  # a run still alive, sharing the list


@dataclass
class Progress:
    """Handed to the progress callback after each POI."""

    result: RankResult
    done: int
    total: int
    counts: Counter[str]
    batch_size: int
    # Wikimedia requests this run has made so far (API calls and downloads): with the
    # budget, what the time left is made of.
    requests: int = 0

    @property
    def batch_done(self) -> bool:
        return self.done % self.batch_size == 0 or self.done == self.total


def select_pois(options: RunOptions) -> QuerySet:
    """The POIs ``options`` select, by primary key (RunError for an unknown city)."""
    manager = get_poi_model()._default_manager
    adapter = get_poi_adapter()
    city_lookup = adapter.path("city_slug")
    if options.city and city_lookup is None:
        raise RunError(
            "--city needs the POI model's city slug: set 'city_slug' in IMAGE_RANKING_POI_FIELDS."
        )
    if options.city and not manager.filter(**{city_lookup: options.city}).exists():
        known = sorted(s for s in manager.values_list(city_lookup, flat=True).distinct() if s)
        hint = f" Known cities: {', '.join(known)}." if known else " No city has POIs yet."
        raise RunError(f"No POIs in a city with slug {options.city!r}.{hint}")
    lists = adapter.path("lists")
    queryset = manager.filter(**{f"{lists}__isnull": False}) if lists else manager.all()
    if options.city:
        queryset = queryset.filter(**{city_lookup: options.city})
    if options.missing_only:
        # A category fallback is a stand-in: keep looking for a real photo.
        image = adapter.image_field
        queryset = queryset.filter(
            Q(**{image: ""})
            | Q(**{f"{image}__isnull": True})
            | Q(selected_image__chosen_by=SelectedImage.ChosenBy.FALLBACK)
        )
    # values + pk__in keeps DISTINCT away from the ordering columns (PostgreSQL).
    return manager.filter(pk__in=queryset.values("pk").distinct()).order_by("pk")


def done_since(queryset: QuerySet, since: datetime) -> QuerySet:
    """The POIs of ``queryset`` ranked since ``since`` (failed ones are not done)."""
    return queryset.filter(
        ranking_state__ranked_at__gte=since,
        ranking_state__outcome__in=[o for o in Outcome.values if o != Outcome.FAILED],
    )


def summary_keys() -> tuple[str, ...]:
    return (
        "status",
        "processed_count",
        "updated_count",
        "failed_count",
        "no_image_count",
        "unchanged_count",
        "fallback_count",
        "request_count",
        "shared_count",
        "left_count",
        "dry_run",
    )


class RankingRunner:
    """One ranking run: ``prepare()`` (selection, resume), then ``run(progress)``."""

    def __init__(
        self,
        options: RunOptions,
        *,
        client: Any = None,
        scorer: Any = None,
        clock: Callable[[], datetime] = timezone.now,
        sleep: Callable[[float], None] = time.sleep,
        lease_seconds: float | None = None,
        owner: str | None = None,
    ) -> None:
        self.options = options
        self.batch_size = options.batch_size or conf.BATCH_SIZE
        self.client = client
        self.scorer = scorer
        self.clock = clock
        self.sleep = sleep
        self.lease = timedelta(seconds=lease_seconds or conf.LEASE_SECONDS)
        self.poll_seconds = min(POLL_SECONDS, self.lease.total_seconds() / 10)
        self.owner = owner or leases.owner_name()
        self.record: RankingRun | None = None
        self.plan: RunPlan | None = None
        self._ids: list[Any] = []
        self._skip_since: datetime | None = None
        self._held: set[Any] = set()
        self._last_beat: datetime | None = None
        self._left = 0  # POIs this run still has to rank (its limit, or the selection)
        self._settled: set[Any] = set()  # ranked by another run meanwhile, or deleted
        self._waiting_on: set[Any] = set()  # runs last reported as holding POIs
        self._stop = False
        self._commons_failures = 0
        self._commons_streak = 0

    # -- preparing ---------------------------------------------------------------------

    def prepare(self) -> RunPlan:
        """Select the POIs and record the run (RunError for a bad selection)."""
        queryset = select_pois(self.options)
        previous, alive = None, False
        if not self.options.dry_run:  # a dry run records nothing
            now = self.clock()
            self.record, previous, alive = record_run(self.options, now, self.owner, self.lease)
            self._last_beat = now
        since = _origin(previous).started_at if previous is not None else None
        if since is not None:
            queryset = queryset.exclude(pk__in=done_since(queryset, since).values("pk"))
        self._ids = list(queryset.values_list("pk", flat=True))
        total = len(self._ids)
        if self.options.limit is not None:
            total = min(total, self.options.limit)
        # POIs another run ranks after this one started are not redone either.
        self._skip_since = since or (self.record.started_at if self.record else None)
        if self.record is not None:
            self.record.total_count = total
            self.record.save(update_fields=["total_count"])
        threshold, fallback = self.options.threshold, self.options.fallback
        self.plan = RunPlan(
            total=total,
            threshold=conf.SCORE_THRESHOLD if threshold is None else threshold,
            fallback=conf.FALLBACK_ENABLED if fallback is None else fallback,
            since=since,
            resumed=None if alive else previous,
            joined=previous if alive else None,
        )
        return self.plan

    # -- running -----------------------------------------------------------------------

    def run(self, progress: Callable[[Progress], None] | None = None) -> dict[str, Any]:
        """Rank the selected POIs; returns the summary dict. RunError when the scorer cannot
        load or a fatal error stops the run (the run is recorded as failed)."""
        plan = self.plan or self.prepare()
        counts: Counter[str] = Counter()
        if plan.total == 0:
            self._finish(SUCCESS, counts, 0)
            return self._summary(SUCCESS, counts, 0)
        ranker = self._ranker()
        if not self.options.dry_run:
            _sweep_orphans()
        before = _request_count(ranker.client)
        try:
            status = self._rank_all(ranker, counts, progress)
        except FATAL_ERRORS as exc:
            self._finish(FAILED, counts, _request_count(ranker.client) - before, str(exc))
            raise RunError(str(exc)) from exc
        except CommonsUnreachableError as exc:
            # No network or no DNS: every POI would fail the same way; say so at once.
            message = f"Wikimedia cannot be reached ({exc}). Nothing was changed; run again later."
            requests = _request_count(ranker.client) - before
            self._finish(OUTAGE, counts, requests, message)
            return {**self._summary(OUTAGE, counts, requests), "message": message}
        finally:
            self._release(self._held)
        status = self._no_progress_status(status, counts)
        if status == SUCCESS and self._left_count(counts):
            # Cannot happen by design (the run waits for every POI); never call it a success.
            logger.error("Run ended with %d POIs left undone", self._left_count(counts))
            status = INTERRUPTED
        requests = _request_count(ranker.client) - before
        self._finish(status, counts, requests)
        return self._summary(status, counts, requests)

    def request_stop(self) -> None:
        """Stop after the POI being ranked (what Ctrl-C does)."""
        self._stop = True

    @property
    def stop_requested(self) -> bool:
        return self._stop

    def _ranker(self) -> Ranker:
        from image_ranking.scoring import get_scorer

        try:
            scorer = self.scorer or get_scorer()
            # Load now: no point searching 200 POIs without a model.
            scorer.ensure_loaded()
        except (*FATAL_ERRORS, ImageRankingError) as exc:
            self._finish(FAILED, Counter(), 0, str(exc))
            if isinstance(exc, FATAL_ERRORS):
                raise RunError(str(exc)) from exc
            raise RunError(f"The scorer could not be loaded: {exc}") from exc
        return Ranker(
            client=_Beating(self.client or build_commons_client(), self._heartbeat),
            scorer=_Beating(scorer, self._heartbeat),
            threshold=self.options.threshold,
            fallback=self.options.fallback,
            dry_run=self.options.dry_run,
            refresh=self.options.refresh,
        )

    def _rank_all(
        self, ranker: Ranker, counts: Counter[str], progress: Callable[[Progress], None] | None
    ) -> str:
        assert self.plan is not None
        total, batch_size = self.plan.total, self.batch_size
        before = _request_count(ranker.client)
        try:
            for batch in self._batches():
                for result in ranker.rank_many(batch, batch_size=len(batch)):
                    counts[str(result.outcome)] += 1
                    if result.failed and result.commons_failure:
                        self._commons_failures += 1
                        self._commons_streak += 1
                    else:
                        self._commons_streak = 0
                    self._release([result.poi_id])
                    self._heartbeat()
                    done = sum(counts.values())
                    if progress is not None:
                        requests = _request_count(ranker.client) - before
                        progress(Progress(result, done, total, counts, batch_size, requests))
                    if self._stop and done < total:
                        return INTERRUPTED
                    if self._commons_streak >= OUTAGE_STREAK and done < total:
                        return OUTAGE
        except KeyboardInterrupt:
            return INTERRUPTED
        # Stopped while waiting for POIs another run held.
        return INTERRUPTED if self._stop and self._left_count(counts) else SUCCESS

    # -- claiming ----------------------------------------------------------------------

    def _batches(self) -> Iterator[list[Model]]:
        """The POIs left, a batch at a time, each batch claimed just before it is ranked:
        first those free in the selection's order, then those another run held (``_wait``)."""
        assert self.plan is not None
        self._left = self.plan.total
        cursor, passed = 0, []
        while cursor < len(self._ids) and self._left > 0 and not self._stop:
            picked, held, seen = self._pick(self._ids[cursor:])
            cursor += seen
            passed += held
            if rows := self._load(picked):
                self._left -= len(rows)
                self._fit_threads()
                yield rows
        while passed and self._left > 0 and not self._stop:
            passed = self._unsettled(passed)
            self._take_over(passed)
            picked, held, seen = self._pick(passed)
            passed = held + passed[seen:]
            if rows := self._load(picked):
                self._left -= len(rows)
                self._fit_threads()
                yield rows
            elif passed:
                self._wait(passed)

    def _fit_threads(self) -> None:
        """Torch's threads: this run's share of the cores (``IMAGE_RANKING_TORCH_THREADS=0``)."""
        torch = sys.modules.get("torch")
        if conf.TORCH_THREADS or torch is None:  # set by hand, or a scorer without torch
            return
        here = leases.runs_on_this_host(now=self.clock(), lease=self.lease)
        runs = 1 + sum(1 for run in here if self.record is None or run.pk != self.record.pk)
        cores = available_cores()
        threads = threads_per_run(cores, runs)
        if threads != torch.get_num_threads():
            torch.set_num_threads(threads)
            logger.info("Torch threads: %d (%d cores, %d run(s) here)", threads, cores, runs)

    def _pick(self, ids: list[Any]) -> tuple[list[Any], list[Any], int]:
        """Claim up to a batch of ``ids``, in order: (claimed, held by other runs, how many
        of ``ids`` were looked at). POIs other runs hold are passed over: look further."""
        want = min(self.batch_size, self._left)
        picked: list[Any] = []
        held: list[Any] = []
        seen = 0
        while len(picked) < want and seen < len(ids):
            window = ids[seen : seen + want - len(picked)]
            seen += len(window)
            claimed = self._claim(window)
            mine = set(claimed) | self._settled
            held += [pk for pk in window if pk not in mine]
            picked += claimed
        return picked, held, seen

    def _claim(self, window: list[Any]) -> list[Any]:
        if self.record is None:  # a dry run claims nothing (it changes nothing)
            return window
        now = self.clock()
        claimed = leases.claim(window, self.record, now=now, until=now + self.lease)
        self._held.update(claimed)
        if claimed and self._skip_since is not None:
            manager = get_poi_model()._default_manager
            done = set(
                done_since(manager.filter(pk__in=claimed), self._skip_since).values_list(
                    "pk", flat=True
                )
            )
            self._release(done)
            self._settled |= done
            claimed = [pk for pk in claimed if pk not in done]
        return claimed

    def _unsettled(self, ids: list[Any]) -> list[Any]:
        """``ids`` less the POIs another run ranked (any outcome) since this one began."""
        assert self.record is not None
        manager = get_poi_model()._default_manager
        ranked = set(
            manager.filter(
                pk__in=ids, ranking_state__ranked_at__gte=self.record.started_at
            ).values_list("pk", flat=True)
        )
        self._settled |= ranked
        return [pk for pk in ids if pk not in ranked]

    def _take_over(self, ids: list[Any]) -> None:
        """Move to this run the leases on ``ids`` held by runs that are dead."""
        assert self.record is not None
        now = self.clock()
        by_poi = leases.holders(ids)
        runs = {run.pk: run for run in by_poi.values() if run.pk != self.record.pk}
        for run in runs.values():
            if leases.is_alive(run, now=now, lease=self.lease):
                continue
            theirs = [pk for pk, holder in by_poi.items() if holder.pk == run.pk]
            taken = leases.take_over(theirs, run, self.record, until=now + self.lease)
            if not taken:  # another run took them first
                continue
            self._held.update(taken)
            why = (
                f"its process {run.owner} is gone"
                if leases.process_gone(run.owner)
                else f"no heartbeat since {run.heartbeat_at or run.started_at:%H:%M:%S} UTC"
            )
            logger.warning("Took over %d POI(s) from run %s: %s", len(taken), run.pk, why)
            RankingRun.objects.filter(pk=run.pk, status=RankingRun.Status.RUNNING).update(
                status=RankingRun.Status.INTERRUPTED,
                message=f"Taken for dead by run {self.record.pk}: {why}.",
            )

    def _wait(self, held: list[Any]) -> None:
        """Wait a little for POIs other runs hold (released when ranked, or expired)."""
        now = self.clock()
        holders = leases.holders(held)
        runs = {run.pk: run for run in holders.values()}
        if set(runs) != self._waiting_on:
            self._waiting_on = set(runs)
            names = ", ".join(f"{pk} ({run.owner or '?'})" for pk, run in sorted(runs.items()))
            logger.info("Waiting for %d POI(s) held by run(s) %s", len(held), names)
        expiry = leases.next_expiry(held, now=now)
        pause = self.poll_seconds
        if expiry is not None:
            pause = min(pause, max((expiry - now).total_seconds(), 0.0))
        self._heartbeat()
        self.sleep(pause)

    def _left_count(self, counts: Counter[str]) -> int:
        """POIs of the selection (or of the limit) left undone: not ranked here, nor by a
        run sharing the list, nor deleted meanwhile."""
        total = self.plan.total if self.plan else 0
        return max(total - sum(counts.values()) - len(self._settled), 0)

    def _load(self, ids: list[Any]) -> list[Model]:
        manager = get_poi_model()._default_manager
        rows = manager.filter(pk__in=ids).select_related(*get_poi_adapter().related_paths())
        by_pk = {poi.pk: poi for poi in rows}
        gone = [pk for pk in ids if pk not in by_pk]  # deleted (merged) meanwhile
        self._release(gone)
        self._settled.update(gone)
        return [by_pk[pk] for pk in ids if pk in by_pk]

    def _release(self, ids: Any) -> None:
        ids = [pk for pk in ids if pk in self._held]
        if self.record is not None and ids:
            leases.release(ids, self.record, now=self.clock())
        self._held.difference_update(ids)

    def _heartbeat(self) -> None:
        now = self.clock()
        if self.record is None or (self._last_beat and now - self._last_beat < self.lease / 10):
            return
        leases.renew(self.record, self._held, now=now, until=now + self.lease)
        self._last_beat = now

    # -- finishing ---------------------------------------------------------------------

    def _no_progress_status(self, status: str, counts: Counter[str]) -> str:
        """OUTAGE (or FAILED) when the run finished but every POI it tried failed."""
        processed = sum(counts.values())
        if status != SUCCESS or not processed or counts[Outcome.FAILED] < processed:
            return status
        return OUTAGE if self._commons_failures == processed else FAILED

    def _finish(self, status: str, counts: Counter[str], requests: int, message: str = "") -> None:
        if self.record is None:
            return
        processed, total = sum(counts.values()), self.plan.total if self.plan else 0
        if status in (OUTAGE, FAILED) and not message:
            message = no_progress_message(status, processed, total)
        run = self.record
        if status == OUTAGE and processed < total:
            run.status = RankingRun.Status.INTERRUPTED  # stopped early: the next run resumes it
        else:
            run.status = RankingRun.Status.FAILED if status == OUTAGE else status
        run.finished_at = self.clock()
        left = self._left_count(counts)
        if left and not message:
            message = f"{left} POI(s) of the selection left undone: run again to carry on."
        run.counts = {
            **dict(counts),
            "requests": requests,
            "shared": len(self._settled),
            "left": left,
        }
        run.message = message
        run.save(update_fields=["status", "finished_at", "counts", "message"])

    def _summary(self, status: str, counts: Counter[str], requests: int) -> dict[str, Any]:
        return {
            "status": status,
            "processed_count": sum(counts.values()),
            "updated_count": counts[Outcome.UPDATED],
            "failed_count": counts[Outcome.FAILED],
            # A fallback image is still "no suitable photo": counted here too.
            "no_image_count": counts[Outcome.NO_IMAGE] + counts[Outcome.FALLBACK],
            "unchanged_count": counts[Outcome.UNCHANGED],
            "fallback_count": counts[Outcome.FALLBACK],
            "request_count": requests,
            "shared_count": len(self._settled),
            "left_count": self._left_count(counts),
            "dry_run": self.options.dry_run,
        }


def available_cores() -> int:
    """The CPUs this process may use: its affinity (taskset, cpusets), within the CPU
    quota of its cgroup (a container's ``--cpus``)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            cores = min(cores, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        pass
    return max(cores, 1)


def threads_per_run(cores: int, runs: int) -> int:
    """Each run's share of the cores (at least one thread)."""
    return max(1, cores // max(runs, 1))


def record_run(
    options: RunOptions, now: datetime, owner: str, lease: timedelta
) -> tuple[RankingRun, RankingRun | None, bool]:
    """Record a new run; returns it, the unfinished run with the same selection it carries
    on (None with ``restart``), and whether that one is still alive (joined: it goes on
    running) or not (resumed: interrupted, its process gone, or silent for longer than
    ``lease``). ``resumed_from`` only ever names a run that is not alive.
    """
    previous = None if options.restart else _unfinished_run(options.selection)
    alive = previous is not None and leases.is_alive(previous, now=now, lease=lease)
    run = RankingRun.objects.create(
        started_at=now,
        heartbeat_at=now,
        owner=owner,
        selection=options.selection,
        resumed_from=None if alive else previous,
        joined=previous if alive else None,
    )
    if previous is None:
        return run, None, False
    if not alive:
        RankingRun.objects.filter(
            pk=previous.pk, status__in=[RankingRun.Status.INTERRUPTED, RankingRun.Status.RUNNING]
        ).update(status=RankingRun.Status.RESUMED)
    return run, previous, alive


def _unfinished_run(selection: dict[str, Any]) -> RankingRun | None:
    unfinished = RankingRun.objects.filter(
        status__in=[RankingRun.Status.INTERRUPTED, RankingRun.Status.RUNNING]
    )
    for candidate in unfinished[:RESUME_LOOKBACK]:
        if candidate.selection == selection:
            return candidate
    return None


@contextmanager
def stop_on_sigint(runner: RankingRunner, notify: Callable[[], None]) -> Iterator[None]:
    """While active, the first Ctrl-C asks ``runner`` to stop after the current POI (and
    calls ``notify``); a second one stops at once (KeyboardInterrupt).

    Signals can only be handled in the main thread (not in a Prefect worker thread);
    there a KeyboardInterrupt still ends the run cleanly between POIs' transactions.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if runner.stop_requested:
            raise KeyboardInterrupt
        runner.request_stop()
        notify()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _origin(run: RankingRun) -> RankingRun:
    """The first run of a chain of resumed or joined runs (its start is when the work began)."""
    seen = {run.pk}
    while (parent_id := run.resumed_from_id or run.joined_id) and parent_id not in seen:
        seen.add(parent_id)
        parent = RankingRun.objects.filter(pk=parent_id).first()
        if parent is None:
            break
        run = parent
    return run


def _request_count(client: Any) -> int:
    return int(getattr(client, "request_count", 0) or 0)


def _sweep_orphans() -> None:
    """Files left by a process killed between writing an image and committing it (old
    enough that no live store can still commit them); never a reason to fail a run."""
    from image_ranking.media.orphans import sweep_orphans

    try:
        report = sweep_orphans()
    except Exception:
        logger.exception("The orphan-file sweep failed; the run goes on")
        return
    if report.deleted:
        logger.info("Removed %d orphan image file(s) left by an earlier crash", len(report.deleted))


class _Beating:
    """``target`` (the run's Commons client or scorer) whose method calls first give the
    run's heartbeat, so that a POI with many thumbnails to fetch and score keeps its
    leases. Beats come from the ranking itself, not from a thread: a run stuck for good
    stops beating and its POIs are taken over."""

    def __init__(self, target: Any, beat: Callable[[], None]) -> None:
        self._target = target
        self._beat = beat

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if not callable(value) or name.startswith("_"):
            return value

        @functools.wraps(value)
        def call(*args: Any, **kwargs: Any) -> Any:
            self._beat()
            return value(*args, **kwargs)

        return call
