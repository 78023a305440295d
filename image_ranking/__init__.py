"""image_ranking: give every point of interest its best photo from Wikimedia Commons.

The host's models are named by settings and resolved lazily (as wagtail does for its
image model), so this app never imports the host app.
"""

from __future__ import annotations

from django.apps import apps as django_apps
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Model


def _resolve(setting: str, value: str) -> type[Model]:
    try:
        return django_apps.get_model(value, require_ready=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"IMAGE_RANKING_{setting} must be of the form 'app_label.ModelName', got {value!r}."
        )
    except LookupError:
        raise ImproperlyConfigured(
            f"IMAGE_RANKING_{setting} refers to model {value!r}, which is not installed."
        )


def get_poi_model_string() -> str:
    from image_ranking.conf import conf

    return conf.POI_MODEL


def get_poi_model() -> type[Model]:
    """The host's point-of-interest model (``IMAGE_RANKING_POI_MODEL``)."""
    from image_ranking.conf import conf

    return _resolve("POI_MODEL", conf.POI_MODEL)


def get_validation_model() -> type[Model]:
    """The host's model for data problems a person should look at."""
    from image_ranking.conf import conf

    return _resolve("VALIDATION_MODEL", conf.VALIDATION_MODEL)
