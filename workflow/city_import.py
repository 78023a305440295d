"""Prefect flows ``import_city`` (load a city, merge its duplicate POIs, rank their
images) and ``rank_images`` (rank only).

The tasks are the host's import steps, each a thin wrapper around the one
implementation it runs:

1. ``load_city_data``: ``cities.loader`` (the same code as ``manage.py load_city``);
2. ``auto_merge_duplicates``: ``cities.dedupe`` (the host's ``_auto_merge_duplicates``);
3. ``rank_poi_images_for_lists``: ``manage.py rank_poi_images`` with the run's options
   (``RunOptions``, the flows' ``ranking`` parameter: city, limit, batch size...). A run
   that is not a success (an outage, every POI failed, stopped with POIs left) fails the
   task, and so the flow.

The app's log records (``Processed n/N POIs`` per batch, each failed POI, the summary)
reach the flow run's log: ``workflow.runtime.setup_django`` puts Prefect's API handler on
the app's logger once Django is set up, in whatever folder the worker runs the flow.

Run locally (Prefect's ephemeral mode: nothing to start by hand)::

    python -m workflow.city_import cities/data/paris.json [--all] [--threshold X]
        [--batch-size N] [--limit N] [--no-rank] ...   (the options of rank_poi_images)

Deployed to a work pool: ``prefect.yaml`` at the repository's root (README, "Running on
several machines").

Importing this module does not set Django up: each task does (``setup_django``) when it
is not already. Flow and tasks are synchronous, so ORM calls stay plain. Prefect is an
optional extra: only this package imports it.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import logging
import sys
from pathlib import Path
from typing import Any

from django.core.management import CommandError, call_command
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import MissingContextError

from image_ranking import run_options
from image_ranking.run_options import RunError, RunOptions
from workflow.runtime import setup_django

__all__ = ["RankingFailed", "import_city", "rank_images", "setup_django"]

logger = logging.getLogger(__name__)


class RankingFailed(RuntimeError):
    """The ranking run is not a success: an outage, every POI failed, or it stopped with
    POIs left. ``summary`` is the run's summary, the message the command's."""

    def __init__(self, summary: dict[str, Any], message: str) -> None:
        self.summary = summary
        super().__init__(f"rank_poi_images: {message}")

    @property
    def exit_code(self) -> int:
        """The exit code ``manage.py rank_poi_images`` gives for the same run."""
        from image_ranking.management.commands.rank_poi_images import EXIT_CODES

        return EXIT_CODES.get(self.summary.get("status", ""), 1)


def _run_logger() -> logging.Logger | logging.LoggerAdapter:
    """Prefect's run logger inside a flow or task run, this module's logger outside one
    (e.g. when a test calls a task's ``.fn()``)."""
    try:
        return get_run_logger()
    except MissingContextError:
        return logger


@task(name="load-city-data", cache_policy=NO_CACHE)
def load_city_data(source: str | dict[str, Any]) -> dict[str, Any]:
    """Load (or update) the city from a JSON file path or an already parsed document.

    Returns the loader's counts; a bad file raises ``CityDataError`` and loads nothing.
    """
    setup_django()
    from cities import loader

    log = _run_logger()
    if isinstance(source, dict):
        result = loader.load_city_data(source)
    else:
        result = loader.load_city_file(source)
    counts = result.as_dict()
    log.info(
        "Loaded %s (%s): %d POIs created, %d updated, %d unchanged; %d lists.",
        result.city.name,
        result.city.slug,
        result.created_pois,
        result.updated_pois,
        result.unchanged_pois,
        result.lists,
    )
    return counts


@task(name="auto-merge-duplicates", cache_policy=NO_CACHE)
def auto_merge_duplicates(city_slug: str) -> dict[str, Any]:
    """Merge the city's duplicate POIs (``cities.dedupe``); unsure merges become Validations."""
    setup_django()
    from cities import dedupe

    log = _run_logger()
    result = dedupe.auto_merge_duplicates(city_slug)
    for merge in result.merges:
        log.log(
            logging.INFO if merge.sure else logging.WARNING,
            "Merged %r (id %d) into %r (id %d): %s%s",
            merge.dropped_name,
            merge.dropped_id,
            merge.kept_name,
            merge.kept_id,
            merge.reason,
            "" if merge.sure else " (unsure: recorded as a Validation to check)",
        )
    for skipped in result.skipped:
        log.warning(
            "Possible duplicates not merged: %r and %r (%s); recorded as a Validation.",
            skipped.kept_name,
            skipped.dropped_name,
            skipped.reason,
        )
    log.info(
        "%d duplicate POI(s) merged in %s, %d of them unsure.",
        result.merged,
        city_slug,
        result.uncertain,
    )
    return result.as_dict()


@task(name="rank-poi-images-for-lists", cache_policy=NO_CACHE)
def rank_poi_images_for_lists(options: RunOptions) -> dict[str, Any]:
    """Rank the images of the POIs in lists that ``options`` select.

    Runs ``manage.py rank_poi_images`` (the single console front of the run) and returns
    its summary: ``{"status", "processed_count", "updated_count", "failed_count",
    "no_image_count", "left_count", ...}``. One POI's failure is counted there, not
    raised; a ``CommandError`` (bad option, no model weights) fails the task with its
    message, and so does a run that is not a success (``RankingFailed``).
    """
    setup_django()
    from image_ranking.management.commands.rank_poi_images import Command

    log = _run_logger()
    given = options.as_command_options()
    log.info("Running rank_poi_images with %s", {k: v for k, v in given.items() if v})
    command = Command()
    try:
        # The command's lines are also its log records, which reach the run's log: the
        # text copies are not needed.
        call_command(command, stdout=io.StringIO(), stderr=io.StringIO(), **given)
    except CommandError as exc:
        if command.summary is None:  # refused before the run began
            raise
        raise RankingFailed(dict(command.summary), str(exc)) from None
    summary = dict(command.summary or {})  # a plain dict: stored as JSON
    if summary.get("failed_count"):
        log.warning(
            "%d POI(s) failed to rank; the flow goes on. Re-run to try them again.",
            summary["failed_count"],
        )
    return summary


def _flow_run_name() -> str:
    from prefect.runtime import flow_run

    source = flow_run.parameters.get("source")
    if isinstance(source, dict):
        city = source.get("city") or {}
        label = city.get("slug") or city.get("name") or "inline data"
    else:
        label = Path(str(source)).name
    return f"import-{label}"


@flow(name="import-city", flow_run_name=_flow_run_name)
def import_city(
    source: str | dict[str, Any],
    rank_images: bool = True,
    ranking: RunOptions | None = None,
) -> dict[str, Any]:
    """Import a city (a JSON file path, or the parsed document), merge its duplicates and
    rank the images of its POIs in lists with the options ``ranking`` (its city is the
    imported one).

    Returns ``{"city": slug, "load": {...}, "merge": {"merged", "uncertain", ...},
    "image_ranking": {"status", "processed_count", ...} or None when rank_images is off}``.
    """
    loaded = load_city_data(source)
    slug = loaded["city"]
    merged = auto_merge_duplicates(slug)
    ranked = None
    if rank_images:
        options = dataclasses.replace(ranking or RunOptions(), city=slug)
        ranked = rank_poi_images_for_lists(options)
    return {"city": slug, "load": loaded, "merge": merged, "image_ranking": ranked}


@flow(name="rank-poi-images")
def rank_images(ranking: RunOptions | None = None) -> dict[str, Any]:
    """Rank the images of the POIs in lists (``manage.py rank_poi_images`` as a flow):
    what a schedule runs, or several workers at once, sharing the list."""
    return rank_poi_images_for_lists(ranking or RunOptions())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m workflow.city_import",
        description="Import a city JSON file, merge duplicate POIs and rank the images of "
        "the POIs in lists, as one Prefect flow run (ephemeral mode unless PREFECT_API_URL "
        "points at a server). Prints the result as JSON.",
    )
    parser.add_argument("file", help="City JSON file, e.g. cities/data/paris.json.")
    parser.add_argument(
        "--no-rank", dest="rank_images", action="store_false", help="Import and merge only."
    )
    run_options.add_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    path = Path(args.file)
    if not path.is_file():
        print(f"{path}: no such file.", file=sys.stderr)
        return 2
    try:
        ranking = RunOptions.from_options(vars(args))
    except RunError as exc:
        print(f"Import failed: {exc}", file=sys.stderr)
        return 2
    setup_django()
    from cities.loader import CityDataError

    try:
        result = import_city(
            source=str(path.resolve()), rank_images=args.rank_images, ranking=ranking
        )
    except RankingFailed as exc:
        print(f"Import failed: {exc}", file=sys.stderr)
        print(json.dumps(exc.summary, indent=2))
        return exc.exit_code
    except (CityDataError, CommandError) as exc:
        print(f"Import failed: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
