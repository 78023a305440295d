"""Score local image files with a scorer backend, one line per file.

    manage.py score_images photo.jpg photos/ [--scorer learned] [--json]

For operators checking a model, and for evaluation: stdout holds only the results
(``<score>\\t<file>``, or with ``--json`` one ``{"file": ..., "score": ...}`` object per
line, ``score`` null for an unreadable file); the summary goes to stderr. Only regular
files up to ``--max-bytes`` are read (a FIFO or ``/dev/zero`` is refused, never read).
The exit status is 1 when no file at all could be scored, so cron and CI notice.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from image_ranking.conf import conf
from image_ranking.exceptions import ImageRankingError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".tif", ".tiff", ".bmp"}


def expand_paths(paths: list[str]) -> list[Path]:
    """Files as given; a folder stands for the image files directly inside it, sorted."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files += sorted(
                p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
            )
        else:
            files.append(path)
    return files


class UnreadableFile(Exception):
    """A path that is not scored; the message says why."""


def read_image_file(path: Path, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``; ``UnreadableFile`` otherwise.

    Opened without blocking and checked on the open descriptor, so a FIFO (which would
    block until a writer comes) or a device such as /dev/zero (endless) is never read,
    even if the path is swapped after it was listed.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise UnreadableFile(f"cannot read ({exc.strerror or exc})")
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnreadableFile("not a regular file")
        if info.st_size > max_bytes:
            raise UnreadableFile(f"larger than {max_bytes} bytes ({info.st_size})")
        try:
            data = handle.read(max_bytes + 1)
        except OSError as exc:
            raise UnreadableFile(f"cannot read ({exc.strerror or exc})")
    if len(data) > max_bytes:  # it grew after fstat
        raise UnreadableFile(f"larger than {max_bytes} bytes")
    return data


class Command(BaseCommand):
    help = "Score local image files (0-10) with a scorer backend; one line per file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", metavar="PATH", help="Image files or folders.")
        parser.add_argument(
            "--scorer", help="Scorer backend (default: IMAGE_RANKING_SCORER, i.e. the app's)."
        )
        parser.add_argument(
            "--json", action="store_true", help="One JSON object per line: file, score."
        )
        parser.add_argument(
            "--max-bytes",
            type=int,
            help="Larger files are not read (default: IMAGE_RANKING_MAX_DOWNLOAD_BYTES).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from image_ranking.scoring import available_scorers, get_scorer

        name = options["scorer"] or conf.SCORER
        if name not in available_scorers():
            raise CommandError(
                f"Unknown scorer {name!r}; choose one of: {', '.join(available_scorers())}."
            )
        max_bytes = (
            options["max_bytes"] if options["max_bytes"] is not None else conf.MAX_DOWNLOAD_BYTES
        )
        if max_bytes < 1:
            raise CommandError("--max-bytes must be at least 1.")
        files = expand_paths(options["paths"])
        if not files:
            raise CommandError("No image files found in the given folders.")
        try:
            scorer = get_scorer(name)
            scorer.ensure_loaded()
            version = scorer.version
        except ImageRankingError as exc:
            raise CommandError(f"Scorer {name!r} cannot load: {exc}")

        batch_size = max(1, conf.SCORE_BATCH_SIZE)
        unreadable = 0
        scored = 0
        for start in range(0, len(files), batch_size):
            chunk = files[start : start + batch_size]
            blobs: list[bytes] = []
            for path in chunk:
                try:
                    blobs.append(read_image_file(path, max_bytes))
                except UnreadableFile as exc:
                    self.stderr.write(f"{path}: {exc}")
                    blobs.append(b"")  # decodes to None: reported as unreadable
            try:
                scores = scorer.score_images(blobs)
            except ImageRankingError as exc:
                raise CommandError(f"Scoring failed: {exc}")
            for path, score in zip(chunk, scores, strict=True):
                if score is None:
                    unreadable += 1
                else:
                    scored += 1
                if options["json"]:
                    line = json.dumps(
                        {"file": str(path), "score": None if score is None else round(score, 4)}
                    )
                else:
                    line = f"{'unreadable' if score is None else f'{score:.3f}'}\t{path}"
                self.stdout.write(line)
        summary = f"Scored {scored} of {len(files)} files with {name} ({version})"
        if unreadable:
            summary += f"; {unreadable} unreadable"
        if not scored:
            # Exit status 1: an empty result is an outage or a wrong path, not a success.
            raise CommandError(summary + ".")
        self.stderr.write(self.style.SUCCESS(summary + "."))
