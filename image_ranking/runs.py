"""Ranking runs: which POIs a run ranks, in which batches, shared with which other runs.

``RankingRunner(RunOptions(...))`` is what ``manage.py rank_poi_images`` (and through it
the Prefect flow) runs; the command only parses arguments and prints.

- **Selection**: the POIs in at least one list (all, or only those without an image or
  with a category fallback), optionally of one city, at most ``limit`` of them.
- **Resume**: every run is recorded (``RankingRun``). A run with the same selection as
  an interrupted or crashed one carries on where it stopped: POIs ranked since that
  run began are skipped (failed ones are tried again). ``restart`` starts over.
- **Sharing**: each batch is claimed (``leases.py``) before it is ranked, so
  runs in several processes or on several machines split the list. A run with the same
  selection that is still alive (heartbeat within ``IMAGE_RANKING_LEASE_SECONDS``) is
  joined, never marked as resumed: POIs it ranked are skipped, its claims respected.
- **Interruption**: ``request_stop()`` (Ctrl-C, through ``stop_on_sigint``) ends the run
  after the current POI; a ``KeyboardInterrupt`` ends it at once, between commits.
- **Summary**: ``run()`` returns a JSON-compatible dict (``summary_keys``). Its status
  is ``success``, ``interrupted``, ``outage`` (every POI failed because Commons could
  not be queried: nothing was done, try again later) or ``failed`` (every POI failed,
  for other reasons). One POI's failure in a run that made progress is counted, not
  a failed run.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
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

logger = logging.getLogger(__name__)

Outcome = RankingState.Outcome

SUCCESS, INTERRUPTED, OUTAGE, FAILED = "success", "interrupted", "outage", "failed"

# How many past runs to look through for one to resume.
RESUME_LOOKBACK = 20

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


class RunError(ImageRankingError):
    """Bad options, an unknown city, a missing model: the run cannot (go on) rank(ing)."""


@dataclass(frozen=True)
class RunOptions:
    """What a run ranks and how; ``from_options`` validates a command's options."""

    missing_only: bool = True
    city: str | None = None
    limit: int | None = None
    batch_size: int = field(default_factory=lambda: conf.BATCH_SIZE)
    threshold: float | None = None
    dry_run: bool = False
    fallback: bool | None = None
    refresh: bool = False
    restart: bool = False

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> RunOptions:
        """Options as ``call_command`` passes them (``all``, ``limit``...); RunError if bad."""
        if options.get("missing_only") and options.get("all"):
            raise RunError("Use either --missing-only or --all, not both.")
        limit = _number(options.get("limit"), int, "--limit")
        if limit is not None and limit < 1:
            raise RunError(f"--limit must be a positive number of POIs, got {limit}.")
        batch_size = _number(options.get("batch_size"), int, "--batch-size")
        batch_size = conf.BATCH_SIZE if batch_size is None else batch_size
        if batch_size < 1:
            raise RunError(f"--batch-size must be at least 1, got {batch_size}.")
        threshold = _number(options.get("threshold"), float, "--threshold")
        if threshold is not None and not 0.0 <= threshold <= 10.0:
            raise RunError(
                f"--threshold must be between 0 and 10 (the score scale), got {threshold}."
            )
        city = options.get("city")
        if city is not None:
            city = str(city).strip()
            if not city:
                raise RunError("--city needs a city slug, e.g. --city paris.")
        fallback = options.get("fallback")
        return cls(
            missing_only=not options.get("all"),
            city=city,
            limit=limit,
            batch_size=batch_size,
            threshold=threshold,
            dry_run=bool(options.get("dry_run")),
            fallback=None if fallback is None else bool(fallback),
            refresh=bool(options.get("refresh")),
            restart=bool(options.get("restart")),
        )

    @property
    def selection(self) -> dict[str, Any]:
        """The options that decide which POIs a run covers (a resumed run has the same)."""
        return {
            "mode": "missing-only" if self.missing_only else "all",
            "city": self.city,
            "threshold": self.threshold,
            "fallback": self.fallback,
        }


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
        lease_seconds: float | None = None,
        owner: str | None = None,
    ) -> None:
        self.options = options
        self.client = client
        self.scorer = scorer
        self.clock = clock
        self.lease = timedelta(seconds=lease_seconds or conf.LEASE_SECONDS)
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}"
        self.record: RankingRun | None = None
        self.plan: RunPlan | None = None
        self._ids: list[Any] = []
        self._skip_since: datetime | None = None
        self._held: set[Any] = set()
        self._last_beat: datetime | None = None
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
            client=self.client or build_commons_client(),
            scorer=scorer,
            threshold=self.options.threshold,
            fallback=self.options.fallback,
            dry_run=self.options.dry_run,
            refresh=self.options.refresh,
        )

    def _rank_all(
        self, ranker: Ranker, counts: Counter[str], progress: Callable[[Progress], None] | None
    ) -> str:
        assert self.plan is not None
        total, batch_size = self.plan.total, self.options.batch_size
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
                        progress(Progress(result, done, total, counts, batch_size))
                    if self._stop and done < total:
                        return INTERRUPTED
                    if self._commons_streak >= OUTAGE_STREAK and done < total:
                        return OUTAGE
        except KeyboardInterrupt:
            return INTERRUPTED
        return SUCCESS

    # -- claiming ----------------------------------------------------------------------

    def _batches(self) -> Iterator[list[Model]]:
        """The POIs left, a batch at a time, each batch claimed just before it is ranked."""
        assert self.plan is not None
        cursor, left = 0, self.plan.total
        while cursor < len(self._ids) and left > 0 and not self._stop:
            picked: list[Any] = []
            want = min(self.options.batch_size, left)
            # POIs other runs hold are passed over: look further along for free ones.
            while len(picked) < want and cursor < len(self._ids):
                window = self._ids[cursor : cursor + want - len(picked)]
                cursor += len(window)
                picked += self._claim(window)
            rows = self._load(picked)
            if rows:
                left -= len(rows)
                yield rows

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
            claimed = [pk for pk in claimed if pk not in done]
        return claimed

    def _load(self, ids: list[Any]) -> list[Model]:
        manager = get_poi_model()._default_manager
        rows = manager.filter(pk__in=ids).select_related(*get_poi_adapter().related_paths())
        by_pk = {poi.pk: poi for poi in rows}
        self._release([pk for pk in ids if pk not in by_pk])  # deleted (merged) meanwhile
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
        run.counts = {**dict(counts), "requests": requests}
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
            "dry_run": self.options.dry_run,
        }


def record_run(
    options: RunOptions, now: datetime, owner: str, lease: timedelta
) -> tuple[RankingRun, RankingRun | None, bool]:
    """Record a new run; returns it, the unfinished run with the same selection it carries
    on (None with ``restart``), and whether that one is still alive (joined: it goes on
    running) or not (resumed: interrupted, or crashed and silent for longer than ``lease``).
    """
    previous = None if options.restart else _unfinished_run(options.selection)
    run = RankingRun.objects.create(
        started_at=now,
        heartbeat_at=now,
        owner=owner,
        selection=options.selection,
        resumed_from=previous,
    )
    if previous is None:
        return run, None, False
    alive = leases.is_alive(previous, now=now, lease=lease)
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


def _number(value: Any, kind: type, option: str) -> Any:
    if value is None:
        return None
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise RunError(f"{option} must be a number, got {value!r}.")


def _origin(run: RankingRun) -> RankingRun:
    """The first run of a chain of resumed runs (its start is when the work began)."""
    seen = {run.pk}
    while run.resumed_from_id and run.resumed_from_id not in seen:
        seen.add(run.resumed_from_id)
        parent = RankingRun.objects.filter(pk=run.resumed_from_id).first()
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
