"""Typed access to the ``IMAGE_RANKING_*`` settings.

Each setting is a typed descriptor on ``Settings``: ``conf.RATE_LIMIT_PER_HOUR`` reads
``settings.IMAGE_RANKING_RATE_LIMIT_PER_HOUR`` on every access (so tests and
``override_settings`` see changes at once), falling back to the default declared here, as
django-cors-headers does. The app reads Django settings only; a host project that wants
them from the environment parses them itself (this project: ``config/env.py``, by the
``kind`` declared here). ``checks.py`` validates every value.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar, overload

from django.conf import settings as django_settings

PREFIX = "IMAGE_RANKING_"

DEFAULT_USER_AGENT = (
    "image_ranking/0.1 (https://example.org/set-IMAGE_RANKING_USER_AGENT; ops@example.org)"
)

T = TypeVar("T")


@dataclass(frozen=True)
class Setting(Generic[T]):
    """One setting: its default, its kind (for checks and environment parsers) and bounds.

    ``kind`` is one of str, int, float, bool, list (of strings), path (str or None) and
    dict (str -> str or None).
    """

    default: T
    kind: str
    minimum: float | None = None
    doc: str = ""

    def __set_name__(self, owner: type, name: str) -> None:
        object.__setattr__(self, "name", name)

    @overload
    def __get__(self, obj: None, objtype: type | None = None) -> Setting[T]: ...
    @overload
    def __get__(self, obj: object, objtype: type | None = None) -> T: ...
    def __get__(self, obj: object | None, objtype: type | None = None) -> T | Setting[T]:
        if obj is None:
            return self
        return getattr(django_settings, PREFIX + self.name, self.default)  # type: ignore[attr-defined]

    @property
    def setting_name(self) -> str:
        return PREFIX + self.name  # type: ignore[attr-defined]


class Settings:
    """Attribute access to the app's settings, e.g. ``conf.RATE_LIMIT_PER_HOUR``."""

    # -- the host's models ---------------------------------------------------------------
    POI_MODEL: Setting[str] = Setting("cities.PointOfInterest", "str")
    VALIDATION_MODEL: Setting[str] = Setting("cities.Validation", "str")
    # Where the app reads a host POI's fields (see image_ranking/poi.py); merged over
    # poi.DEFAULT_FIELDS, a role set to None means the host has no such field.
    POI_FIELDS: Setting[dict[str, str | None]] = Setting({}, "dict")

    # -- Wikimedia -----------------------------------------------------------------------
    USER_AGENT: Setting[str] = Setting(DEFAULT_USER_AGENT, "str")
    COMMONS_API_URL: Setting[str] = Setting("https://commons.wikimedia.org/w/api.php", "str")
    WIKIDATA_API_URL: Setting[str] = Setting("https://www.wikidata.org/w/api.php", "str")
    # Originals and small files on upload.wikimedia.org; since 2025 Commons serves scaled
    # thumbnails (``thumburl``) from thumb.wikimedia.org. The review page's image policy
    # (CSP img-src) is built from the same list.
    DOWNLOAD_HOSTS: Setting[list[str]] = Setting(
        ["upload.wikimedia.org", "thumb.wikimedia.org"], "list"
    )
    REQUEST_TIMEOUT: Setting[float] = Setting(20.0, "float", minimum=0.1)
    MAX_DOWNLOAD_BYTES: Setting[int] = Setting(25 * 1024 * 1024, "int", minimum=1024)
    MAX_RETRIES: Setting[int] = Setting(4, "int", minimum=0)
    # Longest wait (seconds) a server's Retry-After or maxlag, or a retry's backoff, can
    # impose: a hostile or broken "Retry-After: 86400" must not stop every process for a day.
    MAX_BACKOFF: Setting[float] = Setting(600.0, "float", minimum=1)
    RATE_LIMIT_PER_HOUR: Setting[float] = Setting(500.0, "float", minimum=0.001)
    RATE_LIMIT_BURST: Setting[int] = Setting(5, "int", minimum=1)

    # -- candidates ----------------------------------------------------------------------
    CANDIDATE_LIMIT: Setting[int] = Setting(10, "int", minimum=1)
    # Width of the thumbnails a ranking run scores. At a standard Commons width >=
    # TARGET_WIDTH the winner is stored from the very bytes that were scored: no
    # separate winner download, and the full original is never fetched.
    RANKING_THUMBNAIL_WIDTH: Setting[int] = Setting(960, "int", minimum=20)
    # Score only the first K kept candidates in search order (Wikidata image first);
    # 0 scores them all. A landmark's page of 10 results keeps about 6 after the filters;
    # 5 saves about 10% of a first run's requests (bench/bench_request_budget.py).
    SCORE_TOP_K: Setting[int] = Setting(5, "int", minimum=0)
    # Keep scored thumbnails on disk (IMAGE_RANKING_CACHE_DIR/thumbnails), so that a new
    # head re-decides, and stores its winners, without a request (about 150 KB each).
    THUMBNAIL_CACHE: Setting[bool] = Setting(True, "bool")
    MIN_IMAGE_WIDTH: Setting[int] = Setting(640, "int", minimum=0)
    MAX_ASPECT_RATIO: Setting[float] = Setting(3.0, "float", minimum=1)
    CANDIDATE_CACHE_DAYS: Setting[int] = Setting(30, "int", minimum=0)

    # -- relevance (image_ranking/pipeline/relevance.py) --------------------------------
    # A geotag this close to the POI makes a file likely to show it.
    RELEVANCE_NEAR_METRES: Setting[float] = Setting(250.0, "float", minimum=0)
    # A geotag farther than this from the POI marks a namesake elsewhere.
    RELEVANCE_FAR_KM: Setting[float] = Setting(5.0, "float", minimum=0)
    # Score points a relevant Featured picture gains (Quality 0.6x, Valued 0.4x of it);
    # Commons' human review as a prior. Never given to files of unknown relevance.
    RELEVANCE_ASSESSMENT_WEIGHT: Setting[float] = Setting(0.5, "float", minimum=0)
    # With a CLIP scorer, its text tower also drops maps, plans, arms and logos
    # (pipeline/clip_check.py; one more image pass per scored batch).
    RELEVANCE_CLIP_CHECK: Setting[bool] = Setting(False, "bool")

    # -- stored images -------------------------------------------------------------------
    TARGET_WIDTH: Setting[int] = Setting(800, "int", minimum=1)
    TARGET_HEIGHT: Setting[int] = Setting(600, "int", minimum=1)
    FALLBACK_ENABLED: Setting[bool] = Setting(False, "bool")
    FALLBACK_DIR: Setting[str] = Setting("cities/images/fallbacks", "str")
    # Storage folder of the stored POI images: files in it that no row references and
    # older than ORPHAN_MIN_AGE seconds (longer than any run) are swept (cleanup_images).
    # FALLBACK_DIR is never swept; "" turns the sweep off.
    ORPHAN_SWEEP_DIR: Setting[str] = Setting("cities/images", "str")
    ORPHAN_MIN_AGE: Setting[int] = Setting(24 * 3600, "int", minimum=60)

    # -- scoring -------------------------------------------------------------------------
    # The quality prior ships with the app (nothing to download); the LAION scorers are one
    # setting away after ``manage.py download_models`` (README, "Scorers").
    SCORER: Setting[str] = Setting("quality", "str")
    SCORE_THRESHOLD: Setting[float] = Setting(5.0, "float")
    SCORE_BATCH_SIZE: Setting[int] = Setting(16, "int", minimum=1)
    TORCH_THREADS: Setting[int] = Setting(0, "int", minimum=0)
    DEVICE: Setting[str] = Setting("cpu", "str")
    # "fp32" (reference scores) or "int8": the CLIP backbone's linear layers dynamically
    # quantised, about 2x faster on a CPU for score differences of a few hundredths.
    PRECISION: Setting[str] = Setting("fp32", "str")
    WEIGHTS_DIR: Setting[str | None] = Setting(None, "path")
    CACHE_DIR: Setting[str | None] = Setting(None, "path")
    LEARNED_HEAD: Setting[str | None] = Setting(None, "path")

    # -- runs ----------------------------------------------------------------------------
    BATCH_SIZE: Setting[int] = Setting(50, "int", minimum=1)
    # How long a run's claim on a POI (and its heartbeat) lasts: concurrent runs skip
    # claimed POIs; a run silent for longer is taken for crashed and taken over.
    LEASE_SECONDS: Setting[int] = Setting(600, "int", minimum=10)

    @property
    def cache_dir(self) -> Path:
        """Folder for downloaded weights, trained heads and embedding caches."""
        configured = self.CACHE_DIR
        if configured:
            return Path(configured).expanduser()
        # The XDG convention, like Path.home() reading HOME: not an app setting.
        xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return Path(xdg) / "image_ranking"

    @property
    def user_agent_is_default(self) -> bool:
        return self.USER_AGENT == DEFAULT_USER_AGENT


def declared() -> Iterator[Setting[Any]]:
    """Every declared setting, in declaration order."""
    for value in vars(Settings).values():
        if isinstance(value, Setting):
            yield value


def declared_names() -> Mapping[str, Setting[Any]]:
    """``{"RATE_LIMIT_PER_HOUR": Setting(...)}`` for every declared setting."""
    return {setting.name: setting for setting in declared()}  # type: ignore[attr-defined]


conf = Settings()
