"""Prefect flow ``import_city``: load a city, merge its duplicate POIs, rank their images.

The tasks are the host's import steps, each a thin wrapper around the one
implementation it runs:

1. ``load_city_data``: ``cities.loader`` (the same code as ``manage.py load_city``);
2. ``auto_merge_duplicates``: ``cities.dedupe`` (the host's ``_auto_merge_duplicates``);
3. ``rank_poi_images_for_lists``: ``call_command("rank_poi_images", ...)`` for the
   city's POIs in lists. A run that made no progress (an outage) fails the task, and so
   the flow.

The app's log records (the ranking run's ``Processed n/N POIs`` line per batch, each
failed POI) reach the flow run's log through Prefect's own setting
``PREFECT_LOGGING_EXTRA_LOGGERS=image_ranking``: ``pyproject.toml`` sets it
(``[tool.prefect.logging]``) for runs from the project's root; a deployment or worker
started elsewhere sets the environment variable.

Run locally (Prefect's ephemeral mode: nothing to start by hand)::

    python -m workflow.city_import cities/data/paris.json [--all] [--threshold X]
        [--batch-size N] [--limit N] [--no-rank]

Importing this module has no side effect: Django is set up by each task (and the CLI)
(``setup_django``) when it is not already. Flow and tasks are synchronous, so ORM calls
stay plain. Prefect is an optional extra: only this package imports it.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from django.core.management import CommandError, call_command
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import MissingContextError

logger = logging.getLogger(__name__)

# rank_poi_images' exit code for an outage (EX_TEMPFAIL): the CLI says the same.
EXIT_OUTAGE = 75


class RankingFailed(RuntimeError):
    """The ranking run made no progress (an outage, or every POI failed) or was stopped."""

    def __init__(self, summary: dict[str, Any]) -> None:
        self.summary = summary
        status = summary.get("status")
        if status == "outage":
            text = "every POI failed because Commons could not be queried; run again later"
        elif status == "interrupted":
            text = "the run was interrupted; run again to carry on"
        else:
            text = "every POI failed"
        super().__init__(f"rank_poi_images: {text} ({summary.get('processed_count', 0)} tried).")


def setup_django() -> None:
    """Set Django up once (``config.settings`` unless ``DJANGO_SETTINGS_MODULE`` says
    otherwise); left alone where it already is (pytest-django, ``manage.py shell``)."""
    import django
    from django.apps import apps

    if not apps.ready:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        django.setup()


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
def rank_poi_images_for_lists(
    city_slug: str | None,
    missing_only: bool = True,
    threshold: float | None = None,
    batch_size: int | None = None,
    limit: int | None = None,
    fallback: bool | None = None,
) -> dict[str, Any]:
    """Rank the images of the POIs in lists (of ``city_slug``; every city if None).

    Runs ``manage.py rank_poi_images`` (the single implementation) and returns its
    summary: ``{"status", "processed_count", "updated_count", "failed_count",
    "no_image_count", ...}``. One POI's failure is counted there, not raised; a
    ``CommandError`` (bad option, no model weights) fails the task with its message, and
    so does a run without progress (``RankingFailed``: an outage, every POI failed).
    """
    setup_django()
    log = _run_logger()
    options = {
        "missing_only": missing_only,
        "all": not missing_only,
        "city": city_slug,
        "threshold": threshold,
        "batch_size": batch_size,
        "limit": limit,
        "fallback": fallback,
    }
    log.info("Running rank_poi_images with %s", {k: v for k, v in options.items() if v})
    # The command's lines are also its log records, which reach the run's log: the text
    # copies are not needed.
    result = call_command("rank_poi_images", stdout=io.StringIO(), stderr=io.StringIO(), **options)
    summary = dict(result)  # a plain dict: the flow's result is stored as JSON
    if summary.get("status") != "success":
        raise RankingFailed(summary)
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
    missing_only: bool = True,
    threshold: float | None = None,
    batch_size: int | None = None,
    limit: int | None = None,
    fallback: bool | None = None,
) -> dict[str, Any]:
    """Import a city (a JSON file path, or the parsed document), merge its duplicates and
    rank the images of its POIs in lists.

    Returns ``{"city": slug, "load": {...}, "merge": {"merged", "uncertain", ...},
    "image_ranking": {"status", "processed_count", ...} or None when rank_images is off}``.
    """
    loaded = load_city_data(source)
    slug = loaded["city"]
    merged = auto_merge_duplicates(slug)
    ranking = None
    if rank_images:
        ranking = rank_poi_images_for_lists(
            slug,
            missing_only=missing_only,
            threshold=threshold,
            batch_size=batch_size,
            limit=limit,
            fallback=fallback,
        )
    return {"city": slug, "load": loaded, "merge": merged, "image_ranking": ranking}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m workflow.city_import",
        description="Import a city JSON file, merge duplicate POIs and rank the images of "
        "the POIs in lists, as one Prefect flow run (ephemeral mode unless PREFECT_API_URL "
        "points at a server). Prints the result as JSON.",
    )
    parser.add_argument("file", help="City JSON file, e.g. cities/data/paris.json.")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--missing-only",
        dest="missing_only",
        action="store_true",
        default=True,
        help="Rank only POIs without an image (the default).",
    )
    mode.add_argument(
        "--all", dest="missing_only", action="store_false", help="Re-rank every POI in a list."
    )
    parser.add_argument("--threshold", type=float, metavar="X", help="Lowest score (0-10).")
    parser.add_argument("--batch-size", type=int, metavar="N", help="POIs per batch.")
    parser.add_argument("--limit", type=int, metavar="N", help="Rank at most N POIs.")
    parser.add_argument(
        "--fallback",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="Use category fallback images (default IMAGE_RANKING_FALLBACK_ENABLED).",
    )
    parser.add_argument(
        "--no-rank", dest="rank_images", action="store_false", help="Import and merge only."
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    path = Path(args.file)
    if not path.is_file():
        print(f"{path}: no such file.", file=sys.stderr)
        return 2
    setup_django()
    from cities.loader import CityDataError

    try:
        result = import_city(
            source=str(path.resolve()),
            rank_images=args.rank_images,
            missing_only=args.missing_only,
            threshold=args.threshold,
            batch_size=args.batch_size,
            limit=args.limit,
            fallback=args.fallback,
        )
    except RankingFailed as exc:
        print(f"Import failed: {exc}", file=sys.stderr)
        print(json.dumps(exc.summary, indent=2))
        return EXIT_OUTAGE if exc.summary.get("status") == "outage" else 1
    except (CityDataError, CommandError) as exc:
        print(f"Import failed: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
