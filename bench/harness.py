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


def margin_option() -> None:
    """``--margin M``: how much better a file left undownloaded may be (``promise.MARGIN``),
    to measure the trade between requests and picks."""
    import argparse

    from image_ranking.pipeline import promise

    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--margin", type=float, default=None)
    args, rest = parser.parse_known_args()
    sys.argv[1:] = rest
    if args.margin is not None:
        promise.MARGIN = args.margin
    print(f"promise.MARGIN = {promise.MARGIN:g}")


def request_kinds(requests: list[tuple[str, dict[str, str]]]) -> dict[str, int]:
    """The replica's requests by kind: each search plan, file titles (P18), Wikidata
    items, thumbnail downloads; what batching across POIs could share."""
    from collections import Counter

    kinds: Counter[str] = Counter()
    for path, params in requests:
        search = params.get("gsrsearch", "")
        if "wbgetentities" in params.get("action", ""):
            kinds["wikidata items (50 per request)"] += 1
        elif "incategory:" in search:
            kinds["search: category"] += 1
        elif "haswbstatement:" in search:
            kinds["search: depicts"] += 1
        elif "nearcoord:" in search:
            kinds["search: name near"] += 1
        elif search:
            kinds["search: name"] += 1
        elif params.get("titles"):
            kinds["file titles (P18, 50 per request)"] += 1
        elif params.get("generator"):
            kinds[f"generator {params['generator']}"] += 1
        elif "/api.php" not in path:
            kinds["thumbnail downloads"] += 1
        else:
            kinds["other API"] += 1
    return dict(sorted(kinds.items()))
