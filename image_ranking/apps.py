from __future__ import annotations

from django.apps import AppConfig


class ImageRankingConfig(AppConfig):
    name = "image_ranking"
    verbose_name = "Image ranking"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from image_ranking import checks  # noqa: F401  (registers the system checks)
