"""A host whose POI model names every field differently works through the POI contract.

``tests.hostapp`` (Town/Place/Issue, mapped by ``IMAGE_RANKING_POI_FIELDS``) runs in a
process of its own with its own SQLite database, against the loopback Commons replica:
migrate, ``check``, then ``rank_poi_images --all --city graz``, with ``cities`` not even
installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_host_with_other_field_names_is_ranked(commons_replica, tmp_path):
    r = commons_replica
    r.add_file("File:Clock Tower Graz.jpg", size=(2000, 1500), color=(210, 210, 200))
    r.add_file("File:Clock Tower Graz dusk.jpg", size=(2000, 1500), color=(60, 60, 60))
    r.set_search("Clock Tower", ["File:Clock Tower Graz dusk.jpg", "File:Clock Tower Graz.jpg"])
    # The Wikidata image is verified to show the POI: relevance decides before looks.
    r.set_wikidata("Q1030437", "File:Clock Tower Graz.jpg")
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'host.sqlite3'}",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "IMAGE_RANKING_COMMONS_API_URL": r.api_url,
        "IMAGE_RANKING_WIKIDATA_API_URL": r.wikidata_url,
        "IMAGE_RANKING_DOWNLOAD_HOSTS": f"127.0.0.1,{r.thumb_host}",
        "IMAGE_RANKING_RATE_LIMIT_PER_HOUR": "3600000",
        "IMAGE_RANKING_RATE_LIMIT_BURST": "1000",
        "IMAGE_RANKING_SCORER": "test-brightness",
        "IMAGE_RANKING_SCORE_THRESHOLD": "2",
        "IMAGE_RANKING_USER_AGENT": "image_ranking-tests/0.1 (nobody@example.org)",
        "IMAGE_RANKING_CACHE_DIR": str(tmp_path / "cache"),
        "HF_HUB_OFFLINE": "1",
    }
    done = subprocess.run(
        [sys.executable, "-m", "tests.hostapp.run_rank"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["cities_imported"] is False
    assert result["photos"]["Clock Tower"].startswith("places/")
    assert result["photos"]["Nowhere Cafe"] == ""
    assert result["selected"] == ["File:Clock Tower Graz.jpg"]  # verified, and brighter
    [(poi, description)] = result["issues"]
    assert poi == "Nowhere Cafe"
    assert "Graz" in description  # the city name, read through town__label
