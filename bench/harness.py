"""What every replica benchmark sets up: a temporary database and media folder, Django,
and the app pointed at the loopback Commons replica with a stand-in scorer.

Call ``setup()`` before importing anything that needs Django settings.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def setup(prefix: str) -> Path:
    """A fresh work folder for the database and media; Django set up on it."""
    sys.path.insert(0, str(REPO))
    work = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ["DATABASE_URL"] = f"sqlite:///{work / 'bench.sqlite3'}"
    os.environ["MEDIA_ROOT"] = str(work / "media")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["IMAGE_RANKING_USER_AGENT"] = "image_ranking-bench/0.1 (bench; nobody@example.org)"
    import django

    django.setup()
    return work


def point_at(replica: Any, scorer: Any) -> None:
    """The app talks to ``replica`` only, counts requests without waiting, scores with
    ``scorer``; the database is migrated."""
    from django.conf import settings
    from django.core.management import call_command

    from image_ranking import scoring

    settings.IMAGE_RANKING_COMMONS_API_URL = replica.api_url
    settings.IMAGE_RANKING_WIKIDATA_API_URL = replica.wikidata_url
    # The API host and the thumbnail host, as the default list has both Wikimedia hosts.
    settings.IMAGE_RANKING_DOWNLOAD_HOSTS = ["127.0.0.1", replica.thumb_host]
    settings.IMAGE_RANKING_RATE_LIMIT_PER_HOUR = 10_000_000.0  # count requests, not hours
    settings.IMAGE_RANKING_RATE_LIMIT_BURST = 10_000
    scoring.get_scorer = lambda name=None: scorer
    call_command("migrate", verbosity=0)
