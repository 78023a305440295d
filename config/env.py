"""The one parser for settings taken from the environment (this project, not the app).

Django's own settings (``DEBUG``, ``ALLOWED_HOSTS``...) and every ``IMAGE_RANKING_*``
setting go through the same rules: booleans are 1/true/yes/on or 0/false/no/off, lists are
comma-separated, dicts are comma-separated ``key=value`` pairs (an empty value means None).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off", ""})


def parse(kind: str, raw: str) -> Any:
    """Parse one environment variable's text as a value of ``kind``; ValueError if it can't."""
    raw = raw.strip()
    if kind == "str":
        return raw
    if kind == "path":
        return raw or None
    if kind == "int":
        return int(raw)
    if kind == "float":
        return float(raw)
    if kind == "bool":
        if raw.lower() in TRUE:
            return True
        if raw.lower() in FALSE:
            return False
        raise ValueError(f"expected true/false, got {raw!r}")
    if kind == "list":
        return [item.strip() for item in raw.split(",") if item.strip()]
    if kind == "dict":
        pairs = [item.split("=", 1) for item in raw.split(",") if item.strip()]
        if any(len(pair) != 2 for pair in pairs):
            raise ValueError(f"expected key=value pairs, got {raw!r}")
        return {key.strip(): (value.strip() or None) for key, value in pairs}
    raise ValueError(f"unknown kind {kind}")


def env(name: str, kind: str, default: Any, environ: Mapping[str, str] | None = None) -> Any:
    """``name`` from the environment parsed as ``kind``, or ``default`` when unset."""
    environ = os.environ if environ is None else environ
    if name not in environ:
        return default
    try:
        return parse(kind, environ[name])
    except ValueError as exc:
        # Name the variable: the traceback alone does not say which one is wrong.
        raise ValueError(f"environment variable {name}: {exc}") from None


def app_overrides(prefix: str, kinds: Mapping[str, str], environ: Mapping[str, str] | None = None):
    """``{prefix + NAME: value}`` for each of an app's settings set in the environment.

    ``kinds`` maps a setting's name (without prefix) to its kind. A value that does not
    parse is kept as the raw string, so the app's system checks report it by name
    instead of the project failing to import.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for name, kind in kinds.items():
        key = prefix + name
        if key not in environ:
            continue
        try:
            values[key] = parse(kind, environ[key])
        except ValueError:
            values[key] = environ[key]
    return values


def unknown_names(prefix: str, known: set[str], environ: Mapping[str, str] | None = None):
    """Environment variables with ``prefix`` that name no known setting (likely typos)."""
    environ = os.environ if environ is None else environ
    return sorted(k for k in environ if k.startswith(prefix) and k[len(prefix) :] not in known)
