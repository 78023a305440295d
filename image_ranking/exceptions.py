"""Errors raised by image_ranking, each with a message that says what to do."""

from __future__ import annotations

from datetime import UTC, datetime


class ImageRankingError(Exception):
    """Base class for the app's errors.

    ``transient``: True when the same request may well succeed later (an outage, a
    thumbnail Commons has not rendered yet); False when trying again cannot help (a
    refused host, a file over the size cap, bytes that decoded to nothing usable). A
    candidate is only written off for good on a permanent error.
    """

    transient: bool = False


class CommonsError(ImageRankingError):
    """Wikimedia Commons or Wikidata could not be queried."""


class TransientCommonsError(CommonsError):
    """A failure worth retrying (network error, timeout, 5xx, 429, maxlag, a truncated
    body); the client retries it at once, a bounded number of times.

    ``retry_after``: seconds the server asked us to wait (parsed and capped), or None.
    """

    transient = True

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class CommonsUnreachableError(TransientCommonsError):
    """Wikimedia cannot be reached at all: its name does not resolve, or there is no
    network. Not retried (it will not resolve in a second either) and not a fault of one
    POI: a run stops at once as an outage (exit 75) and the next run resumes."""


class TruncatedDownloadError(TransientCommonsError):
    """The connection ended before the whole body arrived (fewer bytes than announced)."""


class DownloadUnavailableError(CommonsError):
    """A download was answered, but not with the file: HTTP 404/410, an HTML page instead
    of an image, an empty body. Not retried at once (the answer would be the same), but
    transient: Commons renders thumbnails on demand and its caches can be briefly wrong,
    so a later run tries again. ``status`` is the HTTP status, ``reason`` says what was
    wrong in a few words."""

    transient = True

    def __init__(self, message: str, *, status: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


class BudgetExhaustedError(TransientCommonsError):
    """The shared request budget is spent and the caller asked not to wait for it
    (``RateLimiter.acquire(block=False)``, ``CommonsClient(wait_for_budget=False)``).
    Nothing was sent. ``retry_at``: epoch seconds when a request will be allowed again
    (``retry_at_datetime`` gives it as an aware datetime, for messages)."""

    def __init__(self, message: str, *, retry_at: float, retry_after: float) -> None:
        super().__init__(message, retry_after=retry_after)
        self.retry_at = retry_at

    @property
    def retry_at_datetime(self) -> datetime:
        return datetime.fromtimestamp(self.retry_at, tz=UTC)


class DisallowedHostError(ImageRankingError):
    """A download URL was refused: not http(s), a host not in IMAGE_RANKING_DOWNLOAD_HOSTS,
    a name resolving to an internal address, or a URL the HTTP client could read
    differently from the check (userinfo, backslashes, control characters). Permanent."""


class HostNotAllowedError(DisallowedHostError):
    """A well-formed download URL on a host that IMAGE_RANKING_DOWNLOAD_HOSTS does not
    list: a configuration problem, not a fault of the file (Wikimedia moved thumbnails to
    thumb.wikimedia.org in 2025). A run stops with one message naming the host and the
    setting; no candidate is written off, so they are tried again once it is fixed."""

    def __init__(self, message: str, *, host: str) -> None:
        super().__init__(message)
        self.host = host


class DownloadTooLargeError(ImageRankingError):
    """A download exceeded IMAGE_RANKING_MAX_DOWNLOAD_BYTES."""


class ModelWeightsMissingError(ImageRankingError):
    """Model weights are not on disk and cannot be fetched."""


class UnknownScorerError(ImageRankingError):
    """IMAGE_RANKING_SCORER names no registered scorer."""


class ImageDecodeError(ImageRankingError):
    """Bytes that are not a usable image (empty, corrupt, unsupported, far too large)."""


class ImageStorageError(ImageRankingError):
    """The chosen image could not be processed or stored; the old image is kept."""
