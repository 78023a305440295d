from __future__ import annotations

from django.apps import AppConfig


class ImageRankingConfig(AppConfig):
    name = "image_ranking"
    verbose_name = "Image ranking"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core import checks

        from image_ranking.checks import check_settings

        # "manage.py check --tag image_ranking" runs these alone; they read the host's models.
        checks.register(check_settings, "image_ranking", checks.Tags.models)
