from __future__ import annotations

from pathlib import Path

import pytest

from config.env import app_overrides, parse, unknown_names
from image_ranking.conf import DEFAULT_USER_AGENT, PREFIX, Setting, conf, declared_names

KINDS = {name: s.kind for name, s in declared_names().items()}


def env_overrides(environ):
    return app_overrides(PREFIX, KINDS, environ)


def unknown_env_names(environ):
    return unknown_names(PREFIX, set(KINDS), environ)


def test_defaults_are_read_when_unset(settings):
    del settings.IMAGE_RANKING_USER_AGENT
    assert conf.RATE_LIMIT_PER_HOUR == 500
    assert conf.USER_AGENT == DEFAULT_USER_AGENT
    assert conf.user_agent_is_default


def test_settings_are_read_on_each_access(settings):
    settings.IMAGE_RANKING_RATE_LIMIT_PER_HOUR = 60
    assert conf.RATE_LIMIT_PER_HOUR == 60
    settings.IMAGE_RANKING_RATE_LIMIT_PER_HOUR = 120
    assert conf.RATE_LIMIT_PER_HOUR == 120


def test_unknown_setting_is_an_attribute_error():
    with pytest.raises(AttributeError, match="NOPE"):
        _ = conf.NOPE


def test_settings_declare_their_type():
    assert isinstance(type(conf).__dict__["RATE_LIMIT_PER_HOUR"], Setting)
    assert declared_names()["RATE_LIMIT_PER_HOUR"].kind == "float"
    assert (
        declared_names()["RATE_LIMIT_PER_HOUR"].setting_name == "IMAGE_RANKING_RATE_LIMIT_PER_HOUR"
    )


def test_env_dict_parses_pairs():
    assert parse("dict", "name=title, city_name=") == {"name": "title", "city_name": None}
    with pytest.raises(ValueError):
        parse("dict", "name")


def test_env_overrides_parse_by_type():
    values = env_overrides(
        {
            "IMAGE_RANKING_RATE_LIMIT_PER_HOUR": "250.5",
            "IMAGE_RANKING_CANDIDATE_LIMIT": "7",
            "IMAGE_RANKING_DOWNLOAD_HOSTS": "upload.wikimedia.org, 127.0.0.1,",
            "IMAGE_RANKING_FALLBACK_ENABLED": "yes",
            "IMAGE_RANKING_WEIGHTS_DIR": "/srv/weights",
            "UNRELATED": "x",
        }
    )
    assert values == {
        "IMAGE_RANKING_RATE_LIMIT_PER_HOUR": 250.5,
        "IMAGE_RANKING_CANDIDATE_LIMIT": 7,
        "IMAGE_RANKING_DOWNLOAD_HOSTS": ["upload.wikimedia.org", "127.0.0.1"],
        "IMAGE_RANKING_FALLBACK_ENABLED": True,
        "IMAGE_RANKING_WEIGHTS_DIR": "/srv/weights",
    }


def test_env_value_that_does_not_parse_is_kept_raw_for_the_checks():
    assert env_overrides({"IMAGE_RANKING_CANDIDATE_LIMIT": "ten"}) == {
        "IMAGE_RANKING_CANDIDATE_LIMIT": "ten"
    }


def test_unknown_env_names():
    env = {"IMAGE_RANKING_RATE_LIMT_PER_HOUR": "1", "IMAGE_RANKING_SCORER": "x"}
    assert unknown_env_names(env) == ["IMAGE_RANKING_RATE_LIMT_PER_HOUR"]


def test_cache_dir(settings, tmp_path, monkeypatch):
    settings.IMAGE_RANKING_CACHE_DIR = str(tmp_path / "c")
    assert conf.cache_dir == tmp_path / "c"
    settings.IMAGE_RANKING_CACHE_DIR = None
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert conf.cache_dir == Path(tmp_path / "xdg" / "image_ranking")
