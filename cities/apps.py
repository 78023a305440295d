from __future__ import annotations

from django.apps import AppConfig


class CitiesConfig(AppConfig):
    name = "cities"
    verbose_name = "City guide"
    default_auto_field = "django.db.models.BigAutoField"
