"""The ``import_city`` flow under Prefect's engine (a temporary local server).

Flow runs are slow-ish (the server starts once per session, about 10 s), so this
module keeps to a few runs that each check a lot.
"""

from __future__ import annotations

import json
from uuid import UUID

import pytest

from cities.models import PoiList, PointOfInterest
from image_ranking import scoring
from image_ranking.commons import client as wikimedia
from image_ranking.models import RankingState
from image_ranking.run_options import RunOptions
from tests.image_ranking.ranking_helpers import BrightnessScorer, ReplicaClients, add_photo, grey
from workflow.city_import import import_city

pytestmark = [pytest.mark.prefect, pytest.mark.django_db(transaction=True)]

# 1 m of latitude in degrees.
M = 1 / 111_195

LISTED = ["Arc de Triomphe", "Louvre", "Notre-Dame", "Panthéon", "Sainte-Chapelle"]


def paris_doc() -> dict:
    pois = [
        {"name": "Eiffel Tower", "category": "see", "latitude": 48.8584, "longitude": 2.2945},
        {
            "name": "The Eiffel Tower",
            "category": "see",
            "latitude": round(48.8584 + 20 * M, 6),
            "longitude": 2.2945,
            "wikidata_id": "Q243",
        },
        *({"name": n, "category": "see"} for n in LISTED),
        {"name": "Unlisted Café", "category": "eat"},
    ]
    return {
        "city": {"name": "Paris", "slug": "paris", "country": "France"},
        "pois": pois,
        "lists": [
            {"name": "Landmarks", "pois": ["Eiffel Tower", *LISTED[:3]]},
            {"name": "Views", "pois": ["The Eiffel Tower", *LISTED[3:]]},
        ],
    }


@pytest.fixture
def commons(monkeypatch, commons_settings):
    """The loopback replica (returned, to script), reached by real clients whose retries
    do not wait; the brightness scorer."""
    replica = commons_settings
    scorer = BrightnessScorer()
    monkeypatch.setattr(wikimedia, "CommonsClient", ReplicaClients(), raising=False)
    monkeypatch.setattr(scoring, "get_scorer", lambda name=None: scorer, raising=False)
    for name in [*LISTED, "Eiffel Tower", "The Eiffel Tower", "Unlisted Café"]:
        add_photo(replica, f"File:{name}.jpg", grey(210))
        replica.set_search(name, [f"File:{name}.jpg"])
    replica.failing_searches.add("Notre-Dame")
    return replica


def flow_logs(flow_run_id: UUID) -> list[str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=30)  # logs reach the server in batches
    with get_client(sync_client=True) as client:
        logs = client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])),
            limit=200,
            offset=0,
        )
    return [log.message for log in logs]


def test_the_flow_imports_merges_and_ranks_a_city(prefect_server, commons):
    ranking = RunOptions(batch_size=2, threshold=1.0)
    state = import_city(source=paris_doc(), ranking=ranking, return_state=True)

    assert state.is_completed(), state.message
    result = state.result()
    json.dumps(result)  # JSON-compatible: a deployment's result can be stored
    assert set(result) == {"city", "load", "merge", "image_ranking"}
    assert result["city"] == "paris"
    assert result["load"]["created_pois"] == 8
    assert (result["merge"]["merged"], result["merge"]["uncertain"]) == (1, 0)

    # The duplicates became one POI that is in both lists.
    eiffel = PointOfInterest.objects.get(name__icontains="eiffel")
    assert eiffel.wikidata_id == "Q243"
    assert sorted(eiffel.lists.values_list("name", flat=True)) == ["Landmarks", "Views"]
    assert PoiList.objects.get(name="Landmarks").pois.count() == 4

    # Only POIs in lists were ranked; a failing POI was counted, not fatal.
    ranking = result["image_ranking"]
    assert ranking["status"] == "success"
    assert (
        ranking["processed_count"],
        ranking["updated_count"],
        ranking["failed_count"],
        ranking["no_image_count"],
    ) == (6, 5, 1, 0)
    assert not PointOfInterest.objects.get(name="Unlisted Café").image_file
    assert not RankingState.objects.filter(poi__name="Unlisted Café").exists()
    assert PointOfInterest.objects.exclude(image_file="").count() == 5
    assert RankingState.objects.get(poi__name="Notre-Dame").outcome == "failed"

    # The batch size reached the command: one progress line per 2 POIs, in Prefect's log.
    messages = flow_logs(state.state_details.flow_run_id)
    progress = [m.split()[1] for m in messages if m.startswith("Processed ") and "POIs (" in m]
    assert progress == ["2/6", "4/6", "6/6"]
    assert any("Merged 'Eiffel Tower'" in m for m in messages)
    assert any("Notre-Dame" in m and "failed" in m.lower() for m in messages)


def test_bad_city_data_fails_the_flow_and_loads_nothing(prefect_server, commons, tmp_path):
    bad = tmp_path / "paris.json"
    doc = paris_doc()
    doc["pois"][2]["category"] = "museum"
    bad.write_text(json.dumps(doc), encoding="utf-8")

    state = import_city(source=str(bad), return_state=True)

    assert state.is_failed()
    assert "paris.json: pois[2] ('Arc de Triomphe'): category" in state.message
    assert not PointOfInterest.objects.exists()


@pytest.mark.django_db(transaction=False)
def test_the_command_line_runs_the_flow_in_ephemeral_mode(tmp_path):
    """``python -m workflow.city_import FILE`` needs no server: Prefect starts its own."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    home = tmp_path / "prefect"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "PREFECT_HOME": str(home),
        "PREFECT_PROFILES_PATH": str(home / "profiles.toml"),
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home / 'prefect.db'}",
    }
    env.pop("PREFECT_API_URL", None)  # the harness's server is not the CLI's business
    env.pop("DJANGO_SETTINGS_MODULE", None)

    def run(*args):
        return subprocess.run(
            [sys.executable, *args], cwd=repo, env=env, capture_output=True, text=True, timeout=240
        )

    migrated = run("manage.py", "migrate", "-v0")
    assert migrated.returncode == 0, migrated.stderr[-2000:]
    sample = repo / "cities" / "data" / "paris.json"
    done = run("-m", "workflow.city_import", str(sample), "--no-rank")

    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["city"] == "paris" and result["image_ranking"] is None
    assert result["load"]["created_pois"] > 20
    assert "Starting temporary server" in done.stderr
    assert "Finished in state Completed()" in done.stderr
    assert (home / "prefect.db").exists()  # its own home, not ~/.prefect


def test_the_flow_ranks_through_the_real_client_on_the_loopback_replica(
    prefect_server, commons_settings, monkeypatch, settings
):
    """No doubles for Commons here: the real client, HTTP to the replica, real JPEGs."""
    replica = commons_settings
    settings.IMAGE_RANKING_MAX_RETRIES = 0
    scorer = BrightnessScorer()
    monkeypatch.setattr(scoring, "get_scorer", lambda name=None: scorer, raising=False)
    for name in [*LISTED, "Eiffel Tower", "The Eiffel Tower"]:
        replica.add_file(f"File:{name} photo.jpg", size=(2400, 1800), color=(210, 200, 190))
        replica.add_file(f"File:{name} map.png", size=(2000, 1500), mime="image/png")
        replica.set_search(name, [f"File:{name} map.png", f"File:{name} photo.jpg"])
    replica.set_wikidata("Q243", "File:Eiffel Tower photo.jpg")
    original = replica.api
    replica.api = lambda p: (500, {}, {}) if p.get("gsrsearch") == "Notre-Dame" else original(p)

    state = import_city(source=paris_doc(), ranking=RunOptions(threshold=1.0), return_state=True)

    assert state.is_completed(), state.message
    ranking = state.result()["image_ranking"]
    assert (ranking["processed_count"], ranking["updated_count"], ranking["failed_count"]) == (
        6,
        5,
        1,
    )
    assert ranking["request_count"] == len(replica.requests)
    assert not any("map" in path for path in replica.download_requests)
    for poi in PointOfInterest.objects.exclude(image_file=""):
        assert poi.image_file.width <= 800 and poi.image_file.height <= 600
    assert RankingState.objects.get(poi__name="Notre-Dame").outcome == "failed"


def test_an_outage_fails_the_flow(prefect_server, commons):
    """Every listed POI fails because Commons cannot be queried: the flow run fails."""
    commons.failing_searches.update([*LISTED, "Eiffel Tower", "The Eiffel Tower"])

    state = import_city(source=paris_doc(), ranking=RunOptions(threshold=1.0), return_state=True)

    assert state.is_failed()
    assert "Commons could not be queried" in state.message
    # The run stops after OUTAGE_STREAK failures in a row instead of trying all 6 POIs.
    from image_ranking.runs import OUTAGE_STREAK

    assert RankingState.objects.filter(outcome="failed").count() == OUTAGE_STREAK == 5
    assert not PointOfInterest.objects.exclude(image_file="").exists()


def test_the_server_answers_its_own_clients_defaults(prefect_server):
    """The fastapi the prefect extra pins works with Prefect's server: its client sends
    nulls (sort, limit) that fastapi 0.151-0.154 refused with 422."""
    import tomllib
    from importlib.metadata import requires, version
    from pathlib import Path

    from packaging.requirements import Requirement
    from prefect.client.orchestration import get_client

    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    extra = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    pins = {Requirement(r).name: Requirement(r) for r in extra["optional-dependencies"]["prefect"]}
    assert version("fastapi") in pins["fastapi"].specifier  # what is installed is what we pin
    assert version("prefect") in pins["prefect"].specifier
    assert any(r.startswith("fastapi") for r in requires("prefect"))  # the server needs it
    with get_client(sync_client=True) as client:
        assert isinstance(client.read_flow_runs(), list)
        assert isinstance(client.read_deployments(), list)
