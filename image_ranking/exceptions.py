"""Errors raised by image_ranking, each with a message that says what to do."""

from __future__ import annotations


class ImageRankingError(Exception):
    """Base class for the app's errors."""


class CommonsError(ImageRankingError):
    """Wikimedia Commons or Wikidata could not be queried."""


class TransientCommonsError(CommonsError):
    """A failure worth retrying (network error, 5xx, 429, maxlag)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DisallowedHostError(ImageRankingError):
    """A download URL points to a host that is not in IMAGE_RANKING_DOWNLOAD_HOSTS."""


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
