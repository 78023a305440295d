"""Settings of a host project whose POI model is ``hostapp.Place`` (other field names)."""

from config.settings import *  # noqa: F403

INSTALLED_APPS = [app for app in INSTALLED_APPS if app != "cities"] + ["tests.hostapp"]  # noqa: F405
IMAGE_RANKING_POI_MODEL = "hostapp.Place"
IMAGE_RANKING_VALIDATION_MODEL = "hostapp.Issue"
IMAGE_RANKING_POI_FIELDS = {
    "name": "title",
    "image": "photo",
    "wikidata_id": "qid",
    "city": "town",
    "city_name": "town__label",
    "city_slug": "town__code",
    "latitude": None,
    "longitude": None,
    "lists": None,
    "category": None,
}
