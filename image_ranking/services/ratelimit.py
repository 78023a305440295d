"""A token bucket in the database: one request budget for every process sharing it.

The batch command, Prefect workers and the review page all call Wikimedia; Wikimedia's
limits apply to all of them together, so the bucket's state is a database row
(``RateLimitBucket``), read and updated in one short transaction with the row locked
(``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's IMMEDIATE transactions serialise
writers). No lock is held while sleeping: a process computes how long it must wait,
commits, sleeps, and tries again.

A server's ``Retry-After`` (HTTP 429/503, a ``maxlag`` error) pushes ``blocked_until``
out, so every process backs off, not only the one that was told.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.db import IntegrityError, transaction

from image_ranking.conf import conf
from image_ranking.models import RateLimitBucket

logger = logging.getLogger(__name__)

DEFAULT_BUCKET = "wikimedia"
# Float slack: after sleeping exactly the computed wait, refilled tokens can land a hair
# under 1.0; without it the next wait would be too small to move an epoch-sized clock.
EPSILON = 1e-6
MIN_WAIT = 0.001


class RateLimiter:
    """``acquire()`` before each request; it sleeps until the shared budget allows one.

    ``rate_per_hour`` and ``burst`` default to ``IMAGE_RANKING_RATE_LIMIT_PER_HOUR`` and
    ``IMAGE_RANKING_RATE_LIMIT_BURST``, read at each call. ``clock`` (epoch seconds) and
    ``sleep`` are injectable so tests never wait for real.
    """

    def __init__(
        self,
        name: str = DEFAULT_BUCKET,
        *,
        rate_per_hour: float | None = None,
        burst: int | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name = name
        self._rate_per_hour = rate_per_hour
        self._burst = burst
        self.clock = clock
        self.sleep = sleep
        self.waited = 0.0  # total seconds this limiter slept, for reports

    @property
    def rate_per_second(self) -> float:
        per_hour = (
            self._rate_per_hour if self._rate_per_hour is not None else conf.RATE_LIMIT_PER_HOUR
        )
        return float(per_hour) / 3600.0

    @property
    def burst(self) -> float:
        return float(max(1, self._burst if self._burst is not None else conf.RATE_LIMIT_BURST))

    def acquire(self) -> float:
        """Take one request from the budget, sleeping as long as needed; returns the wait."""
        waited = 0.0
        while True:
            wait = self._try_take()
            if wait <= 0:
                self.waited += waited
                return waited
            logger.info("Waiting %.1f s for the request budget", wait)
            self.sleep(wait)
            waited += wait

    def defer(self, seconds: float) -> None:
        """No request (from any process) before ``seconds`` from now: a server said so."""
        if seconds <= 0:
            return
        until = self.clock() + seconds
        with transaction.atomic():
            bucket = self._locked_bucket(self.clock())
            if until > bucket.blocked_until:
                bucket.blocked_until = until
                bucket.save(update_fields=["blocked_until"])
        logger.info("Wikimedia asked us to wait: no requests for %.1f s", seconds)

    def _try_take(self) -> float:
        """One token if available (returns 0), else the seconds until one will be."""
        rate, burst = self.rate_per_second, self.burst
        with transaction.atomic():
            now = self.clock()
            bucket = self._locked_bucket(now)
            elapsed = max(0.0, now - bucket.updated_at)
            tokens = min(burst, bucket.tokens + elapsed * rate)
            if bucket.blocked_until > now:
                wait = bucket.blocked_until - now
            elif tokens >= 1.0 - EPSILON:
                tokens = max(0.0, tokens - 1.0)
                wait = 0.0
            else:
                wait = max(MIN_WAIT, (1.0 - tokens) / rate)
            bucket.tokens, bucket.updated_at = tokens, now
            bucket.save(update_fields=["tokens", "updated_at"])
        return wait

    def _locked_bucket(self, now: float) -> RateLimitBucket:
        bucket = RateLimitBucket.objects.select_for_update().filter(name=self.name).first()
        if bucket is not None:
            return bucket
        try:
            # A savepoint, so a concurrent creation does not break the outer transaction.
            with transaction.atomic():
                return RateLimitBucket.objects.create(
                    name=self.name, tokens=self.burst, updated_at=now
                )
        except IntegrityError:
            return RateLimitBucket.objects.select_for_update().get(name=self.name)


def reset(name: str = DEFAULT_BUCKET) -> None:
    """Forget a bucket's state (its next request starts with a full burst)."""
    RateLimitBucket.objects.filter(name=name).delete()
