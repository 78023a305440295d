"""System checks for the IMAGE_RANKING_* settings (``manage.py check``)."""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from image_ranking.conf import PREFIX, Setting, conf, declared, declared_names

_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "list": (list, tuple),
    "path": (str, type(None)),
    "dict": (dict,),
}

PRECISIONS = ("fp32", "int8")


def _type_ok(setting: Setting[Any], value: Any) -> bool:
    kind = setting.kind
    ok = isinstance(value, _TYPES[kind]) and not (
        kind in {"int", "float"} and isinstance(value, bool)
    )
    if kind in {"int", "float"} and ok:
        ok = math.isfinite(value)  # inf or NaN would poison the limiter's arithmetic
    if kind == "path" and not ok:
        ok = hasattr(value, "__fspath__")
    if kind == "list" and ok:
        ok = all(isinstance(item, str) for item in value)
    if kind == "dict" and ok:
        ok = all(isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in value.items())
    return ok


def _setting_type_errors() -> tuple[list[checks.CheckMessage], set[str]]:
    errors: list[checks.CheckMessage] = []
    bad: set[str] = set()
    for setting in declared():
        name = setting.name  # type: ignore[attr-defined]
        value = getattr(conf, name)
        if not _type_ok(setting, value):
            bad.add(name)
            errors.append(
                checks.Error(
                    f"{PREFIX}{name} must be {_describe(setting.kind)}, got {value!r}.",
                    hint=f"Fix {PREFIX}{name} in your settings or environment.",
                    id="image_ranking.E001",
                )
            )
        elif setting.minimum is not None and value < setting.minimum:
            bad.add(name)
            errors.append(
                checks.Error(
                    f"{PREFIX}{name} must be at least {setting.minimum}, got {value!r}.",
                    id="image_ranking.E002",
                )
            )
    return errors, bad


def _describe(kind: str) -> str:
    return {
        "str": "a string",
        "int": "an integer",
        "float": "a number",
        "bool": "True or False",
        "list": "a list of strings (comma-separated in the environment)",
        "path": "a filesystem path or None",
        "dict": "a dict of strings (key=value pairs in the environment)",
    }[kind]


def _poi_field_errors() -> list[checks.CheckMessage]:
    from image_ranking import get_poi_model
    from image_ranking.poi import get_poi_adapter

    try:
        model = get_poi_model()
    except ImproperlyConfigured:
        return []  # reported as E003
    return [
        checks.Error(
            f"{PREFIX}POI_FIELDS: {problem}.",
            hint="Map each role to a field path of your POI model ('city__name'), or to None "
            "when the model has no such field (see image_ranking/poi.py).",
            id="image_ranking.E009",
        )
        for problem in get_poi_adapter().problems(model)
    ]


def _validation_field_errors() -> list[checks.CheckMessage]:
    from image_ranking import get_validation_model, validations

    try:
        model = get_validation_model()
    except ImproperlyConfigured:
        return []  # reported as E003
    return [
        checks.Error(
            f"{PREFIX}VALIDATION_MODEL: {problem}.",
            hint=f"The model needs the fields {', '.join(validations.FIELDS)}; poi a foreign "
            "key to the POI model (see image_ranking/validations.py).",
            id="image_ranking.E010",
        )
        for problem in validations.problems(model)
    ]


def _model_errors(bad: set[str]) -> list[checks.CheckMessage]:
    from image_ranking import get_poi_model, get_validation_model

    errors = []
    for name, resolve in (("POI_MODEL", get_poi_model), ("VALIDATION_MODEL", get_validation_model)):
        if name in bad:
            continue
        try:
            resolve()
        except ImproperlyConfigured as exc:
            errors.append(
                checks.Error(
                    str(exc),
                    hint="Name an installed model as 'app_label.ModelName'.",
                    id="image_ranking.E003",
                )
            )
    if "POI_FIELDS" not in bad and "POI_MODEL" not in bad:
        errors += _poi_field_errors()
    unresolved = any(e.id == "image_ranking.E003" for e in errors)
    if not {"POI_MODEL", "VALIDATION_MODEL"} & bad and not unresolved:
        errors += _validation_field_errors()
    return errors


def _wikimedia_errors(bad: set[str]) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    for name in ("COMMONS_API_URL", "WIKIDATA_API_URL"):
        if name in bad:
            continue
        url = urlsplit(getattr(conf, name))
        if url.scheme not in {"http", "https"} or not url.netloc:
            errors.append(
                checks.Error(
                    f"{PREFIX}{name} must be an http(s) URL, got {getattr(conf, name)!r}.",
                    id="image_ranking.E004",
                )
            )
    if "DOWNLOAD_HOSTS" not in bad and not conf.DOWNLOAD_HOSTS:
        errors.append(
            checks.Error(
                f"{PREFIX}DOWNLOAD_HOSTS is empty, so no image could ever be downloaded.",
                hint="List the hosts images come from, e.g. ['upload.wikimedia.org'].",
                id="image_ranking.E005",
            )
        )
    errors += _thumbnail_host_warning(bad)
    if "USER_AGENT" not in bad and conf.user_agent_is_default:
        errors.append(
            checks.Warning(
                f"{PREFIX}USER_AGENT is left at its default.",
                hint="Wikimedia throttles and then blocks (403) clients without a descriptive "
                "User-Agent: set it to your tool's name and a contact, e.g. "
                "'CityGuideImages/1.0 (https://guide.example; ops@guide.example)'.",
                id="image_ranking.W001",
            )
        )
    return errors


# Where Wikimedia Commons serves scaled thumbnails (``thumburl``) since 2025.
COMMONS_THUMBNAIL_HOST = "thumb.wikimedia.org"


def _thumbnail_host_warning(bad: set[str]) -> list[checks.CheckMessage]:
    """Real Commons, but a download list without its thumbnail host: every run would stop
    at its first download (lists written before 2025 name upload.wikimedia.org only)."""
    if bad & {"COMMONS_API_URL", "DOWNLOAD_HOSTS"} or not conf.DOWNLOAD_HOSTS:
        return []
    host = (urlsplit(conf.COMMONS_API_URL).hostname or "").lower()
    hosts = {h.strip().lower() for h in conf.DOWNLOAD_HOSTS}
    if not host.endswith("wikimedia.org") or COMMONS_THUMBNAIL_HOST in hosts:
        return []
    return [
        checks.Warning(
            f"{PREFIX}DOWNLOAD_HOSTS does not list {COMMONS_THUMBNAIL_HOST}, where Commons "
            "serves its thumbnails: a ranking run stops at its first download.",
            hint=f"Add {COMMONS_THUMBNAIL_HOST} to {PREFIX}DOWNLOAD_HOSTS (the default lists "
            "it); `manage.py check_commons` shows the hosts Commons uses today.",
            id="image_ranking.W004",
        )
    ]


def _scorer_errors(bad: set[str]) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    if "SCORER" not in bad:
        from image_ranking.scoring import available_scorers

        names = available_scorers()
        if conf.SCORER not in names:
            errors.append(
                checks.Error(
                    f"{PREFIX}SCORER is {conf.SCORER!r}, which is not a known scorer.",
                    hint=f"Use one of: {', '.join(sorted(names))}.",
                    id="image_ranking.E006",
                )
            )
        elif conf.SCORER == "learned" and not conf.LEARNED_HEAD:
            errors.append(
                checks.Error(
                    f"{PREFIX}SCORER is 'learned' but {PREFIX}LEARNED_HEAD is not set.",
                    hint="Train a head with 'manage.py train_ranker' and set "
                    f"{PREFIX}LEARNED_HEAD to the file it wrote.",
                    id="image_ranking.E007",
                )
            )
    if "PRECISION" not in bad and conf.PRECISION not in PRECISIONS:
        errors.append(
            checks.Error(
                f"{PREFIX}PRECISION is {conf.PRECISION!r}.",
                hint=f"Use one of: {', '.join(PRECISIONS)} (int8 is faster on a CPU).",
                id="image_ranking.E008",
            )
        )
    return errors


def _unknown_setting_warnings() -> list[checks.CheckMessage]:
    # A setting defined in settings.py with our prefix but unknown is likely a typo.
    known = declared_names()
    return [
        checks.Warning(
            f"Setting {name} matches no image_ranking setting and is ignored.",
            id="image_ranking.W003",
        )
        for name in dir(settings)
        if name.startswith(PREFIX) and name[len(PREFIX) :] not in known
    ]


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The settings and the host's models they name (registered in ``apps.py``)."""
    errors, bad = _setting_type_errors()
    return [
        *errors,
        *_model_errors(bad),
        *_wikimedia_errors(bad),
        *_scorer_errors(bad),
        *_unknown_setting_warnings(),
    ]
