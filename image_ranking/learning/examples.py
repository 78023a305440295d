"""Where the learned ranker's training examples come from: a labelled CSV or the database.

From the database (the review page), three kinds of signal:
- good/bad labels (``ImageTrainingData``; the newest label of an image wins);
- preferences between images of the same POI: each image labelled good beats each image of
  that POI labelled bad (so "bad current image, good alternatives" is a preference);
- "use this image" (``SelectedImage`` chosen by a curator): the chosen candidate beats the
  other candidates shown for that POI (the best-scored unfiltered ones, as the page lists).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from image_ranking.learning.fitting import LABELS, TrainingError
from image_ranking.scoring.heads import Target

# A curator choosing an image compared it with the alternatives on screen, not with all
# candidates ever found: take that many of the best-scored others as the losers.
SHOWN_ALTERNATIVES = 8


@dataclass
class Example:
    name: str  # file name or URL, for messages
    target: Any  # "good"/"bad", a float, or None (known only through preferences)
    data: bytes | None = None
    url: str | None = None  # database rows: the URL (embeddings are remembered by URL)
    group: Any = None  # the POI, so cross-validation keeps its preferences together
    problem: str = ""


@dataclass
class TrainingSet:
    examples: list[Example]
    target: Target
    source: str
    # (winner, loser) indices into ``examples``.
    pairs: list[tuple[int, int]] = field(default_factory=list)

    @property
    def labelled(self) -> list[Example]:
        return [e for e in self.examples if e.target is not None]


# ---------------------------------------------------------------------------- CSV


def read_csv(csv_path: Path, images: Path, score_column: str | None = None) -> TrainingSet:
    """Examples from a CSV with a 'file' column and 'label' (good/bad) or ``score_column``."""
    if not images.is_dir():
        raise TrainingError(f"--images {images} is not a folder.")
    columns, rows = _csv_rows(csv_path)
    column = score_column or "label"
    missing = [c for c in ("file", column) if c not in columns]
    if missing:
        hint = "" if score_column else " (or name a numeric column with --score-column)"
        raise TrainingError(
            f"{csv_path} has no column {' or '.join(repr(m) for m in missing)}{hint}; "
            f"its columns are: {', '.join(columns) or 'none'}."
        )
    examples = []
    root = images.resolve()
    for line, row in enumerate(rows, start=2):
        name = (row.get("file") or "").strip()
        if not name:
            raise TrainingError(f"{csv_path} line {line}: empty 'file'.")
        value = _csv_value(csv_path, line, (row.get(column) or "").strip(), score_column)
        example = Example(name=name, target=value)
        path = (images / name).resolve()
        if not path.is_relative_to(root):
            example.problem = "outside the --images folder"
        else:
            try:
                example.data = path.read_bytes()
            except OSError as exc:
                example.problem = f"cannot read file ({exc.strerror or exc})"
        examples.append(example)
    target: Target = "score" if score_column else "label"
    return TrainingSet(examples, target, f"csv:{csv_path.name}")


def _csv_rows(csv_path: Path) -> tuple[list[str], list[dict[str, str]]]:
    try:
        with csv_path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            return list(reader.fieldnames or []), list(reader)
    except FileNotFoundError:
        raise TrainingError(f"CSV file {csv_path} does not exist.")
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise TrainingError(f"Cannot read CSV file {csv_path}: {exc}")


def _csv_value(csv_path: Path, line: int, raw: str, score_column: str | None) -> Any:
    if score_column:
        try:
            return float(raw)
        except ValueError:
            raise TrainingError(f"{csv_path} line {line}: {score_column}={raw!r} is not a number.")
    value = raw.lower()
    if value not in LABELS:
        raise TrainingError(f"{csv_path} line {line}: label {raw!r} is not 'good' or 'bad'.")
    return value


# ----------------------------------------------------------------------- database


class _Collector:
    """Examples keyed by image URL, so an image labelled and also shown is one example."""

    def __init__(self) -> None:
        self.examples: list[Example] = []
        self.index: dict[str, int] = {}
        self.pairs: set[tuple[int, int]] = set()

    def add(self, image_url: str, fetch_url: str, group: Any, target: Any = None) -> int:
        if image_url not in self.index:
            self.index[image_url] = len(self.examples)
            self.examples.append(Example(name=fetch_url, target=target, url=fetch_url, group=group))
        return self.index[image_url]


def read_database() -> TrainingSet:
    """Curators' labels and preferences from the review page (see the module docstring)."""
    from image_ranking.models import ImageTrainingData

    collected = _Collector()
    by_poi: dict[Any, dict[str, list[int]]] = {}
    # Newest label first: when curators changed their mind, the latest label wins.
    for row in ImageTrainingData.objects.order_by("-created_at", "-id").iterator():
        if row.image_url in collected.index:
            continue
        url = row.thumbnail_url or row.image_url
        index = collected.add(row.image_url, url, row.poi_id, row.image_label)
        by_poi.setdefault(row.poi_id, {}).setdefault(row.image_label, []).append(index)
    for labels in by_poi.values():
        for winner in labels.get("good", []):
            for loser in labels.get("bad", []):
                collected.pairs.add((winner, loser))
    _curator_choices(collected)
    return TrainingSet(collected.examples, "label", "database", sorted(collected.pairs))


def _curator_choices(collected: _Collector) -> None:
    from django.db.models import F

    from image_ranking.models import ImageCandidate, SelectedImage

    chosen = SelectedImage.objects.filter(
        chosen_by=SelectedImage.ChosenBy.CURATOR, candidate__isnull=False
    ).select_related("candidate")
    for selected in chosen.iterator():
        winner = selected.candidate
        others = (
            ImageCandidate.objects.filter(poi_id=selected.poi_id, drop="")
            .exclude(pk=winner.pk)
            .order_by(F("score").desc(nulls_last=True), "search_rank", "id")[:SHOWN_ALTERNATIVES]
        )
        losers = list(others)
        if not losers:
            continue
        w = collected.add(winner.image_url, winner.thumbnail_url or winner.image_url, winner.poi_id)
        for loser in losers:
            index = collected.add(
                loser.image_url, loser.thumbnail_url or loser.image_url, loser.poi_id
            )
            collected.pairs.add((w, index))
