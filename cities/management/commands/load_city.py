"""``manage.py load_city FILE.json``: load a city with its POIs and lists."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cities.loader import CHUNK_SIZE, CityDataError, CityLoadInterrupted, load_city_file


class Command(BaseCommand):
    help = (
        "Load a city, its points of interest and lists from a JSON file. Loading the same "
        "file again changes nothing; a bad file loads nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="Path to the city JSON file (see cities/data/).")
        parser.add_argument(
            "--chunk-size",
            type=int,
            default=CHUNK_SIZE,
            help=f"POIs written per transaction (default {CHUNK_SIZE}); small transactions "
            "let a ranking run write to the database while a large city loads.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["chunk_size"] < 1:
            raise CommandError("--chunk-size must be at least 1.")
        verbosity = options["verbosity"]

        def progress(done: int, total: int) -> None:
            if verbosity >= 2:
                self.stderr.write(f"Saved {done}/{total} POIs.")

        try:
            result = load_city_file(
                options["file"], chunk_size=options["chunk_size"], progress=progress
            )
        except CityDataError as exc:
            raise CommandError(f"{exc} Nothing was loaded.")
        except CityLoadInterrupted as exc:
            raise CommandError(str(exc))
        self.stdout.write(
            self.style.SUCCESS(
                f"Loaded {result.city.name} ({result.city.slug}): "
                f"{result.created_pois} POIs created, {result.updated_pois} updated, "
                f"{result.unchanged_pois} unchanged; {result.lists} lists."
            )
        )
