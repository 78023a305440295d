"""``manage.py rank_poi_images``: give the POIs in curated lists their best Commons photo.

Returns (to ``call_command``) a JSON-compatible summary::

    {"status": "success", "processed_count": N, "updated_count": M,
     "failed_count": F, "no_image_count": K, ...}

Resume: every run is recorded (``RankingRun``). A run with the same selection (mode,
city, threshold, fallback) as an interrupted or crashed one carries on where it stopped:
POIs ranked since that run started are skipped (failed ones are tried again).
``--restart`` starts from the beginning instead.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from collections import Counter
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q, QuerySet
from django.utils import timezone

from image_ranking import get_poi_model
from image_ranking.conf import conf
from image_ranking.exceptions import ImageRankingError
from image_ranking.models import RankingRun, RankingState, SelectedImage
from image_ranking.poi import get_poi_adapter
from image_ranking.services.ranking import FATAL_ERRORS, Ranker, RankResult

logger = logging.getLogger("image_ranking.commands.rank_poi_images")

Outcome = RankingState.Outcome

# How many past runs to look through for one to resume.
RESUME_LOOKBACK = 20


class Command(BaseCommand):
    help = (
        "Find, score and store the best Wikimedia Commons photo for each point of interest "
        "in at least one list. Safe to interrupt (Ctrl-C) and re-run: it carries on where "
        "it stopped."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument(
            "--missing-only",
            action="store_true",
            help="Only POIs without an image, or with a category fallback image (the default).",
        )
        mode.add_argument(
            "--all",
            action="store_true",
            help="Re-rank every selected POI; an unchanged best image is not downloaded again, "
            "and an image a curator chose is kept.",
        )
        parser.add_argument("--city", metavar="SLUG", help="Only POIs of this city.")
        parser.add_argument(
            "--limit", type=int, metavar="N", help="Rank at most N POIs in this run."
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            metavar="N",
            help=f"POIs per batch: one Wikidata look-up and one progress line per batch "
            f"(default IMAGE_RANKING_BATCH_SIZE, {conf.BATCH_SIZE}).",
        )
        parser.add_argument(
            "--threshold",
            type=float,
            metavar="X",
            help=f"Lowest aesthetic score (0-10) an image needs "
            f"(default IMAGE_RANKING_SCORE_THRESHOLD, {conf.SCORE_THRESHOLD}).",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Fetch and score candidates and report what would change; change nothing.",
        )
        parser.add_argument(
            "--fallback",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="Use the category fallback image (from IMAGE_RANKING_FALLBACK_DIR in media "
            "storage) when no suitable photo is found (default IMAGE_RANKING_FALLBACK_ENABLED).",
        )
        parser.add_argument(
            "--refresh",
            action="store_true",
            help="Search Commons again even where cached candidates are still fresh "
            "(IMAGE_RANKING_CANDIDATE_CACHE_DAYS).",
        )
        parser.add_argument(
            "--restart",
            action="store_true",
            help="Do not resume an interrupted run with the same options; start from the top.",
        )

    # -- entry points ----------------------------------------------------------------------

    def execute(self, *args: Any, **options: Any) -> dict[str, Any] | None:
        """Return the summary dict to ``call_command`` without printing it.

        ``BaseCommand.execute`` writes whatever ``handle`` returns to stdout, so ``handle``
        returns nothing and leaves the summary in ``self.result``.
        """
        self.result: dict[str, Any] | None = None
        super().execute(*args, **options)
        return self.result

    def run_from_argv(self, argv: list[str]) -> None:
        super().run_from_argv(argv)
        if self.result and self.result.get("status") == "interrupted":
            sys.exit(130)  # the shell's code for "stopped by Ctrl-C"

    def handle(self, *args: Any, **options: Any) -> None:
        params = self._validate(options)
        self.verbosity = int(options.get("verbosity", 1))
        self.interactive_progress = self.stdout.isatty() and self.verbosity >= 1

        queryset = self._select(params)
        run, since = self._start_run(params)
        if since is not None:
            queryset = _exclude_done_since(queryset, since)
        if params["limit"] is not None:
            queryset = queryset[: params["limit"]]
        total = queryset.count()

        if params["dry_run"]:
            self.stdout.write("Dry run: candidates are fetched and scored, nothing is changed.")
        if total == 0:
            self._finish_run(run, "success", Counter(), 0, "")
            self.result = self._summary("success", Counter(), params, requests=0)
            self.stdout.write(self.style.SUCCESS(_nothing_to_do(params, since)))
            return

        client, scorer = self._collaborators()
        ranker = Ranker(
            client=client,
            scorer=scorer,
            threshold=params["threshold"],
            fallback=params["fallback"],
            dry_run=params["dry_run"],
            refresh=params["refresh"],
        )
        if run is not None:
            run.total_count = total
            run.save(update_fields=["total_count"])
        self.stdout.write(
            f"Ranking {total} POI{'s' if total != 1 else ''} "
            f"({'missing images only' if params['missing_only'] else 'all'}"
            f"{', city ' + params['city'] if params['city'] else ''}"
            f", threshold {ranker.threshold:.1f}, fallback {'on' if ranker.fallback else 'off'})."
        )

        counts: Counter[str] = Counter()
        status = "success"
        started = time.monotonic()
        requests_before = _request_count(client)
        self._stop_requested = False
        previous_handler = self._install_sigint_handler()
        try:
            results = ranker.rank_many(
                _iter_pois(queryset, params["batch_size"]), batch_size=params["batch_size"]
            )
            for result in results:
                counts[str(result.outcome)] += 1
                self._report_poi(result)
                done = sum(counts.values())
                self._progress(done, total, counts, params["batch_size"], started)
                if self._stop_requested and done < total:
                    status = "interrupted"
                    break
        except KeyboardInterrupt:
            status = "interrupted"
        except FATAL_ERRORS as exc:
            self._end_progress()
            self._finish_run(
                run, "failed", counts, _request_count(client) - requests_before, str(exc)
            )
            raise CommandError(str(exc))
        finally:
            self._restore_sigint_handler(previous_handler)
        self._end_progress()

        requests = _request_count(client) - requests_before
        self._finish_run(run, status, counts, requests, "")
        self.result = self._summary(status, counts, params, requests=requests)
        self._print_summary(self.result, total, time.monotonic() - started)

    # -- arguments and selection -------------------------------------------------------

    def _validate(self, options: dict[str, Any]) -> dict[str, Any]:
        missing_only = bool(options.get("missing_only"))
        all_pois = bool(options.get("all"))
        if missing_only and all_pois:
            raise CommandError("Use either --missing-only or --all, not both.")

        limit = _as_number(options.get("limit"), int, "--limit")
        if limit is not None and limit < 1:
            raise CommandError(f"--limit must be a positive number of POIs, got {limit}.")
        batch_size = _as_number(options.get("batch_size"), int, "--batch-size")
        if batch_size is None:
            batch_size = conf.BATCH_SIZE
        if batch_size < 1:
            raise CommandError(f"--batch-size must be at least 1, got {batch_size}.")
        threshold = _as_number(options.get("threshold"), float, "--threshold")
        if threshold is not None and not 0.0 <= threshold <= 10.0:
            raise CommandError(
                f"--threshold must be between 0 and 10 (the score scale), got {threshold}."
            )
        city = options.get("city")
        if city is not None:
            city = str(city).strip()
            if not city:
                raise CommandError("--city needs a city slug, e.g. --city paris.")
        fallback = options.get("fallback")
        return {
            "missing_only": not all_pois,
            "city": city,
            "limit": limit,
            "batch_size": batch_size,
            "threshold": threshold,
            "dry_run": bool(options.get("dry_run")),
            "fallback": None if fallback is None else bool(fallback),
            "refresh": bool(options.get("refresh")),
            "restart": bool(options.get("restart")),
        }

    def _select(self, params: dict[str, Any]) -> QuerySet:
        poi_model = get_poi_model()
        manager = poi_model._default_manager
        adapter = get_poi_adapter()
        city_lookup = adapter.path("city_slug")
        if params["city"] and city_lookup is None:
            raise CommandError(
                "--city needs the POI model's city slug: set 'city_slug' in "
                "IMAGE_RANKING_POI_FIELDS."
            )
        if params["city"] and not manager.filter(**{city_lookup: params["city"]}).exists():
            known = sorted(s for s in manager.values_list(city_lookup, flat=True).distinct() if s)
            hint = f" Known cities: {', '.join(known)}." if known else " No city has POIs yet."
            raise CommandError(f"No POIs in a city with slug {params['city']!r}.{hint}")
        lists = adapter.path("lists")
        queryset = manager.filter(**{f"{lists}__isnull": False}) if lists else manager.all()
        if params["city"]:
            queryset = queryset.filter(**{city_lookup: params["city"]})
        if params["missing_only"]:
            # A category fallback is a stand-in: keep looking for a real photo.
            queryset = queryset.filter(
                Q(**{adapter.image_field: ""})
                | Q(**{f"{adapter.image_field}__isnull": True})
                | Q(selected_image__chosen_by=SelectedImage.ChosenBy.FALLBACK)
            )
        # values_list + pk__in keeps DISTINCT away from the ordering columns (PostgreSQL).
        ids = queryset.values("pk").distinct()
        return manager.filter(pk__in=ids).select_related(*adapter.related_paths()).order_by("pk")

    # -- runs and resume ---------------------------------------------------------------

    @staticmethod
    def _selection(params: dict[str, Any]) -> dict[str, Any]:
        return {
            "mode": "missing-only" if params["missing_only"] else "all",
            "city": params["city"],
            "threshold": params["threshold"],
            "fallback": params["fallback"],
        }

    def _start_run(self, params: dict[str, Any]) -> tuple[RankingRun | None, datetime | None]:
        """Record this run; find the interrupted run it carries on (and since when)."""
        if params["dry_run"]:
            return None, None
        selection = self._selection(params)
        previous = None
        if not params["restart"]:
            for candidate in RankingRun.objects.filter(
                status__in=[RankingRun.Status.INTERRUPTED, RankingRun.Status.RUNNING]
            )[:RESUME_LOOKBACK]:
                if candidate.selection == selection:
                    previous = candidate
                    break
        run = RankingRun.objects.create(
            started_at=timezone.now(), selection=selection, resumed_from=previous
        )
        if previous is None:
            return run, None
        since = _origin(previous).started_at
        RankingRun.objects.filter(pk=previous.pk).update(status=RankingRun.Status.RESUMED)
        self.stdout.write(
            f"Resuming the run interrupted on {previous.started_at:%Y-%m-%d %H:%M} UTC: POIs "
            f"ranked since {since:%Y-%m-%d %H:%M} UTC are skipped (use --restart to redo them)."
        )
        return run, since

    def _finish_run(
        self, run: RankingRun | None, status: str, counts: Counter, requests: int, message: str
    ) -> None:
        if run is None:
            return
        run.status = status
        run.finished_at = timezone.now()
        run.counts = {**dict(counts), "requests": requests}
        run.message = message
        run.save(update_fields=["status", "finished_at", "counts", "message"])

    # -- collaborators -----------------------------------------------------------------

    def _collaborators(self) -> tuple[Any, Any]:
        from image_ranking.services import wikimedia
        from image_ranking.services.scoring import get_scorer

        try:
            scorer = get_scorer()
            # Load now: no point searching 200 POIs without a model.
            scorer.ensure_loaded()
        except FATAL_ERRORS as exc:
            raise CommandError(str(exc))
        except ImageRankingError as exc:
            raise CommandError(f"The scorer could not be loaded: {exc}")
        # Thumbnails at a standard width >= 800: the winner is stored from the scored bytes.
        return wikimedia.CommonsClient(thumb_width=conf.RANKING_THUMBNAIL_WIDTH), scorer

    # -- output ------------------------------------------------------------------------

    def _report_poi(self, result: RankResult) -> None:
        if result.outcome == Outcome.FAILED:
            self._clear_progress_line()
            self.stderr.write(f"{result.poi_name} (id {result.poi_id}): {result.message}")
        elif self.verbosity >= 2:
            self._clear_progress_line()
            self.stdout.write(
                f"{result.poi_name} (id {result.poi_id}): {result.outcome}: {result.message}"
            )

    def _progress(
        self, done: int, total: int, counts: Counter, batch_size: int, started: float
    ) -> None:
        if self.interactive_progress:
            width = 30
            filled = int(width * done / total)
            elapsed = time.monotonic() - started
            eta = _duration(elapsed / done * (total - done)) if done else "?"
            self.stdout.write(
                f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} POIs  "
                f"{_counts_text(counts)}  ETA {eta} ",
                ending="",
            )
            self.stdout.flush()
            self._progress_open = True
        elif done % batch_size == 0 or done == total:
            line = f"Processed {done}/{total} POIs ({_counts_text(counts)})"
            self.stdout.write(line)
            logger.info(line)

    def _clear_progress_line(self) -> None:
        if getattr(self, "_progress_open", False):
            self.stdout.write("\r\033[K", ending="")

    def _end_progress(self) -> None:
        if getattr(self, "_progress_open", False):
            self.stdout.write("")
            self._progress_open = False

    def _summary(
        self, status: str, counts: Counter, params: dict[str, Any], *, requests: int
    ) -> dict[str, Any]:
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
            "dry_run": params["dry_run"],
        }

    def _print_summary(self, result: dict[str, Any], total: int, elapsed: float) -> None:
        processed = result["processed_count"]
        per_poi = f" ({result['request_count'] / processed:.1f} per POI)" if processed else ""
        verb = "would be " if result["dry_run"] else ""
        text = (
            f"{'Dry run: ' if result['dry_run'] else ''}Processed {processed}/{total} POIs in "
            f"{_duration(elapsed)}: {result['updated_count']} {verb}updated, "
            f"{result['unchanged_count']} unchanged, {result['no_image_count']} without a "
            f"suitable image ({result['fallback_count']} with a fallback), "
            f"{result['failed_count']} failed. {result['request_count']} Wikimedia requests"
            f"{per_poi}."
        )
        if result["status"] == "interrupted":
            self.stdout.write(self.style.WARNING(f"Interrupted. {text}"))
            self.stdout.write(
                "Run the same command again to carry on where it stopped (--restart to start over)."
            )
            logger.warning("Interrupted. %s", text)
            return
        self.stdout.write(self.style.SUCCESS(text))
        logger.info(text)
        if result["failed_count"]:
            self.stderr.write(
                self.style.WARNING(
                    f"{result['failed_count']} POI(s) failed (messages above). Re-run the "
                    "command to try them again; the others are not redone."
                )
            )

    # -- Ctrl-C ------------------------------------------------------------------------

    def _install_sigint_handler(self) -> Any:
        # Signals can only be handled in the main thread (not in a Prefect worker thread);
        # there a KeyboardInterrupt still ends the run cleanly between POIs' transactions.
        if threading.current_thread() is not threading.main_thread():
            return None

        def handler(signum: int, frame: Any) -> None:
            if self._stop_requested:
                raise KeyboardInterrupt
            self._stop_requested = True
            self._clear_progress_line()
            self.stderr.write(
                "Stopping after the current POI... (press Ctrl-C again to stop at once)"
            )

        previous = signal.getsignal(signal.SIGINT)
        signal.signal(signal.SIGINT, handler)
        return previous

    @staticmethod
    def _restore_sigint_handler(previous: Any) -> None:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def _as_number(value: Any, kind: type, option: str) -> Any:
    if value is None:
        return None
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise CommandError(f"{option} must be a number, got {value!r}.")


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


def _exclude_done_since(queryset: QuerySet, since: datetime) -> QuerySet:
    # Failed POIs are tried again; everything else ranked since `since` is done.
    return queryset.exclude(
        ranking_state__ranked_at__gte=since,
        ranking_state__outcome__in=[o for o in Outcome.values if o != Outcome.FAILED],
    )


def _iter_pois(queryset: QuerySet, chunk: int) -> Any:
    """The selected POIs, ids fixed up front, rows loaded a chunk at a time.

    Fixing the ids first keeps the selection stable while the run updates those very
    rows (and avoids reading a table while writing it on SQLite).
    """
    ids = list(queryset.values_list("pk", flat=True))
    for start in range(0, len(ids), chunk):
        part = ids[start : start + chunk]
        rows = queryset.model._default_manager.filter(pk__in=part).select_related(
            *get_poi_adapter().related_paths()
        )
        by_pk = {poi.pk: poi for poi in rows}
        for pk in part:
            if pk in by_pk:
                yield by_pk[pk]


def _request_count(client: Any) -> int:
    return int(getattr(client, "request_count", 0) or 0)


def _counts_text(counts: Counter) -> str:
    return (
        f"updated {counts[Outcome.UPDATED]}, unchanged {counts[Outcome.UNCHANGED]}, "
        f"no image {counts[Outcome.NO_IMAGE] + counts[Outcome.FALLBACK]}, "
        f"failed {counts[Outcome.FAILED]}"
    )


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _nothing_to_do(params: dict[str, Any], since: datetime | None) -> str:
    where = f" in city {params['city']!r}" if params["city"] else ""
    if since is not None:
        return f"Nothing left to do{where}: the interrupted run had finished every POI."
    if params["missing_only"]:
        return f"Nothing to do: every POI in a list{where} already has an image (use --all)."
    return f"Nothing to do: no POI{where} is in a list."
