"""Failures worded for curators: what happened, that nothing changed, what to do.

The technical detail (URLs, exception text) goes to the log, never onto the page. The
page's own calls to Commons never wait long: retries share a small time allowance and,
when the client supports it, the shared request budget is not waited for either.
"""

from __future__ import annotations

import datetime as dt
import inspect
import logging
from typing import Any

from django.utils import timezone

from image_ranking import exceptions
from image_ranking.conf import conf

logger = logging.getLogger("image_ranking.review")

# Seconds of retry back-off one page request may spend in total (the batch run waits longer).
RETRY_ALLOWANCE = 2.0
NOTHING_CHANGED = "nothing was changed."


class BoundedSleep:
    """A client ``sleep`` that gives up (a transient error) once the allowance is spent."""

    def __init__(self, allowance: float = RETRY_ALLOWANCE, sleep: Any = None) -> None:
        import time

        self.left = allowance
        self._sleep = sleep or time.sleep

    def __call__(self, seconds: float) -> None:
        if seconds > self.left:
            raise exceptions.TransientCommonsError("gave up waiting for Commons (page request)")
        self.left -= seconds
        self._sleep(seconds)


def interactive_client() -> Any:
    """A Commons client for a page request: bounded retries, never waits for the budget."""
    from image_ranking.services import wikimedia

    kwargs: dict[str, Any] = {
        "thumb_width": conf.RANKING_THUMBNAIL_WIDTH,
        "sleep": BoundedSleep(),
    }
    # The non-blocking budget mode (BudgetExhausted) comes with the `net` branch.
    if "wait_for_budget" in inspect.signature(wikimedia.CommonsClient).parameters:
        kwargs["wait_for_budget"] = False
    return wikimedia.CommonsClient(**kwargs)


def _retry_time(exc: BaseException) -> str:
    retry_at = getattr(exc, "retry_at", None)
    if retry_at is None:
        return ""
    if isinstance(retry_at, int | float):
        retry_at = dt.datetime.fromtimestamp(retry_at, tz=dt.UTC)
    if isinstance(retry_at, dt.datetime):
        return timezone.localtime(retry_at).strftime("%H:%M")
    return str(retry_at)


def curator_message(exc: BaseException, action: str) -> str:
    """One sentence for the page; ``action`` is what was tried ("Fetching alternatives")."""
    budget_exhausted = getattr(exceptions, "BudgetExhausted", ())
    when = _retry_time(exc)
    if when or (budget_exhausted and isinstance(exc, budget_exhausted)):
        later = f" until {when}" if when else " for now"
        return (
            f"The Commons request budget is used up{later}; {NOTHING_CHANGED} "
            "Retry after that, or let the nightly run do it."
        )
    if isinstance(exc, exceptions.ModelWeightsMissingError | exceptions.UnknownScorerError):
        # Actionable by whoever runs the site, and says which command fixes it.
        return f"{action} needs the scoring model: {exc} ({NOTHING_CHANGED[:-1]})"
    if isinstance(exc, exceptions.ImageStorageError):
        return f"The image could not be stored: {exc} The current image is unchanged."
    if isinstance(exc, exceptions.CommonsError):
        return f"Commons did not answer; {NOTHING_CHANGED} Retry in a moment."
    if isinstance(exc, exceptions.DisallowedHostError | exceptions.DownloadTooLargeError):
        return f"Commons offered a file that cannot be downloaded; {NOTHING_CHANGED}"
    return f"{action} failed; {NOTHING_CHANGED} Retry in a moment."


def report(exc: BaseException, action: str, poi: Any) -> str:
    """Log the detail, return the curator's sentence."""
    logger.warning("%s for POI %s failed: %s", action, getattr(poi, "pk", poi), exc)
    return curator_message(exc, action)
