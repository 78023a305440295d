"""The run's progress: the time left under the request budget, with an injected clock."""

from __future__ import annotations

import io
from collections import Counter

import pytest
from django.core.management.base import OutputWrapper

from image_ranking.management.progress import RunProgress, rough, time_left
from image_ranking.pipeline.result import Outcome, RankResult
from image_ranking.runs import Progress


def test_the_budget_sets_the_pace_of_a_first_run():
    # 100 POIs at 3.55 requests each in 2 minutes; 900 left need 3195 requests.
    text = time_left(left=900, done=100, requests=355, elapsed=120, rate_per_hour=500)
    assert text == "about 6.4 h left at 500 requests/h"


def test_the_machine_sets_the_pace_when_requests_are_few():
    # Cached candidates: no requests, 2 s per POI of scoring.
    text = time_left(left=90, done=10, requests=0, elapsed=20, rate_per_hour=500)
    assert text == "about 3 min left"


def test_nothing_left_and_nothing_known_yet():
    assert time_left(left=0, done=5, requests=9, elapsed=3, rate_per_hour=500) == "done"
    assert "unknown" in time_left(left=5, done=0, requests=0, elapsed=0, rate_per_hour=500)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.2, "1 s"), (40, "40 s"), (719, "12 min"), (3600 * 2.5, "2.5 h"), (3600 * 7, "7 h")],
)
def test_rough_durations(seconds, text):
    assert rough(seconds) == text
    assert rough(3600 * 30) == "30 h" and rough(3600 * 24 * 3) == "3 days"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_line_per_batch_says_the_time_left(settings):
    settings.IMAGE_RANKING_RATE_LIMIT_PER_HOUR = 500
    out = io.StringIO()
    clock = Clock()
    progress = RunProgress(
        OutputWrapper(out), OutputWrapper(io.StringIO()), verbosity=1, total=1000, clock=clock
    )
    counts: Counter[str] = Counter()
    for done in range(1, 101):
        clock.now += 1.0  # a second per POI: the budget is slower
        counts[Outcome.UPDATED] += 1
        result = RankResult(done, f"POI {done}", Outcome.UPDATED, "")
        progress(Progress(result, done, 1000, counts, 50, requests=round(done * 3.9)))
    lines = out.getvalue().splitlines()
    assert len(lines) == 2  # one per batch of 50
    # 900 POIs left at 3.9 requests each: 3510 requests, 7 h at 500 an hour.
    assert lines[-1].startswith("Processed 100/1000 POIs (updated 100,")
    assert lines[-1].endswith("; about 7 h left at 500 requests/h")


def test_a_faster_budget_leaves_the_pace_of_the_machine(settings):
    settings.IMAGE_RANKING_RATE_LIMIT_PER_HOUR = 1_000_000
    out = io.StringIO()
    clock = Clock()
    progress = RunProgress(
        OutputWrapper(out), OutputWrapper(io.StringIO()), verbosity=1, total=20, clock=clock
    )
    clock.now += 30.0
    result = RankResult(1, "POI", Outcome.NO_IMAGE, "")
    progress(Progress(result, 10, 20, Counter({Outcome.NO_IMAGE: 10}), 10, requests=40))
    assert out.getvalue().strip().endswith("; about 30 s left")
