"""The database-backed token bucket: rate, burst, Retry-After, and several processes."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import time

import pytest

from image_ranking.models import RateLimitBucket
from image_ranking.services.ratelimit import RateLimiter
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
    with caplog.at_level(logging.INFO, logger="image_ranking.services.ratelimit"):
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
    from image_ranking.services.ratelimit import RateLimiter
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
