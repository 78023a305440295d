"""``manage.py prune_embedding_cache``: delete cached vectors no backbone can use any more.

A new prior, new weights or new preprocessing changes a backbone's cache key, and the
vectors under the old key are never read again. See ``EmbeddingCache.stale_folders``.
"""

from __future__ import annotations

import shutil
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from image_ranking.scoring import embeddings as emb


class Command(BaseCommand):
    help = (
        "Delete the embedding cache's folders for backbone versions this code no longer "
        "computes (old weights or preprocessing). Labels, heads and images are untouched."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="List the stale folders; delete nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        cache = emb.EmbeddingCache()
        try:
            current = emb.current_keys()
        except emb.BackboneUnavailable as exc:
            # Without every current key a live folder could look stale: delete nothing.
            raise CommandError(f"Cannot tell which cached vectors are current: {exc}") from exc
        stale = cache.stale_folders(current)
        freed = 0
        for folder in stale:
            freed += sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
            if not options["dry_run"]:
                shutil.rmtree(folder)
            self.stdout.write(folder.name)
        verb = "Would delete" if options["dry_run"] else "Deleted"
        self.stdout.write(
            self.style.SUCCESS(
                f"{verb} {len(stale)} stale folder(s) ({freed} bytes) under {cache.root}/; "
                f"kept the vectors of {len(current)} current backbone versions."
            )
        )
