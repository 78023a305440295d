"""A token bucket in the database: one request budget for every process sharing it.

The batch command, Prefect workers and the review page all call Wikimedia; Wikimedia's
limits apply to all of them together, so the bucket's state is a database row
(``RateLimitBucket``), read and updated in one short transaction with the row locked
(``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's IMMEDIATE transactions serialise
writers). No lock is held while sleeping: a process computes how long it must wait,
commits, sleeps, and tries again.

A server's ``Retry-After`` (HTTP 429/503, a ``maxlag`` error) pushes ``blocked_until``
out, so every process backs off, not only the one that was told; never further than
``IMAGE_RANKING_MAX_BACKOFF`` ahead. A row holding nonsense (infinite, NaN, negative, or
further ahead than that cap, e.g. written by an older version that trusted
``Retry-After: inf``) is repaired when next read instead of breaking every process.

Batch runs wait for the budget (``acquire()``); a web request must answer at once, so it
calls ``acquire(block=False)``, which raises ``BudgetExhaustedError`` with the time the
budget frees instead of sleeping.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

from django.db import IntegrityError, transaction

from image_ranking.conf import conf
from image_ranking.exceptions import BudgetExhaustedError
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

    @property
    def rate_per_second(self) -> float:
        per_hour = (
            self._rate_per_hour if self._rate_per_hour is not None else conf.RATE_LIMIT_PER_HOUR
        )
        return float(per_hour) / 3600.0

    @property
    def burst(self) -> float:
        return float(max(1, self._burst if self._burst is not None else conf.RATE_LIMIT_BURST))

    def acquire(self, *, block: bool = True) -> float:
        """Take one request from the budget; returns the seconds waited for it.

        ``block=False`` (web requests): never sleep; if no request is allowed now, raise
        ``BudgetExhaustedError`` saying when one will be, and take nothing.
        """
        waited = 0.0
        while True:
            now, wait = self._try_take()
            if wait <= 0:
                return waited
            if not block:
                raise BudgetExhaustedError(
                    f"The shared Wikimedia request budget is spent for {wait:.0f} s more.",
                    retry_at=now + wait,
                    retry_after=wait,
                )
            logger.info("Waiting %.1f s for the request budget", wait)
            self.sleep(wait)
            waited += wait

    def defer(self, seconds: float) -> None:
        """No request (from any process) before ``seconds`` from now: a server said so.

        Capped at ``IMAGE_RANKING_MAX_BACKOFF``; a non-finite or negative value is ignored.
        """
        if not math.isfinite(seconds) or seconds <= 0:
            return
        seconds = min(seconds, max_backoff())
        with transaction.atomic():
            now = self.clock()
            bucket = self._locked_bucket(now)
            until = now + seconds
            if until > bucket.blocked_until:
                bucket.blocked_until = until
                bucket.save(update_fields=["blocked_until"])
        logger.info("Wikimedia asked us to wait: no requests for %.1f s", seconds)

    def _try_take(self) -> tuple[float, float]:
        """``(now, 0)`` after taking a token, else ``(now, seconds until one will be)``."""
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
        return now, wait

    def _locked_bucket(self, now: float) -> RateLimitBucket:
        """The bucket's row, locked for this transaction, created full or repaired."""
        bucket = RateLimitBucket.objects.select_for_update().filter(name=self.name).first()
        if bucket is not None:
            return _repaired(bucket, now)
        try:
            # A savepoint, so a concurrent creation does not break the outer transaction.
            with transaction.atomic():
                return RateLimitBucket.objects.create(
                    name=self.name, tokens=self.burst, updated_at=now
                )
        except IntegrityError:
            bucket = RateLimitBucket.objects.select_for_update().get(name=self.name)
            return _repaired(bucket, now)


def max_backoff() -> float:
    """``IMAGE_RANKING_MAX_BACKOFF`` in seconds (a nonsense setting falls back to 600)."""
    try:
        value = float(conf.MAX_BACKOFF)
    except (TypeError, ValueError):
        return 600.0
    return value if math.isfinite(value) and value >= 1 else 600.0


def _finite(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _repaired(bucket: RateLimitBucket, now: float) -> RateLimitBucket:
    """The bucket with impossible values replaced (saved at once, with a warning).

    Tokens negative or not a number become 0 (the budget refills from there; above the
    burst is normal, ``_try_take`` clamps it); a refill time not a number or further
    ahead than the cap becomes now; a block further ahead than the cap (or infinite/NaN)
    is shortened to the cap: the longest a server may make us wait.
    """
    cap = max_backoff()
    tokens, updated, blocked = (
        _finite(bucket.tokens),
        _finite(bucket.updated_at),
        _finite(bucket.blocked_until),
    )
    fixed = {
        "tokens": tokens if tokens is not None and tokens >= 0.0 else 0.0,
        "updated_at": updated if updated is not None and updated <= now + cap else now,
        "blocked_until": blocked if blocked is not None and blocked <= now + cap else now + cap,
    }
    changed = [name for name, value in fixed.items() if getattr(bucket, name) != value]
    if changed:
        logger.warning(
            "Repaired rate-limit bucket %r: %s",
            bucket.name,
            ", ".join(f"{name} {getattr(bucket, name)!r} -> {fixed[name]!r}" for name in changed),
        )
        for name in changed:
            setattr(bucket, name, fixed[name])
        bucket.save(update_fields=changed)
    return bucket
