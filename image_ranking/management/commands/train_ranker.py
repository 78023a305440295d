"""Train the learned ranker's head from curators' labels (or an external labelled set).

    manage.py train_ranker                                  # from ImageTrainingData rows
    manage.py train_ranker --from-csv labels.csv --images photos/ --score-column mos
    manage.py train_ranker --backbone laion-vit-b-32 --output /srv/heads/clip.json

Writes one JSON head file (temp file + os.replace: an old head is only replaced by a
complete new one) and prints the cross-validated metrics it recorded.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from django.core.management.base import BaseCommand, CommandError, CommandParser

from image_ranking.conf import conf
from image_ranking.exceptions import ImageRankingError
from image_ranking.services import embeddings as emb
from image_ranking.services import training

MAX_LISTED = 10


def make_fetcher() -> Callable[[str], bytes]:
    """Download function for labelled images: one Commons client for the whole run, so its
    allowed-host check, size limit and request budget apply (tests inject a fake here)."""
    from image_ranking.services.wikimedia import CommonsClient

    client = CommonsClient()
    return lambda url: client.download_image(url, max_bytes=conf.MAX_DOWNLOAD_BYTES)


@dataclass
class Example:
    name: str  # file name or URL, for messages
    target: Any  # "good"/"bad" or a float
    data: bytes | None = None
    url: str | None = None  # database rows: the URL (embeddings are remembered by URL)
    problem: str = ""


def default_output(backbone: str) -> Path:
    return conf.cache_dir / "heads" / f"learned-{backbone}.json"


class Command(BaseCommand):
    help = (
        "Train the 'learned' scorer: fit a small head on backbone embeddings of labelled "
        "images (curators' good/bad labels, or --from-csv) and save it as one JSON file."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--backbone",
            default=emb.DEFAULT_BACKBONE,
            choices=emb.available_backbones(),
            help="Image encoder (default: %(default)s, which works offline).",
        )
        parser.add_argument(
            "--output",
            help="Head file to write (default: <IMAGE_RANKING_CACHE_DIR>/heads/"
            "learned-<backbone>.json).",
        )
        parser.add_argument(
            "--from-csv",
            dest="csv_file",
            metavar="FILE",
            help="Train from a CSV with a 'file' column and a 'label' (good/bad) column, "
            "or the numeric column named by --score-column, instead of the database.",
        )
        parser.add_argument("--images", metavar="DIR", help="Folder the CSV's files are in.")
        parser.add_argument(
            "--score-column",
            metavar="COL",
            help="Numeric CSV column to learn (ridge regression) instead of 'label'.",
        )
        parser.add_argument(
            "--score-range",
            nargs=2,
            type=float,
            metavar=("LOW", "HIGH"),
            help="Scores mapped to 0 and 10 (default: the lowest and highest training score).",
        )
        parser.add_argument("--folds", type=int, default=5, help="Cross-validation folds.")
        parser.add_argument(
            "--min-labels",
            type=int,
            default=20,
            help="Refuse to train on fewer labelled images (default: %(default)s).",
        )
        parser.add_argument(
            "--skip-unreadable",
            action="store_true",
            help="Train without images that cannot be read or downloaded instead of stopping.",
        )
        parser.add_argument("--batch-size", type=int, default=16, help="Images per encoder batch.")

    def handle(self, *args: Any, **options: Any) -> None:
        self.verbosity = options["verbosity"]
        backbone_name: str = options["backbone"]
        if options["folds"] < 2:
            raise CommandError("--folds must be at least 2.")
        if options["min_labels"] < 4:
            raise CommandError("--min-labels must be at least 4.")
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        if options["images"] and not options["csv_file"]:
            raise CommandError("--images only goes with --from-csv FILE.")
        if options["score_column"] and not options["csv_file"]:
            raise CommandError(
                "--score-column only goes with --from-csv (database labels are good/bad)."
            )
        target: training.Target = "score" if options["score_column"] else "label"
        output = Path(options["output"]) if options["output"] else default_output(backbone_name)
        output = output.expanduser().absolute()
        if output.is_dir():
            raise CommandError(f"--output {output} is a folder; give a file name.")

        try:
            backbone = emb.get_backbone(backbone_name)
        except (ValueError, ImageRankingError) as exc:
            raise CommandError(str(exc))
        cache = emb.EmbeddingCache()

        if options["csv_file"]:
            if not options["images"]:
                raise CommandError("--from-csv needs --images DIR, the folder of its files.")
            examples = self._csv_examples(
                Path(options["csv_file"]), Path(options["images"]), options["score_column"]
            )
            source = f"csv:{Path(options['csv_file']).name}"
        else:
            examples = self._database_examples()
            source = "database"
        self._check([e.target for e in examples], target, options["min_labels"], "labelled")

        if not options["csv_file"]:
            self._fetch(examples, backbone, cache)
        features = self._encode(examples, backbone, cache, options["batch_size"])

        bad = [e for e in examples if e.problem]
        if bad:
            listed = "\n".join(f"  {e.name}: {e.problem}" for e in bad[:MAX_LISTED])
            more = f"\n  ... and {len(bad) - MAX_LISTED} more" if len(bad) > MAX_LISTED else ""
            if not options["skip_unreadable"]:
                raise CommandError(
                    f"{len(bad)} of {len(examples)} images could not be read:\n{listed}{more}\n"
                    "Fix or remove them, or pass --skip-unreadable to train without them."
                )
            self.stderr.write(f"Skipping {len(bad)} unreadable images:\n{listed}{more}")
        good = [e for e in examples if not e.problem]
        targets = [e.target for e in good]
        self._check(targets, target, options["min_labels"], "readable")
        matrix = np.stack([features[id(e)] for e in good])

        self._say(f"Cross-validating ({options['folds']} folds) on {len(good)} images...")
        try:
            scores = training.cross_validate(matrix, targets, target, folds=options["folds"])
            counts = (
                training.label_counts(targets) if target == "label" else {"scored": len(targets)}
            )
            metadata = {
                "created_at": training.now_iso(),
                "source": source,
                "score_column": options["score_column"],
                "label_counts": counts,
                "skipped_unreadable": len(bad),
                "cv_metrics": scores,
            }
            head = training.fit_head(
                matrix,
                targets,
                target,
                backbone=backbone.name,
                backbone_settings=backbone.settings,
                score_range=tuple(options["score_range"]) if options["score_range"] else None,
                metadata=metadata,
            )
            sha256 = training.save_head(head, output)
        except training.TrainingError as exc:
            raise CommandError(str(exc))
        except OSError as exc:
            raise CommandError(f"Cannot write {output}: {exc}")

        shown = ", ".join(f"{k} {v}" for k, v in scores.items() if k != "folds")
        counted = ", ".join(f"{v} {k}" for k, v in counts.items())
        self.stdout.write(
            self.style.SUCCESS(
                f"Trained a {target} head on {backbone.name} ({counted}); "
                f"cross-validated {shown}. Wrote {output} (sha256 {sha256[:12]})."
            )
        )
        self.stdout.write(
            f"To use it: IMAGE_RANKING_SCORER=learned IMAGE_RANKING_LEARNED_HEAD={output}"
        )
        weak = scores.get("auc", 1.0) < 0.6 or scores.get("spearman", 1.0) < 0.2
        if weak:
            self.stderr.write(
                self.style.WARNING(
                    "The cross-validated metrics are close to chance: this head would rank "
                    "little better than random. Label more images before using it."
                )
            )

    # ------------------------------------------------------------------ sources

    def _csv_examples(
        self, csv_path: Path, images: Path, score_column: str | None
    ) -> list[Example]:
        if not images.is_dir():
            raise CommandError(f"--images {images} is not a folder.")
        try:
            with csv_path.open(newline="", encoding="utf-8-sig") as handle:
                reader = csv.DictReader(handle)
                columns = reader.fieldnames or []
                rows = list(reader)
        except FileNotFoundError:
            raise CommandError(f"CSV file {csv_path} does not exist.")
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise CommandError(f"Cannot read CSV file {csv_path}: {exc}")
        column = score_column or "label"
        missing = [c for c in ("file", column) if c not in columns]
        if missing:
            hint = "" if score_column else " (or name a numeric column with --score-column)"
            raise CommandError(
                f"{csv_path} has no column {' or '.join(repr(m) for m in missing)}{hint}; "
                f"its columns are: {', '.join(columns) or 'none'}."
            )
        examples = []
        root = images.resolve()
        for line, row in enumerate(rows, start=2):
            name = (row.get("file") or "").strip()
            raw = (row.get(column) or "").strip()
            if not name:
                raise CommandError(f"{csv_path} line {line}: empty 'file'.")
            if score_column:
                try:
                    value: Any = float(raw)
                except ValueError:
                    raise CommandError(f"{csv_path} line {line}: {column}={raw!r} is not a number.")
            else:
                value = raw.lower()
                if value not in training.LABELS:
                    raise CommandError(
                        f"{csv_path} line {line}: label {raw!r} is not 'good' or 'bad'."
                    )
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
        return examples

    def _database_examples(self) -> list[Example]:
        from image_ranking.models import ImageTrainingData

        seen: set[str] = set()
        examples = []
        # Newest label first: when curators changed their mind, the latest label wins.
        for row in ImageTrainingData.objects.order_by("-created_at", "-id").iterator():
            url = row.thumbnail_url or row.image_url
            if url in seen:
                continue
            seen.add(url)
            examples.append(Example(name=url, target=row.image_label, url=url))
        return examples

    def _fetch(self, examples: list[Example], backbone: emb.Backbone, cache: Any) -> None:
        todo = []
        for example in examples:
            digest = cache.digest_for_url(example.url)
            if digest is None or cache.get(backbone.key, digest) is None:
                todo.append(example)
            else:
                example.data = None  # resolved from the cache in _encode
        if todo:
            self._say(
                f"Downloading {len(todo)} labelled images ({len(examples) - len(todo)} cached)..."
            )
        fetch = make_fetcher() if todo else None
        for number, example in enumerate(todo, start=1):
            try:
                example.data = fetch(example.url)
            except (ImageRankingError, OSError) as exc:
                example.problem = f"download failed ({exc})"
            if number % 25 == 0:
                self._say(f"  {number}/{len(todo)} downloaded")

    # ------------------------------------------------------------------ encoding

    def _encode(
        self, examples: list[Example], backbone: emb.Backbone, cache: Any, batch_size: int
    ) -> dict[int, np.ndarray]:
        features: dict[int, np.ndarray] = {}
        pending = []
        for example in examples:
            if example.problem:
                continue
            if example.data is None and example.url:
                digest = cache.digest_for_url(example.url)
                vector = cache.get(backbone.key, digest) if digest else None
                if vector is not None:
                    features[id(example)] = vector
                    continue
                example.problem = "no cached embedding and no image"
                continue
            pending.append(example)
        new = sum(
            1
            for e in pending
            if e.data and cache.get(backbone.key, emb.content_hash(e.data)) is None
        )
        if new:
            cached = len(features) + len(pending) - new
            self._say(f"Encoding {new} images with {backbone.name} ({cached} cached)...")

        step = max(batch_size, new // 10)
        reported = [0]

        def progress(done: int, total: int) -> None:
            # About ten progress lines however long the run.
            if total > batch_size and (done - reported[0] >= step or done == total):
                reported[0] = done
                self._say(f"  {done}/{total} encoded")

        try:
            vectors = emb.embed_bytes(
                [e.data for e in pending], backbone, cache, batch_size, progress=progress
            )
        except ImageRankingError as exc:
            raise CommandError(str(exc))
        for example, vector in zip(pending, vectors, strict=True):
            if vector is None:
                example.problem = "not a readable image"
                continue
            features[id(example)] = vector
            if example.url:
                cache.remember_url(example.url, emb.content_hash(example.data or b""))
        return features

    # ------------------------------------------------------------------ helpers

    def _check(self, targets: list[Any], target: training.Target, minimum: int, what: str) -> None:
        try:
            training.check_training_set(targets, target, min_examples=minimum)
        except training.TrainingError as exc:
            hint = ""
            if not targets:
                hint = (
                    " Label images good/bad on the review page, or bootstrap with "
                    "--from-csv FILE --images DIR."
                )
            raise CommandError(
                f"{exc}{hint}" if what == "labelled" else f"After skipping unreadable images: {exc}"
            )

    def _say(self, message: str) -> None:
        if self.verbosity >= 1:
            self.stdout.write(message)
