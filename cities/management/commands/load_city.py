"""``manage.py load_city FILE.json``: load a city with its POIs and lists."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from cities.loader import CityDataError, load_city_file


class Command(BaseCommand):
    help = (
        "Load a city, its points of interest and lists from a JSON file. Loading the same "
        "file again changes nothing; a bad file loads nothing."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help="Path to the city JSON file (see cities/data/).")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = load_city_file(options["file"])
        except CityDataError as exc:
            raise CommandError(f"{exc} Nothing was loaded.")
        self.stdout.write(
            self.style.SUCCESS(
                f"Loaded {result.city.name} ({result.city.slug}): "
                f"{result.created_pois} POIs created, {result.updated_pois} updated, "
                f"{result.unchanged_pois} unchanged; {result.lists} lists."
            )
        )
