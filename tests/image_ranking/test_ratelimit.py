"""The database-backed token bucket: rate, burst, Retry-After, and several processes."""

from __future__ import annotations

import logging
import math
import os
import subprocess
import sys
import textwrap
import time

import pytest
from django.db import DatabaseError, transaction

from image_ranking.commons.ratelimit import RateLimiter, _repaired
from image_ranking.exceptions import BudgetExhaustedError
from image_ranking.models import RateLimitBucket
from tests.conftest import REPO_ROOT
from tests.image_ranking.ranking_helpers import FakeTime


@pytest.mark.django_db
@pytest.mark.parametrize(("rate", "burst", "n"), [(500, 5, 60), (3600, 1, 10), (100, 10, 10)])
def test_n_requests_take_at_least_n_minus_burst_over_rate(rate, burst, n):
    t = FakeTime()
    limiter = RateLimiter(rate_per_hour=rate, burst=burst, clock=t.clock, sleep=t.sleep)
    start = t.now
    for _ in range(n):
        limiter.acquire()
    elapsed = t.now - start
    minimum = max(0, n - burst) / (rate / 3600)
    assert elapsed >= minimum - 1e-6
    assert elapsed <= minimum + 1.0  # and it does not wait much longer than needed


@pytest.mark.django_db
def test_tokens_refill_while_idle_up_to_the_burst():
    t = FakeTime()
    limiter = RateLimiter(rate_per_hour=360, burst=3, clock=t.clock, sleep=t.sleep)
    for _ in range(3):
        limiter.acquire()
    assert t.sleeps == []
    t.now += 3600  # an hour idle refills only the burst, not 360 tokens
    for _ in range(4):
        limiter.acquire()
    assert t.sleeps == [pytest.approx(10.0)]


@pytest.mark.django_db
def test_waits_are_logged(caplog):
    t = FakeTime()
    limiter = RateLimiter(rate_per_hour=500, burst=1, clock=t.clock, sleep=t.sleep)
    with caplog.at_level(logging.INFO, logger="image_ranking.commons.ratelimit"):
        limiter.acquire()
        limiter.acquire()
    assert "Waiting 7.2 s for the request budget" in caplog.text


@pytest.mark.django_db
def test_retry_after_pushes_every_limiter_back():
    t = FakeTime()
    a = RateLimiter(rate_per_hour=3600, burst=5, clock=t.clock, sleep=t.sleep)
    b = RateLimiter(rate_per_hour=3600, burst=5, clock=t.clock, sleep=t.sleep)
    a.defer(120)
    b.acquire()  # another process sharing the bucket also waits
    assert sum(t.sleeps) == pytest.approx(120)
    assert RateLimitBucket.objects.get(name="wikimedia").blocked_until == pytest.approx(t.now)


@pytest.mark.django_db
def test_a_non_blocking_acquire_never_sleeps_and_says_when_the_budget_frees():
    t = FakeTime()
    limiter = RateLimiter(rate_per_hour=3600, burst=1, clock=t.clock, sleep=t.sleep)
    assert limiter.acquire(block=False) == 0.0
    with pytest.raises(BudgetExhaustedError, match="budget is spent") as caught:
        limiter.acquire(block=False)
    assert caught.value.retry_at == pytest.approx(t.now + 1.0)
    assert caught.value.retry_after == pytest.approx(1.0)
    assert t.sleeps == []
    t.now += 1.0  # the refused call took nothing: the token is there a second later
    assert limiter.acquire(block=False) == 0.0


@pytest.mark.django_db
def test_a_non_blocking_acquire_reports_a_servers_block():
    t = FakeTime()
    limiter = RateLimiter(rate_per_hour=3600, burst=5, clock=t.clock, sleep=t.sleep)
    limiter.defer(240)
    with pytest.raises(BudgetExhaustedError) as caught:
        limiter.acquire(block=False)
    assert caught.value.retry_at == pytest.approx(t.now + 240) and t.sleeps == []


@pytest.mark.django_db
@pytest.mark.parametrize("seconds", [float("inf"), float("nan"), -5.0, 0.0])
def test_defer_ignores_nonsense(seconds):
    t = FakeTime()
    limiter = RateLimiter(rate_per_hour=3600, burst=5, clock=t.clock, sleep=t.sleep)
    limiter.defer(seconds)
    limiter.acquire()
    assert t.sleeps == []


@pytest.mark.django_db
def test_defer_is_capped_by_max_backoff(settings):
    settings.IMAGE_RANKING_MAX_BACKOFF = 300
    t = FakeTime()
    limiter = RateLimiter(rate_per_hour=3600, burst=5, clock=t.clock, sleep=t.sleep)
    limiter.defer(86_400)
    limiter.acquire()
    assert t.sleeps == [pytest.approx(300)]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("blocked_until", float("inf")),  # what "Retry-After: inf" used to store
        ("blocked_until", 1e300),
        ("blocked_until", float("nan")),
        ("tokens", float("nan")),
        ("tokens", float("-inf")),
        ("tokens", -40.0),
        ("updated_at", float("inf")),
        ("updated_at", 1e300),
    ],
)
def test_a_corrupt_bucket_row_repairs_itself(settings, caplog, field, value):
    settings.IMAGE_RANKING_MAX_BACKOFF = 600
    t = FakeTime()
    limiter = RateLimiter(rate_per_hour=3600, burst=5, clock=t.clock, sleep=t.sleep)
    limiter.acquire()
    try:
        with transaction.atomic():
            RateLimitBucket.objects.filter(name="wikimedia").update(**{field: value})
    except DatabaseError:
        pytest.skip(f"this database cannot even store {value!r} in a float column")
    try:  # no OverflowError: a token, or a clear answer within the cap
        limiter.acquire(block=False)
    except BudgetExhaustedError as exc:
        assert t.now < exc.retry_at <= t.now + 600
    for _ in range(3):
        limiter.acquire()
    assert sum(t.sleeps) <= 600 + 2  # at most the cap, never "forever"
    bucket = RateLimitBucket.objects.get(name="wikimedia")
    for number in (bucket.tokens, bucket.updated_at, bucket.blocked_until):
        assert math.isfinite(number) and abs(number) < 1e12
    assert "Repaired rate-limit bucket" in caplog.text


@pytest.mark.django_db
def test_nan_read_from_the_row_is_repaired_too():
    """PostgreSQL stores NaN (SQLite cannot, so the test above skips it there)."""
    RateLimitBucket.objects.create(name="wikimedia", tokens=1.0, updated_at=5.0)
    bucket = RateLimitBucket.objects.get(name="wikimedia")
    bucket.tokens = bucket.updated_at = bucket.blocked_until = float("nan")
    _repaired(bucket, 100.0)
    stored = RateLimitBucket.objects.get(name="wikimedia")
    assert (stored.tokens, stored.updated_at, stored.blocked_until) == (0.0, 100.0, 700.0)


@pytest.mark.django_db
def test_settings_give_the_defaults(settings):
    settings.IMAGE_RANKING_RATE_LIMIT_PER_HOUR = 720
    settings.IMAGE_RANKING_RATE_LIMIT_BURST = 2
    limiter = RateLimiter()
    assert limiter.rate_per_second == pytest.approx(0.2) and limiter.burst == 2


WORKER = textwrap.dedent(
    """
    import os, sys, time, json
    sys.path.insert(0, {repo!r})
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    import django
    django.setup()
    from image_ranking.commons.ratelimit import RateLimiter, _repaired
    limiter = RateLimiter(rate_per_hour={rate}, burst={burst})
    stamps = []
    deadline = float(sys.argv[1])
    while time.time() < deadline:
        time.sleep(0.001)
    for _ in range({n}):
        limiter.acquire()
        stamps.append(time.time())
    print(json.dumps(stamps))
    """
)


@pytest.mark.django_db(transaction=True)
def test_two_processes_sharing_a_database_stay_within_the_rate(tmp_path):
    """Real processes, real time: 2 x 15 requests at 36 000/h (10/s), burst 2."""
    import json

    db = tmp_path / "shared.sqlite3"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}", "HF_HUB_OFFLINE": "1"}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=REPO_ROOT, env=env, check=True
    )
    rate, burst, n = 36_000, 2, 15
    script = tmp_path / "worker.py"
    script.write_text(WORKER.format(repo=str(REPO_ROOT), rate=rate, burst=burst, n=n))
    start_at = time.time() + 2.0  # both start together, after their imports
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(start_at)], env=env, stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    stamps = sorted(s for p in procs for s in json.loads(p.communicate(timeout=120)[0]))
    assert all(p.returncode == 0 for p in procs)
    assert len(stamps) == 2 * n
    # In any window of w seconds at most burst + rate * w requests (small clock slack).
    per_second = rate / 3600
    for i, first in enumerate(stamps):
        for j in range(i + 1, len(stamps)):
            window = stamps[j] - first
            assert j - i + 1 <= burst + per_second * window + 1.5, (i, j, window)
    total = stamps[-1] - stamps[0]
    assert total >= (2 * n - burst) / per_second * 0.9
