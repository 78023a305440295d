"""Progress of a ranking run on a console: a tqdm bar on a terminal, else a line per batch.

Used by ``rank_poi_images`` as the run's progress callback (``runs.Progress``).
Off a terminal (cron, CI, the Prefect flow) each batch gives one ``Processed n/N POIs``
line on stdout and the same line as an INFO record of the command's logger, which the
Prefect flows send to the flow run's log (``workflow/runtime.py``).

Both show the time left: at 500 requests an hour the budget, not the machine, sets the
pace of a first run, so the estimate is the larger of the requests still to make (the
POIs left times the requests per POI so far) at ``IMAGE_RANKING_RATE_LIMIT_PER_HOUR``, and
the POIs left at the pace seen so far ("about 7 h at 500 requests/h", "about 3 min").
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from django.core.management.base import OutputWrapper

from image_ranking.conf import conf
from image_ranking.models import RankingState
from image_ranking.runs import Progress

logger = logging.getLogger("image_ranking.commands.rank_poi_images")

Outcome = RankingState.Outcome


class RunProgress:
    """Progress of a run: a tqdm bar on a terminal, else a line (and a log record) per batch."""

    def __init__(
        self,
        stdout: OutputWrapper,
        stderr: OutputWrapper,
        *,
        verbosity: int,
        total: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stdout, self.stderr, self.verbosity = stdout, stderr, verbosity
        self.clock = clock
        self.started = clock()
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
        left = self.time_left(progress)
        if self.bar is not None:
            self.bar.set_postfix_str(f"{counts_text(progress.counts)}; {left}", refresh=False)
            self.bar.update(1)
        elif progress.batch_done:
            line = (
                f"Processed {progress.done}/{progress.total} POIs "
                f"({counts_text(progress.counts)}); {left}"
            )
            self.stdout.write(line)
            logger.info(line)

    def time_left(self, progress: Progress) -> str:
        """ "about 7 h left at 500 requests/h" (see ``time_left``)."""
        return time_left(
            left=progress.total - progress.done,
            done=progress.done,
            requests=progress.requests,
            elapsed=self.clock() - self.started,
            rate_per_hour=conf.RATE_LIMIT_PER_HOUR,
        )

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


def time_left(*, left: int, done: int, requests: int, elapsed: float, rate_per_hour: float) -> str:
    """The time the ``left`` POIs will take: the larger of their requests (at this run's
    requests per POI so far) under the budget and the pace seen so far.

    "done" when nothing is left; "about 7 h left at 500 requests/h" when the budget sets
    the pace; "about 3 min left" when the machine does (scoring, cached candidates).
    """
    if left <= 0:
        return "done"
    if done <= 0:
        return "time left unknown yet"
    budget = left * (requests / done) / rate_per_hour * 3600
    pace = left * elapsed / done
    if budget >= pace:
        return f"about {rough(budget)} left at {rate_per_hour:g} requests/h"
    return f"about {rough(pace)} left"


def rough(seconds: float) -> str:
    """A duration to the precision an estimate deserves: 40 s, 12 min, 2.5 h, 7 h, 3 days."""
    if seconds < 60:
        return f"{max(1, round(seconds))} s"
    minutes = seconds / 60
    if minutes < 60:
        return f"{round(minutes)} min"
    hours = minutes / 60
    if hours < 10:
        return f"{hours:.1f} h".replace(".0 h", " h")
    if hours < 48:
        return f"{round(hours)} h"
    return f"{hours / 24:.0f} days"


def duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
