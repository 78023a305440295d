"""Prefect flow ``import_city``: load a city, merge its duplicate POIs, rank their images.

The tasks are the host's import steps, each a thin wrapper around the one
implementation it runs:

1. ``load_city_data``: ``cities.loader`` (the same code as ``manage.py load_city``);
2. ``auto_merge_duplicates``: ``cities.dedupe`` (the host's ``_auto_merge_duplicates``);
3. ``rank_poi_images_for_lists``: ``call_command("rank_poi_images", ...)`` for the
   city's POIs in lists; its per-batch progress is forwarded to Prefect's logs.

Run locally (Prefect's ephemeral mode: nothing to start by hand)::

    python -m workflow.city_import cities/data/paris.json [--all] [--threshold X]
        [--batch-size N] [--limit N] [--no-rank]

Django is set up once when this module is imported (with ``config.settings`` unless
``DJANGO_SETTINGS_MODULE`` says otherwise), and left alone when it already is (under
pytest-django, or inside ``manage.py shell``). Flow and tasks are synchronous, so ORM
calls stay plain. Prefect is an optional extra: only this package imports it.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import django
from django.apps import apps

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
if not apps.ready:
    django.setup()

from django.core.management import CommandError, call_command  # noqa: E402 (after setup)
from prefect import flow, get_run_logger, task  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402
from prefect.exceptions import MissingContextError  # noqa: E402

from cities import dedupe, loader  # noqa: E402

logger = logging.getLogger(__name__)

# The app's loggers whose records are forwarded into the task's Prefect log. The
# command's own logger is left out: it logs exactly the lines it also writes to
# stdout, which are forwarded already.
FORWARDED_LOGGER = "image_ranking"
NOT_FORWARDED = ("image_ranking.commands",)


def _run_logger() -> logging.Logger | logging.LoggerAdapter:
    """Prefect's run logger inside a flow or task run, this module's logger outside one
    (e.g. when a test calls a task's ``.fn()``)."""
    try:
        return get_run_logger()
    except MissingContextError:
        return logger


class LogWriter(io.TextIOBase):
    """A text stream that logs each complete line (a command's stdout or stderr)."""

    def __init__(self, log: logging.Logger | logging.LoggerAdapter, level: int) -> None:
        super().__init__()
        self.log = log
        self.level = level
        self._buffer = ""
        self.lines: list[str] = []

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        # Not a terminal: the command writes one line per batch, not a progress bar.
        return False

    def write(self, text: str) -> int:
        self._buffer += text
        *complete, self._buffer = self._buffer.split("\n")
        for line in complete:
            self._emit(line)
        return len(text)

    def flush(self) -> None:
        if self._buffer:
            self._emit(self._buffer)
            self._buffer = ""

    def _emit(self, line: str) -> None:
        line = line.rstrip("\r")
        if line.strip():
            self.lines.append(line)
            self.log.log(self.level, "%s", line)


class _ForwardHandler(logging.Handler):
    """Sends the app's log records, from this thread only, to a run logger."""

    def __init__(self, target: logging.Logger | logging.LoggerAdapter) -> None:
        super().__init__(level=logging.INFO)
        self.target = target
        self.thread = threading.get_ident()

    def filter(self, record: logging.LogRecord) -> bool:
        # Tasks of other flow runs may run in other threads of this process.
        return record.thread == self.thread and not record.name.startswith(NOT_FORWARDED)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.target.log(record.levelno, "%s: %s", record.name, record.getMessage())
        except Exception:
            self.handleError(record)


@contextmanager
def forward_app_logs(
    target: logging.Logger | logging.LoggerAdapter, name: str = FORWARDED_LOGGER
) -> Iterator[None]:
    """While active, records of the ``name`` logger (INFO and up) also go to ``target``."""
    source = logging.getLogger(name)
    handler = _ForwardHandler(target)
    previous_level = source.level
    if source.getEffectiveLevel() > logging.INFO:
        source.setLevel(logging.INFO)
    source.addHandler(handler)
    try:
        yield
    finally:
        source.removeHandler(handler)
        source.setLevel(previous_level)


@task(name="load-city-data", cache_policy=NO_CACHE)
def load_city_data(source: str | dict[str, Any]) -> dict[str, Any]:
    """Load (or update) the city from a JSON file path or an already parsed document.

    Returns the loader's counts; a bad file raises ``CityDataError`` and loads nothing.
    """
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


def rank_command_args(
    city_slug: str | None,
    *,
    missing_only: bool = True,
    threshold: float | None = None,
    batch_size: int | None = None,
    limit: int | None = None,
    fallback: bool | None = None,
) -> list[str]:
    """The ``rank_poi_images`` command line for these options (parsed by the command)."""
    args = ["--missing-only" if missing_only else "--all"]
    if city_slug:
        args += ["--city", city_slug]
    if threshold is not None:
        args += ["--threshold", str(threshold)]
    if batch_size is not None:
        args += ["--batch-size", str(batch_size)]
    if limit is not None:
        args += ["--limit", str(limit)]
    if fallback is not None:
        args.append("--fallback" if fallback else "--no-fallback")
    return args


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
    ``CommandError`` (bad option, no model weights) fails the task with its message.
    """
    log = _run_logger()
    args = rank_command_args(
        city_slug,
        missing_only=missing_only,
        threshold=threshold,
        batch_size=batch_size,
        limit=limit,
        fallback=fallback,
    )
    log.info("Running rank_poi_images %s", " ".join(args))
    stdout, stderr = LogWriter(log, logging.INFO), LogWriter(log, logging.WARNING)
    with forward_app_logs(log):
        try:
            result = call_command("rank_poi_images", *args, stdout=stdout, stderr=stderr)
        finally:
            stdout.flush()
            stderr.flush()
    if not isinstance(result, dict):
        raise RuntimeError(f"rank_poi_images returned {result!r} instead of its summary.")
    if result.get("failed_count"):
        log.warning(
            "%d POI(s) failed to rank; the flow goes on. Re-run to try them again.",
            result["failed_count"],
        )
    return result


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


@contextmanager
def _console_through_prefect_only(name: str = FORWARDED_LOGGER) -> Iterator[None]:
    """On the command line the app's records reach the console through the task's run
    log (forwarded); without this they would also print through Django's and Prefect's
    console handlers, three times over."""
    app = logging.getLogger(name)
    handlers, propagate = list(app.handlers), app.propagate
    for handler in handlers:
        app.removeHandler(handler)
    app.propagate = False
    try:
        yield
    finally:
        for handler in handlers:
            app.addHandler(handler)
        app.propagate = propagate


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    path = Path(args.file)
    if not path.is_file():
        print(f"{path}: no such file.", file=sys.stderr)
        return 2
    try:
        with _console_through_prefect_only():
            result = import_city(
                source=str(path.resolve()),
                rank_images=args.rank_images,
                missing_only=args.missing_only,
                threshold=args.threshold,
                batch_size=args.batch_size,
                limit=args.limit,
                fallback=args.fallback,
            )
    except (loader.CityDataError, CommandError) as exc:
        print(f"Import failed: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2))
    ranking = result.get("image_ranking") or {}
    return 0 if ranking.get("status", "success") == "success" else 1


if __name__ == "__main__":
    sys.exit(main())
