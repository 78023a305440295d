"""Retrain the learned ranker when enough new labels arrived, preview, leave for review.

    manage.py retrain_ranker [--min-new-labels 20] [--city SLUG] [--activate] [--user NAME]

The work is ``image_ranking.learning.retrain`` (also run by the Prefect flow
``workflow/retrain.py``). A head whose cross-validated figure is below its prior's is
never activated. Exit status 0 also when nothing was due (it says so).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from image_ranking.exceptions import ImageRankingError
from image_ranking.learning import retrain
from image_ranking.management.commands.heads import city_pois
from image_ranking.priors import PRIOR_BACKBONE
from image_ranking.scoring import embeddings as emb


class Command(BaseCommand):
    help = "Retrain the learned head if enough new labels arrived; preview its changes."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--min-new-labels", type=int, default=retrain.MIN_NEW_LABELS)
        parser.add_argument("--city", help="Preview this city's POIs only (slug).")
        parser.add_argument("--backbone", default=PRIOR_BACKBONE,
                            choices=emb.available_backbones())  # fmt: skip
        parser.add_argument(
            "--activate",
            action="store_true",
            help="Also activate the new head (never one below its prior).",
        )
        parser.add_argument("--user", help="Username recorded as who trained it.")

    def handle(self, *args: Any, **options: Any) -> None:
        from image_ranking.management.commands.heads import Command as Heads

        user = Heads()._user(options["user"])
        try:
            outcome = retrain.retrain(
                pois=city_pois(options["city"]),
                min_new_labels=options["min_new_labels"],
                backbone=options["backbone"],
                activate=options["activate"],
                user=user,
                say=self.stdout.write,
            )
        except (ValueError, ImageRankingError) as exc:
            raise CommandError(str(exc))
        self.stdout.write(f"{outcome.status}: {outcome.message}")
