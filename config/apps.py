from __future__ import annotations

from django.apps import AppConfig


class ProjectConfig(AppConfig):
    """The project itself, as an app: its system checks (environment variables)."""

    name = "config"
    verbose_name = "City guide project"

    def ready(self) -> None:
        from config import checks  # noqa: F401 (registers the checks)
