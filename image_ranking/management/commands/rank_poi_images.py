"""``manage.py rank_poi_images``: give the POIs in curated lists their best Commons photo.

The run itself (selection, batches, resume, sharing the list with other runs, Ctrl-C)
is ``image_ranking.runs``, its options ``image_ranking.run_options``; this command
parses them, shows progress (a bar on a terminal, a line per batch otherwise) and
prints. The run's summary dict is left on the command as ``summary``, for callers that
pass an instance to ``call_command``::

    {"status": "success", "processed_count": N, "updated_count": M,
     "failed_count": F, "no_image_count": K, "left_count": 0, ...}

A run that is not a success raises ``CommandError`` with its exit code (Django's
``returncode``): 1 bad options or a failed run (every POI failed); 75 (EX_TEMPFAIL) an
outage: every POI failed because Commons could not be queried, nothing was done, run
again later; 130 interrupted (Ctrl-C): run again to carry on.
"""

from __future__ import annotations

import argparse
import logging
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from image_ranking import run_options, runs
from image_ranking.management.progress import RunProgress, duration

logger = logging.getLogger("image_ranking.commands.rank_poi_images")

EXIT_CODES = {runs.SUCCESS: 0, runs.FAILED: 1, runs.OUTAGE: 75, runs.INTERRUPTED: 130}


class Command(BaseCommand):
    help = (
        "Find, score and store the best Wikimedia Commons photo for each point of interest "
        "in at least one list. Safe to interrupt (Ctrl-C) and re-run: it carries on where "
        "it stopped. Several runs at once share the list."
    )

    # Set by handle once the run has started; None when options were refused.
    summary: dict[str, Any] | None = None

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        run_options.add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        self.verbosity = int(options.get("verbosity", 1))
        try:
            runner = runs.RankingRunner(run_options.RunOptions.from_options(options))
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
        self.summary = result
        if plan.total == 0:
            self.stdout.write(self.style.SUCCESS(_nothing_to_do(runner.options, plan)))
        else:
            self._print_summary(result, plan.total, time.monotonic() - started)
        if result["status"] != runs.SUCCESS:
            raise CommandError(
                _not_done(result, plan.total), returncode=EXIT_CODES.get(result["status"], 1)
            )

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
        if result["shared_count"]:
            text += f" {result['shared_count']} ranked by another run sharing the list."
        if result["status"] == runs.INTERRUPTED:
            self.stdout.write(self.style.WARNING(f"Interrupted. {text}"))
            logger.warning("Interrupted. %s", text)
            return
        self.stdout.write(self.style.SUCCESS(text))
        logger.info(text)
        if result["status"] == runs.SUCCESS and result["failed_count"]:
            self.stderr.write(
                self.style.WARNING(
                    f"{result['failed_count']} POI(s) failed (messages above). Re-run the "
                    "command to try them again; the others are not redone."
                )
            )


def _not_done(result: dict[str, Any], total: int) -> str:
    """Why a run is not a success, and what to do (the CommandError's message)."""
    status, left = result["status"], result["left_count"]
    if status == runs.INTERRUPTED:
        message = (
            f"Interrupted with {left} of {total} POIs left: run the same command again to "
            "carry on where it stopped (--restart to start over)."
        )
    else:
        message = result.get("message") or runs.no_progress_message(
            status, result["processed_count"], total
        )
    logger.error(message)
    return message


def _nothing_to_do(options: runs.RunOptions, plan: runs.RunPlan) -> str:
    where = f" in city {options.city!r}" if options.city else ""
    if plan.since is not None:
        return f"Nothing left to do{where}: the interrupted run had finished every POI."
    if options.missing_only:
        return f"Nothing to do: every POI in a list{where} already has an image (use --all)."
    return f"Nothing to do: no POI{where} is in a list."
