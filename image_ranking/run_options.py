"""The options of a ranking run, declared once: ``RunOptions``.

Read by the runner (``runs.RankingRunner``), rendered as the command line of
``manage.py rank_poi_images`` and ``python -m workflow.city_import``
(``add_arguments``), and taken as one parameter by the Prefect flows (a dataclass:
Prefect shows its fields in the deployment's parameter form). Each field's help text
lives in its metadata, beside its default.

Django-free (a flow run validates its parameters before Django is set up): a field
left None takes the setting its help names, read by the runner.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from image_ranking.exceptions import ImageRankingError


class RunError(ImageRankingError):
    """Bad options, an unknown city, a missing model: the run cannot (go on) rank(ing)."""


def _option(default: Any, help: str, *, kind: type | None = None, metavar: str = "") -> Any:
    return field(default=default, metadata={"help": help, "kind": kind, "metavar": metavar})


@dataclass(frozen=True)
class RunOptions:
    """What a run ranks and how (None: the setting named in the help). Bad values raise
    ``RunError`` when made."""

    missing_only: bool = _option(
        True,
        "Only POIs without an image, or with a category fallback image (the default); "
        "--all re-ranks every selected POI: an unchanged best image is not downloaded "
        "again, and an image a curator chose is kept.",
    )
    city: str | None = _option(None, "Only POIs of this city.", kind=str, metavar="SLUG")
    limit: int | None = _option(None, "Rank at most N POIs.", kind=int, metavar="N")
    batch_size: int | None = _option(
        None,
        "POIs per batch: one Wikidata look-up and one progress line per batch "
        "(default IMAGE_RANKING_BATCH_SIZE).",
        kind=int,
        metavar="N",
    )
    threshold: float | None = _option(
        None,
        "Lowest aesthetic score (0-10) an image needs (default IMAGE_RANKING_SCORE_THRESHOLD).",
        kind=float,
        metavar="X",
    )
    dry_run: bool = _option(
        False, "Fetch and score candidates and report what would change; change nothing."
    )
    fallback: bool | None = _option(
        None,
        "Use the category fallback image (from IMAGE_RANKING_FALLBACK_DIR in media storage) "
        "when no suitable photo is found (default IMAGE_RANKING_FALLBACK_ENABLED).",
    )
    refresh: bool = _option(
        False,
        "Search Commons again even where cached candidates are still fresh "
        "(IMAGE_RANKING_CANDIDATE_CACHE_DAYS).",
    )
    restart: bool = _option(
        False, "Do not resume an interrupted run with the same options; start from the top."
    )

    def __post_init__(self) -> None:
        if self.limit is not None and self.limit < 1:
            raise RunError(f"--limit must be a positive number of POIs, got {self.limit}.")
        if self.batch_size is not None and self.batch_size < 1:
            raise RunError(f"--batch-size must be at least 1, got {self.batch_size}.")
        if self.threshold is not None and not 0.0 <= self.threshold <= 10.0:
            raise RunError(
                f"--threshold must be between 0 and 10 (the score scale), got {self.threshold}."
            )
        if self.city is not None:
            object.__setattr__(self, "city", str(self.city).strip())
            if not self.city:
                raise RunError("--city needs a city slug, e.g. --city paris.")

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> RunOptions:
        """Options as ``call_command`` or ``add_arguments``' parser give them (``all``,
        ``limit``...); unknown names are ignored. RunError if bad."""
        if options.get("missing_only") and options.get("all"):
            raise RunError("Use either --missing-only or --all, not both.")
        values: dict[str, Any] = {"missing_only": not options.get("all")}
        for spec in fields(cls):
            value = options.get(spec.name)
            if spec.name == "missing_only" or value is None:
                continue
            kind = spec.metadata["kind"]
            values[spec.name] = _number(value, kind, _flag(spec.name)) if kind else bool(value)
        return cls(**values)

    def as_command_options(self) -> dict[str, Any]:
        """These options as ``call_command("rank_poi_images", **...)`` takes them."""
        values = {spec.name: getattr(self, spec.name) for spec in fields(self)}
        values["all"] = not values.pop("missing_only")
        return {name: value for name, value in values.items() if value is not None}

    @property
    def selection(self) -> dict[str, Any]:
        """The options that decide which POIs a run covers (a resumed run has the same)."""
        return {
            "mode": "missing-only" if self.missing_only else "all",
            "city": self.city,
            "threshold": self.threshold,
            "fallback": self.fallback,
        }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``RunOptions`` as command-line options (``--all``, ``--city SLUG``, ``--no-fallback``...)."""
    for spec in fields(RunOptions):
        help_text, kind = spec.metadata["help"], spec.metadata["kind"]
        if spec.name == "missing_only":
            mode = parser.add_mutually_exclusive_group()
            first, _, rest = help_text.partition("; --all ")
            mode.add_argument("--missing-only", action="store_true", help=first + ".")
            mode.add_argument("--all", action="store_true", help=rest[0].upper() + rest[1:])
        elif kind is not None:
            parser.add_argument(
                _flag(spec.name), type=kind, metavar=spec.metadata["metavar"], help=help_text
            )
        elif spec.default is None:  # on, off, or the setting's default
            parser.add_argument(
                _flag(spec.name),
                action=argparse.BooleanOptionalAction,
                default=None,
                help=help_text,
            )
        else:
            parser.add_argument(_flag(spec.name), action="store_true", help=help_text)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _number(value: Any, kind: type, option: str) -> Any:
    if kind is str:
        return str(value)
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise RunError(f"{option} must be a number, got {value!r}.")
