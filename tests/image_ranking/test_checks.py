from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from image_ranking import get_poi_model
from image_ranking.checks import check_settings


def ids(settings_obj=None):
    return sorted(message.id for message in check_settings())


def test_project_settings_pass():
    assert ids() == []


def test_default_user_agent_warns(settings):
    del settings.IMAGE_RANKING_USER_AGENT
    assert ids() == ["image_ranking.W001"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("IMAGE_RANKING_RATE_LIMIT_PER_HOUR", "fast"),
        ("IMAGE_RANKING_CANDIDATE_LIMIT", 2.5),
        ("IMAGE_RANKING_DOWNLOAD_HOSTS", "upload.wikimedia.org"),
        ("IMAGE_RANKING_FALLBACK_ENABLED", "no"),
        ("IMAGE_RANKING_BATCH_SIZE", True),
    ],
)
def test_wrong_type_is_e001_naming_the_setting(settings, name, value):
    setattr(settings, name, value)
    messages = check_settings()
    assert [m.id for m in messages] == ["image_ranking.E001"]
    assert name in messages[0].msg


def test_out_of_range_is_e002(settings):
    settings.IMAGE_RANKING_RATE_LIMIT_PER_HOUR = 0
    assert ids() == ["image_ranking.E002"]


def test_unknown_poi_model_is_e003(settings):
    settings.IMAGE_RANKING_POI_MODEL = "cities.Nope"
    assert ids() == ["image_ranking.E003"]
    with pytest.raises(ImproperlyConfigured, match="cities.Nope"):
        get_poi_model()
    settings.IMAGE_RANKING_POI_MODEL = "not-a-model-path"
    with pytest.raises(ImproperlyConfigured, match="app_label.ModelName"):
        get_poi_model()


def test_bad_api_url_is_e004(settings):
    settings.IMAGE_RANKING_COMMONS_API_URL = "commons.wikimedia.org/w/api.php"
    assert ids() == ["image_ranking.E004"]


def test_empty_download_hosts_is_e005(settings):
    settings.IMAGE_RANKING_DOWNLOAD_HOSTS = []
    assert ids() == ["image_ranking.E005"]


def test_a_download_list_without_commons_thumbnail_host_is_w004(settings):
    # Written before 2025, when Commons served thumbnails from upload.wikimedia.org too.
    settings.IMAGE_RANKING_DOWNLOAD_HOSTS = ["upload.wikimedia.org"]
    messages = check_settings()
    assert [m.id for m in messages] == ["image_ranking.W004"]
    assert "thumb.wikimedia.org" in messages[0].msg
    settings.IMAGE_RANKING_COMMONS_API_URL = "http://127.0.0.1:8000/w/api.php"  # a replica
    assert check_settings() == []


def test_unknown_scorer_is_e006_listing_known_ones(settings):
    settings.IMAGE_RANKING_SCORER = "clip-large"
    messages = check_settings()
    assert [m.id for m in messages] == ["image_ranking.E006"]
    assert "laion-vit-b-32" in messages[0].hint


def test_learned_scorer_needs_a_head(settings):
    settings.IMAGE_RANKING_SCORER = "learned"
    settings.IMAGE_RANKING_LEARNED_HEAD = None
    assert ids() == ["image_ranking.E007"]


def test_unknown_precision_is_e008(settings):
    settings.IMAGE_RANKING_PRECISION = "fp16"
    messages = check_settings()
    assert [m.id for m in messages] == ["image_ranking.E008"]
    assert "fp32, int8" in messages[0].hint


def test_unknown_environment_variable_warns(settings):
    # config/settings.py lists them (config.env.unknown_names); the project's check warns.
    from config.checks import check_environment

    settings.UNKNOWN_ENV_SETTINGS = ["IMAGE_RANKING_RATE_LIMT"]
    messages = check_environment()
    assert [m.id for m in messages] == ["image_ranking.W002"]
    assert "IMAGE_RANKING_RATE_LIMT" in messages[0].msg


def test_dict_setting_is_type_checked(settings):
    settings.IMAGE_RANKING_POI_FIELDS = {"name": 3}
    assert "image_ranking.E001" in [m.id for m in check_settings()]


def test_manage_py_check_fails_on_errors(settings):
    settings.IMAGE_RANKING_SCORER = "clip-large"
    with pytest.raises(SystemCheckError, match="image_ranking.E006"):
        call_command("check")


def test_poi_field_that_does_not_resolve_is_e009(settings):
    settings.IMAGE_RANKING_POI_FIELDS = {"city_name": "town__label", "colour": "x"}
    messages = [m for m in check_settings() if m.id == "image_ranking.E009"]
    assert len(messages) == 2
    assert "town__label" in messages[0].msg or "town__label" in messages[1].msg


def test_poi_required_field_cannot_be_none(settings):
    settings.IMAGE_RANKING_POI_FIELDS = {"name": None}
    messages = [m for m in check_settings() if m.id == "image_ranking.E009"]
    assert ["'name' field is required" in m.msg for m in messages] == [True]


@pytest.mark.parametrize("value", [float("inf"), float("nan")])
def test_a_number_setting_must_be_finite(settings, value):
    settings.IMAGE_RANKING_RATE_LIMIT_PER_HOUR = value
    assert "image_ranking.E001" in [m.id for m in check_settings()]


def test_a_validation_model_without_the_report_fields_is_e010(settings):
    settings.IMAGE_RANKING_VALIDATION_MODEL = "cities.City"
    messages = [m for m in check_settings() if m.id == "image_ranking.E010"]
    assert messages and all(
        m.msg.startswith("IMAGE_RANKING_VALIDATION_MODEL: City") for m in messages
    )
    assert any("no field 'resolved'" in m.msg for m in messages)
    assert ids() == ["image_ranking.E010"] * len(messages)


def test_a_validation_poi_field_must_point_at_the_poi_model(settings):
    settings.IMAGE_RANKING_POI_MODEL = "cities.City"
    settings.IMAGE_RANKING_POI_FIELDS = {"name": "name", "city_name": None, "city": None}
    messages = [m for m in check_settings() if m.id == "image_ranking.E010"]
    assert [m.msg for m in messages] == [
        "IMAGE_RANKING_VALIDATION_MODEL: Validation.poi does not point at the POI model."
    ]


def test_checks_are_registered_under_the_apps_tag():
    from django.core import checks

    assert "image_ranking" in checks.registry.registry.tags_available()
    assert check_settings in checks.registry.registry.get_checks()
    call_command("check", tag=["image_ranking"])  # the project's settings pass
