"""Train the learned ranker's head from curators' labels (or an external labelled set).

    manage.py train_ranker                                  # labels + preferences in the DB
    manage.py train_ranker --from-csv labels.csv --images photos/ --score-column mos
    manage.py train_ranker --backbone laion-vit-b-32 --output /srv/heads/clip.json

A head trained on the database's labels is registered (``manage.py heads``) to be
previewed and activated; a CSV-trained one with ``manage.py heads register FILE``.
Labels adapt the prior of the backbone (the bundled quality prior, or the LAION head on a
CLIP backbone) and the prior's and the adapted head's cross-validated figures are printed
side by side; a head worse than the prior is not saved unless --force. The work is done by
``image_ranking.learning.trainer``; this command parses arguments and prints. Writes one
JSON head file (temp file + os.replace: an old head is only replaced by a complete one).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from image_ranking.conf import conf
from image_ranking.exceptions import ImageRankingError
from image_ranking.learning import examples as training_data
from image_ranking.learning import trainer
from image_ranking.priors import PRIOR_BACKBONE
from image_ranking.scoring import embeddings as emb


def make_fetcher() -> Callable[[str], bytes]:
    """Download function for labelled images (``trainer.make_fetcher``: the thumbnail cache,
    else one Commons client for the whole run); tests inject a fake here."""
    return trainer.make_fetcher()


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
            default=PRIOR_BACKBONE,
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
        parser.add_argument(
            "--prior",
            default="auto",
            metavar="auto|none|FILE",
            help="What labels adapt: 'auto' (the bundled quality prior, or the LAION head on a "
            "CLIP backbone, when present), 'none' (labels alone), or a head file.",
        )
        parser.add_argument(
            "--user", help="Username recorded as who trained the head (label heads are registered)."
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Save the head even if it ranks the labelled images worse than the prior.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.verbosity = options["verbosity"]
        self._check_arguments(options)
        output = (
            Path(options["output"]) if options["output"] else default_output(options["backbone"])
        )
        output = output.expanduser().absolute()
        if output.is_dir():
            raise CommandError(f"--output {output} is a folder; give a file name.")
        settings = trainer.TrainingOptions(
            output=output,
            folds=options["folds"],
            min_labels=options["min_labels"],
            skip_unreadable=options["skip_unreadable"],
            batch_size=options["batch_size"],
            score_range=tuple(options["score_range"]) if options["score_range"] else None,
            prior=options["prior"],
            force=options["force"],
            score_column=options["score_column"],
        )
        try:
            backbone = emb.get_backbone(options["backbone"])
            if options["csv_file"]:
                data = training_data.read_csv(
                    Path(options["csv_file"]), Path(options["images"]), options["score_column"]
                )
            else:
                data = training_data.read_database()
            report = trainer.train(data, backbone, settings, make_fetcher, self._say)
        except (ValueError, ImageRankingError) as exc:
            raise CommandError(str(exc))
        if report.skipped:
            self.stderr.write(
                f"Skipping {len(report.skipped)} unreadable images:\n"
                f"{trainer.listing(report.skipped)}"
            )
        self._print_report(report, data.target, backbone.name)
        if data.source == "database":  # a CSV bootstrap: 'manage.py heads register FILE'
            self._register(report, options.get("user"))

    def _check_arguments(self, options: dict[str, Any]) -> None:
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
        if options["csv_file"] and not options["images"]:
            raise CommandError("--from-csv needs --images DIR, the folder of its files.")
        prior = options["prior"]
        # Before any download or encoding: a mistyped prior should not cost a long run.
        if prior not in ("auto", "none") and not Path(prior).expanduser().is_file():
            raise CommandError(f"--prior {prior} does not exist (give a head file, auto or none).")

    def _print_report(self, report: trainer.TrainingReport, target: str, backbone: str) -> None:
        if report.prior_concordance is not None:
            self.stdout.write(
                f"Cross-validated concordance with the curators' labels"
                f"{f' and {report.pairs} preferences' if report.pairs else ''}: "
                f"prior {report.prior_concordance:.3f} | new head {report.head_concordance:.3f}"
                f"  (prior: {report.prior_name})"
            )
        if report.leanings:
            said = ", ".join(
                f"{'more' if weight > 0 else 'less'} {name} ({weight:+.2f})"
                for name, weight in report.leanings[:4]
            )
            self.stdout.write(
                f"Beyond the prior's quality, the labels favour: {said}"
                "  (weight per standard deviation, the prior's = 1)"
            )
        shown = ", ".join(f"{k} {v}" for k, v in report.cv.items() if k != "folds")
        counted = ", ".join(f"{v} {k}" for k, v in report.counts.items())
        self.stdout.write(
            self.style.SUCCESS(
                f"Trained a {target} head on {backbone} ({counted}); "
                f"cross-validated {shown}. Wrote {report.output} (sha256 {report.sha256[:12]})."
            )
        )
        self.stdout.write(
            f"To use it: IMAGE_RANKING_SCORER=learned IMAGE_RANKING_LEARNED_HEAD={report.output}"
        )
        weak = report.cv.get("auc", 1.0) < 0.6 or report.cv.get("spearman", 1.0) < 0.2
        if weak:
            self.stderr.write(
                self.style.WARNING(
                    "The cross-validated metrics are close to chance: this head would rank "
                    "little better than random. Label more images before using it."
                )
            )

    def _register(self, report: trainer.TrainingReport, username: str | None) -> None:
        """Record the head (``LearnedHead``) so it can be previewed and activated."""
        from django.contrib.auth import get_user_model

        from image_ranking.learning import heads

        user = None
        if username:
            user = get_user_model()._default_manager.filter(**{
                get_user_model().USERNAME_FIELD: username
            }).first()  # fmt: skip
        head = heads.register(report.output, user=user)
        self.stdout.write(
            f"Registered as head {head.pk}: see what it would change with "
            f"'manage.py heads preview {head.pk}', use it with 'manage.py heads activate "
            f"{head.pk}' (no restart)."
        )

    def _say(self, message: str) -> None:
        if self.verbosity >= 1:
            self.stdout.write(message)
