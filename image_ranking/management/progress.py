"""Progress of a ranking run on a console: a tqdm bar on a terminal, else a line per batch.

Used by ``rank_poi_images`` as the run's progress callback (``runs.Progress``).
Off a terminal (cron, CI, the Prefect flow) each batch gives one ``Processed n/N POIs``
line on stdout and the same line as an INFO record of the command's logger, which the
Prefect flows send to the flow run's log (``workflow/runtime.py``).
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from django.core.management.base import OutputWrapper

from image_ranking.models import RankingState
from image_ranking.runs import Progress

logger = logging.getLogger("image_ranking.commands.rank_poi_images")

Outcome = RankingState.Outcome


class RunProgress:
    """Progress of a run: a tqdm bar on a terminal, else a line (and a log record) per batch."""

    def __init__(
        self, stdout: OutputWrapper, stderr: OutputWrapper, *, verbosity: int, total: int
    ) -> None:
        self.stdout, self.stderr, self.verbosity = stdout, stderr, verbosity
        self.bar: Any = None
        if stdout.isatty() and verbosity >= 1 and total:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="POI", file=stdout._out, leave=True)

    def __enter__(self) -> RunProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()

    def __call__(self, progress: Progress) -> None:
        result = progress.result
        if result.outcome == Outcome.FAILED:
            self._write(f"{result.poi_name} (id {result.poi_id}): {result.message}", error=True)
        elif self.verbosity >= 2:
            self._write(
                f"{result.poi_name} (id {result.poi_id}): {result.outcome}: {result.message}"
            )
        if self.bar is not None:
            self.bar.set_postfix_str(counts_text(progress.counts), refresh=False)
            self.bar.update(1)
        elif progress.batch_done:
            line = (
                f"Processed {progress.done}/{progress.total} POIs ({counts_text(progress.counts)})"
            )
            self.stdout.write(line)
            logger.info(line)

    def stopping(self) -> None:
        self._write(
            "Stopping after the current POI... (press Ctrl-C again to stop at once)", error=True
        )

    def _write(self, text: str, *, error: bool = False) -> None:
        stream = self.stderr if error else self.stdout
        if self.bar is not None:
            self.bar.write(text, file=stream._out)  # above the bar, which is redrawn
        else:
            stream.write(text)


def counts_text(counts: Counter[str]) -> str:
    return (
        f"updated {counts[Outcome.UPDATED]}, unchanged {counts[Outcome.UNCHANGED]}, "
        f"no image {counts[Outcome.NO_IMAGE] + counts[Outcome.FALLBACK]}, "
        f"failed {counts[Outcome.FAILED]}"
    )


def duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
