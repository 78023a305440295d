"""Failures worded for curators: what happened, that nothing changed, what to do.

The technical detail (URLs, exception text) goes to the log, never onto the page. The
page's own calls to Commons never sleep: no back-off between retries and no waiting for
the shared request budget (``wait_for_budget=False``): the curator retries instead.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.utils import timezone

from image_ranking import exceptions
from image_ranking.commons.clients import build_commons_client

logger = logging.getLogger("image_ranking.review")

NOTHING_CHANGED = "nothing was changed."


def interactive_client() -> Any:
    """A Commons client for a page request: it never sleeps (see the module docstring)."""
    # An exhausted budget raises BudgetExhaustedError (with retry_at) instead of sleeping.
    return build_commons_client(interactive=True)


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
    when = _retry_time(exc)
    if when or isinstance(exc, exceptions.BudgetExhaustedError):
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
