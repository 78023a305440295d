"""``manage.py rank_poi_images``: give the POIs in curated lists their best Commons photo.

The run itself (selection, batches, resume, sharing the list with other runs, Ctrl-C)
is ``image_ranking.runs``; this command parses options, shows progress (a bar
on a terminal, a line per batch otherwise) and prints. It returns (to ``call_command``)
the run's summary dict::

    {"status": "success", "processed_count": N, "updated_count": M,
     "failed_count": F, "no_image_count": K, ...}

Exit codes: 0 success; 1 bad options or a failed run (every POI failed); 75 (EX_TEMPFAIL)
an outage: every POI failed because Commons could not be queried, nothing was done, run
again later; 130 interrupted by Ctrl-C (run again to carry on).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from image_ranking import runs
from image_ranking.conf import conf
from image_ranking.management.progress import RunProgress, duration

logger = logging.getLogger("image_ranking.commands.rank_poi_images")

EXIT_CODES = {runs.SUCCESS: 0, runs.FAILED: 1, runs.OUTAGE: 75, runs.INTERRUPTED: 130}


class Summary(dict):
    """The run's summary, returned to ``call_command``. ``BaseCommand.execute`` prints
    whatever ``handle`` returns when it is truthy; this one is falsy, as the command
    prints its own text."""

    def __bool__(self) -> bool:
        return False


class Command(BaseCommand):
    help = (
        "Find, score and store the best Wikimedia Commons photo for each point of interest "
        "in at least one list. Safe to interrupt (Ctrl-C) and re-run: it carries on where "
        "it stopped. Several runs at once share the list."
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
        parser.add_argument("--limit", type=int, metavar="N", help="Rank at most N POIs.")
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

    def run_from_argv(self, argv: list[str]) -> None:
        self.summary: dict[str, Any] = {}
        super().run_from_argv(argv)
        code = EXIT_CODES.get(self.summary.get("status", runs.SUCCESS), 1)
        if code:
            sys.exit(code)

    def handle(self, *args: Any, **options: Any) -> Summary:
        self.verbosity = int(options.get("verbosity", 1))
        try:
            runner = runs.RankingRunner(runs.RunOptions.from_options(options))
            plan = runner.prepare()
        except runs.RunError as exc:
            raise CommandError(str(exc))
        self._announce(runner.options, plan)
        started = time.monotonic()
        progress = RunProgress(self.stdout, self.stderr, verbosity=self.verbosity, total=plan.total)
        try:
            with runs.stop_on_sigint(runner, progress.stopping), progress:
                result = runner.run(progress)
        except runs.RunError as exc:
            raise CommandError(str(exc))
        self.summary = Summary(result)
        if plan.total == 0:
            self.stdout.write(self.style.SUCCESS(_nothing_to_do(runner.options, plan)))
        else:
            self._print_summary(result, plan.total, time.monotonic() - started)
        return self.summary

    def _announce(self, options: runs.RunOptions, plan: runs.RunPlan) -> None:
        if plan.resumed is not None and plan.since is not None:
            self.stdout.write(
                f"Resuming the run interrupted on {plan.resumed.started_at:%Y-%m-%d %H:%M} UTC: "
                f"POIs ranked since {plan.since:%Y-%m-%d %H:%M} UTC are skipped (use --restart "
                "to redo them)."
            )
        if plan.joined is not None:
            self.stdout.write(
                f"Run {plan.joined.pk} ({plan.joined.owner or 'another process'}) with the "
                "same options is still running: sharing the POIs with it."
            )
        if options.dry_run:
            self.stdout.write("Dry run: candidates are fetched and scored, nothing is changed.")
        if plan.total:
            self.stdout.write(
                f"Ranking {plan.total} POI{'s' if plan.total != 1 else ''} "
                f"({'missing images only' if options.missing_only else 'all'}"
                f"{', city ' + options.city if options.city else ''}"
                f", threshold {plan.threshold:.1f}, fallback {'on' if plan.fallback else 'off'})."
            )

    def _print_summary(self, result: dict[str, Any], total: int, elapsed: float) -> None:
        processed = result["processed_count"]
        per_poi = f" ({result['request_count'] / processed:.1f} per POI)" if processed else ""
        verb = "would be " if result["dry_run"] else ""
        text = (
            f"{'Dry run: ' if result['dry_run'] else ''}Processed {processed}/{total} POIs in "
            f"{duration(elapsed)}: {result['updated_count']} {verb}updated, "
            f"{result['unchanged_count']} unchanged, {result['no_image_count']} without a "
            f"suitable image ({result['fallback_count']} with a fallback), "
            f"{result['failed_count']} failed. {result['request_count']} Wikimedia requests"
            f"{per_poi}."
        )
        status = result["status"]
        if status == runs.INTERRUPTED:
            self.stdout.write(self.style.WARNING(f"Interrupted. {text}"))
            self.stdout.write(
                "Run the same command again to carry on where it stopped (--restart to start over)."
            )
            logger.warning("Interrupted. %s", text)
            return
        self.stdout.write(self.style.SUCCESS(text))
        logger.info(text)
        if status in runs.NO_PROGRESS:
            message = result.get("message") or runs.no_progress_message(status, processed, total)
            self.stderr.write(self.style.ERROR(message))
            logger.error(message)
        elif result["failed_count"]:
            self.stderr.write(
                self.style.WARNING(
                    f"{result['failed_count']} POI(s) failed (messages above). Re-run the "
                    "command to try them again; the others are not redone."
                )
            )


def _nothing_to_do(options: runs.RunOptions, plan: runs.RunPlan) -> str:
    where = f" in city {options.city!r}" if options.city else ""
    if plan.since is not None:
        return f"Nothing left to do{where}: the interrupted run had finished every POI."
    if options.missing_only:
        return f"Nothing to do: every POI in a list{where} already has an image (use --all)."
    return f"Nothing to do: no POI{where} is in a list."
