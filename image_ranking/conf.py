"""Typed access to the ``IMAGE_RANKING_*`` settings.

Each value is read from ``django.conf.settings`` on every access (so tests and
``override_settings`` see changes at once), falling back to the default below.
``checks.py`` validates them; ``env_overrides`` lets a project take any of them
from an environment variable of the same name.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from django.conf import settings as django_settings

DEFAULT_USER_AGENT = (
    "image_ranking/0.1 (https://example.org/set-IMAGE_RANKING_USER_AGENT; ops@example.org)"
)

# name (without prefix) -> (type, default). The type drives parsing of environment
# variables and the system checks; "list" means a comma-separated list of strings.
DEFAULTS: dict[str, tuple[str, Any]] = {
    "POI_MODEL": ("str", "cities.PointOfInterest"),
    "VALIDATION_MODEL": ("str", "cities.Validation"),
    # Lookups on the POI model the app relies on (kept as settings so a host with
    # other names can plug in without code changes).
    "POI_LISTS_LOOKUP": ("str", "lists"),
    "POI_CITY_SLUG_LOOKUP": ("str", "city__slug"),
    "USER_AGENT": ("str", DEFAULT_USER_AGENT),
    "COMMONS_API_URL": ("str", "https://commons.wikimedia.org/w/api.php"),
    "WIKIDATA_API_URL": ("str", "https://www.wikidata.org/w/api.php"),
    "DOWNLOAD_HOSTS": ("list", ["upload.wikimedia.org"]),
    "REQUEST_TIMEOUT": ("float", 20.0),
    "MAX_DOWNLOAD_BYTES": ("int", 25 * 1024 * 1024),
    "MAX_RETRIES": ("int", 4),
    "RATE_LIMIT_PER_HOUR": ("float", 500.0),
    "RATE_LIMIT_BURST": ("int", 5),
    "CANDIDATE_LIMIT": ("int", 10),
    "THUMBNAIL_WIDTH": ("int", 330),
    # Width of the thumbnails a ranking run scores. At a standard Commons width >=
    # TARGET_WIDTH the winner is stored from the very bytes that were scored: no
    # separate winner download, and the full original is never fetched.
    "RANKING_THUMBNAIL_WIDTH": ("int", 960),
    # Score only the first K kept candidates in search order (Wikidata image first);
    # 0 scores them all. A landmark's page of 10 results keeps about 6 after the filters;
    # 5 saves about 10% of a first run's requests (bench/bench_request_budget.py).
    "SCORE_TOP_K": ("int", 5),
    "MIN_IMAGE_WIDTH": ("int", 640),
    "MAX_ASPECT_RATIO": ("float", 3.0),
    "CANDIDATE_CACHE_DAYS": ("int", 30),
    "TARGET_WIDTH": ("int", 800),
    "TARGET_HEIGHT": ("int", 600),
    "SCORER": ("str", "laion-vit-l-14"),
    "SCORE_THRESHOLD": ("float", 5.0),
    "SCORE_BATCH_SIZE": ("int", 16),
    "TORCH_THREADS": ("int", 0),
    "DEVICE": ("str", "cpu"),
    # "fp32" (reference scores) or "int8": the CLIP backbone's linear layers dynamically
    # quantised, about 2x faster on a CPU for score differences of a few hundredths.
    "PRECISION": ("str", "fp32"),
    "WEIGHTS_DIR": ("path", None),
    "CACHE_DIR": ("path", None),
    "LEARNED_HEAD": ("path", None),
    "FALLBACK_ENABLED": ("bool", False),
    "FALLBACK_DIR": ("str", "cities/images/fallbacks"),
    "BATCH_SIZE": ("int", 50),
}

PREFIX = "IMAGE_RANKING_"


class Settings:
    """Attribute access to the app's settings, e.g. ``conf.RATE_LIMIT_PER_HOUR``."""

    def __getattr__(self, name: str) -> Any:
        try:
            _kind, default = DEFAULTS[name]
        except KeyError:
            raise AttributeError(f"No setting IMAGE_RANKING_{name}") from None
        return getattr(django_settings, PREFIX + name, default)

    @property
    def cache_dir(self) -> Path:
        """Folder for downloaded weights, trained heads and embedding caches."""
        configured = getattr(django_settings, PREFIX + "CACHE_DIR", None)
        if configured:
            return Path(configured).expanduser()
        xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return Path(xdg) / "image_ranking"

    @property
    def user_agent_is_default(self) -> bool:
        return self.USER_AGENT == DEFAULT_USER_AGENT


conf = Settings()


def parse_value(kind: str, raw: str) -> Any:
    """Parse one environment variable's text as a setting of the given kind."""
    raw = raw.strip()
    if kind == "str":
        return raw
    if kind == "path":
        return raw or None
    if kind == "int":
        return int(raw)
    if kind == "float":
        return float(raw)
    if kind == "bool":
        lowered = raw.lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off", ""}:
            return False
        raise ValueError(f"expected true/false, got {raw!r}")
    if kind == "list":
        return [item.strip() for item in raw.split(",") if item.strip()]
    raise ValueError(f"unknown kind {kind}")


def env_overrides(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Return ``{"IMAGE_RANKING_X": value}`` for each known variable set in the environment.

    A value that does not parse is kept as the raw string so that the system checks
    report it with the setting's name instead of the project failing to import.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for name, (kind, _default) in DEFAULTS.items():
        key = PREFIX + name
        if key not in environ:
            continue
        try:
            values[key] = parse_value(kind, environ[key])
        except ValueError:
            values[key] = environ[key]
    return values


def unknown_env_names(environ: Mapping[str, str] | None = None) -> list[str]:
    """Environment variables with the prefix that match no setting (likely typos)."""
    environ = os.environ if environ is None else environ
    known = {PREFIX + name for name in DEFAULTS}
    return sorted(k for k in environ if k.startswith(PREFIX) and k not in known)
