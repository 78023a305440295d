"""The project's own system checks: settings taken from the environment."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks


@checks.register()
def check_environment(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    return [
        checks.Warning(
            f"Environment variable {name} matches no image_ranking setting and is ignored.",
            hint="See the README's configuration table for the known IMAGE_RANKING_* names.",
            id="image_ranking.W002",
        )
        for name in getattr(settings, "UNKNOWN_ENV_SETTINGS", [])
    ]
