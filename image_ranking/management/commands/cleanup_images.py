"""``manage.py cleanup_images``: delete stored image files that no row references.

See ``image_ranking.media.orphans``. Prints one line per file deleted (or, with
``--dry-run``, that would be) and a summary; exits 1 when a file could not be deleted.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from image_ranking.conf import conf
from image_ranking.media.orphans import sweep_orphans


class Command(BaseCommand):
    help = (
        "Delete image files under IMAGE_RANKING_ORPHAN_SWEEP_DIR that no POI or selected "
        "image references and that are older than IMAGE_RANKING_ORPHAN_MIN_AGE (left by a "
        "process killed between writing a file and saving its row)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--min-age",
            type=float,
            metavar="SECONDS",
            help="Only files older than this (default IMAGE_RANKING_ORPHAN_MIN_AGE). Lower "
            "it only while no ranking run or curator is storing images.",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="List the orphans; delete nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not conf.ORPHAN_SWEEP_DIR.strip("/"):
            raise CommandError("IMAGE_RANKING_ORPHAN_SWEEP_DIR is empty: nothing to sweep.")
        min_age = options["min_age"]
        if min_age is not None and min_age < 0:
            raise CommandError("--min-age must not be negative.")
        report = sweep_orphans(min_age=min_age, dry_run=options["dry_run"])
        for name in report.deleted:
            self.stdout.write(name)
        verb = "Would delete" if report.dry_run else "Deleted"
        summary = (
            f"{verb} {len(report.deleted)} orphan file(s) ({report.bytes_freed} bytes) under "
            f"{report.folder}/; kept {report.referenced} referenced, {report.too_young} too "
            "young to judge."
        )
        if report.failed:
            raise CommandError(
                f"{summary} Could not delete {len(report.failed)}: {', '.join(report.failed)}."
            )
        self.stdout.write(self.style.SUCCESS(summary))
